"""QR codes for printed vouchers: scanning one opens the captive portal with the code filled in."""

from __future__ import annotations

from urllib.parse import urlencode

import segno


def voucher_url(public_url: str, tenant_slug: str, code: str) -> str:
    """Return the captive-portal address a voucher's QR code opens."""
    return f"{public_url.rstrip('/')}/portal/{tenant_slug}?{urlencode({'voucher': code})}"


def qr_svg(url: str) -> str:
    """Return an inline SVG QR code for a URL (medium error correction)."""
    # A fixed mask skips segno's mask scoring (~60% of the time per code); any mask is a
    # valid QR code for every reader.
    qr = segno.make(url, error="m", micro=False, mask=0, boost_error=False)
    return str(qr.svg_inline(scale=2, border=2))
