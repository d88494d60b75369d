"""Receipts of charging sessions: what was delivered, what it cost, how it was paid.

:class:`Receipt` is built once, when a session ends, from the session's
:class:`~ems.tariffs.CostBreakdown` and the payment (:func:`build_receipt`), stored as JSON and
rendered on demand as HTML (:func:`render_html`) and PDF (:func:`render_pdf`, fpdf2), so the two
always show the same figures.
"""

from ems.receipts.model import Receipt, ReceiptLine, build_receipt
from ems.receipts.render import render_html, render_pdf

__all__ = ["Receipt", "ReceiptLine", "build_receipt", "render_html", "render_pdf"]
