"""The quote as a PDF (WeasyPrint), with the acceptance evidence once signed."""

from __future__ import annotations

from typing import Any

from flask import render_template


def available() -> bool:
    """WeasyPrint needs system libraries (pango); without them there is no PDF."""
    try:
        import weasyprint  # noqa: F401
    except (ImportError, OSError):
        return False
    return True


def render_quote_pdf(context: dict[str, Any], base_url: str) -> bytes:
    """`templates/quotes/pdf.html` rendered with `context`, as PDF bytes."""
    import weasyprint

    html = render_template("quotes/pdf.html", **context)
    return weasyprint.HTML(string=html, base_url=base_url).write_pdf()
