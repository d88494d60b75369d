"""QR codes of connector links, as SVG and PNG (segno)."""

from __future__ import annotations

import io

import segno

#: Error correction "Q" (25 %): a sticker may get dirty or scratched and still scan.
ERROR = "q"


def qr_svg(url: str, scale: int = 4) -> bytes:
    """The QR code of ``url`` as a standalone SVG document, with its quiet zone."""
    out = io.BytesIO()
    segno.make(url, error=ERROR).save(out, kind="svg", scale=scale, xmldecl=False, title=url)
    return out.getvalue()


def qr_png(url: str, scale: int = 8) -> bytes:
    """The QR code of ``url`` as PNG (``scale`` pixels per module)."""
    out = io.BytesIO()
    segno.make(url, error=ERROR).save(out, kind="png", scale=scale)
    return out.getvalue()
