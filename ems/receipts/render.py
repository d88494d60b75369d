"""A receipt as an HTML fragment (for the driver's page) and as a one-page PDF (fpdf2).

Times are shown in UTC with the zone named; the PDF uses fpdf2's built-in Helvetica, which
covers Latin-1 only, so other characters (in a site's name, say) are replaced by ``?``.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path

from fpdf import FPDF
from jinja2 import Environment, FileSystemLoader, select_autoescape

from ems.receipts.model import Receipt

_ENV = Environment(
    loader=FileSystemLoader(Path(__file__).resolve().parent / "templates"),
    autoescape=select_autoescape(["html"]),
)


def _time(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC")


def _duration(seconds: float) -> str:
    minutes = round(seconds / 60)
    return f"{minutes // 60} h {minutes % 60:02d} min"


def _percent(rate: Decimal) -> str:
    return f"{(rate * 100).normalize():f} %"


def render_html(receipt: Receipt) -> str:
    """The receipt as an HTML ``<section>`` (every value escaped)."""
    template = _ENV.get_template("receipt.html")
    return template.render(r=receipt, time=_time, duration=_duration, percent=_percent)


def _latin1(text: str) -> str:
    return text.encode("latin-1", "replace").decode("latin-1")


def render_pdf(receipt: Receipt) -> bytes:
    """The receipt as an A4 PDF document."""
    pdf = FPDF(format="A4")
    pdf.set_title(_latin1(f"Receipt {receipt.number}"))
    pdf.set_creator("ems")
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 10, _latin1(f"Receipt {receipt.number}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    pdf.cell(0, 6, _latin1(f"{receipt.operator} - {receipt.site_name}"), new_x="LMARGIN",
             new_y="NEXT")  # fmt: skip
    pdf.ln(3)
    facts = [
        ("Charger", f"{receipt.charge_point_id} / {receipt.evse_id}"),
        ("Transaction", receipt.transaction_id),
        ("Started", _time(receipt.started_at)),
        ("Ended", _time(receipt.ended_at)),
        ("Duration", _duration(receipt.duration_s)),
        ("Energy", f"{receipt.energy_kwh} kWh"),
        ("Tariff", receipt.tariff_name),
    ]
    for label, value in facts:
        pdf.cell(40, 6, label)
        pdf.cell(0, 6, _latin1(value), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    widths = (80, 40, 30, 40)
    pdf.set_font("Helvetica", "B", 10)
    for width, title in zip(widths, ("Item", "Quantity", "Unit price", "Amount"), strict=True):
        pdf.cell(width, 7, title, border="B")
    pdf.ln()
    pdf.set_font("Helvetica", "", 10)
    for line in receipt.lines:
        cells = (line.label, f"{line.quantity} {line.unit}", str(line.unit_price),
                 f"{line.amount} {receipt.currency}")  # fmt: skip
        for width, text in zip(widths, cells, strict=True):
            pdf.cell(width, 6, _latin1(text))
        pdf.ln()
    pdf.ln(2)
    totals = [
        ("Subtotal", receipt.subtotal),
        (f"Tax ({_percent(receipt.tax_rate)})", receipt.tax),
        ("Total", receipt.total),
        (f"Paid ({receipt.payment_method})", receipt.paid),
    ]
    if receipt.outstanding > 0:
        totals.append(("Outstanding", receipt.outstanding))
    for label, amount in totals:
        pdf.set_font("Helvetica", "B" if label == "Total" else "", 10)
        pdf.cell(150, 6, _latin1(label))
        pdf.cell(40, 6, f"{amount} {receipt.currency}", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font("Helvetica", "", 8)
    issued = f"Issued {_time(receipt.issued_at)}"
    if receipt.payment_id:
        issued += f" - payment {receipt.payment_id}"
    pdf.cell(0, 5, _latin1(issued))
    return bytes(pdf.output())
