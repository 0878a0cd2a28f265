"""TLS contexts for the simulated api-ssl service (anonymous DH, as RouterOS without a cert)."""

from __future__ import annotations

import os
import ssl
import tempfile
from pathlib import Path

# RFC 7919 ffdhe2048: a published group, so no slow safe-prime generation at start-up.
FFDHE2048_PEM = b"""-----BEGIN DH PARAMETERS-----
MIIBCAKCAQEA//////////+t+FRYortKmq/cViAnPTzx2LnFg84tNpWp4TZBFGQz
+8yTnc4kmz75fS/jY2MMddj2gbICrsRhetPfHtXV/WVhJDP1H18GbtCFY2VVPe0a
87VXE15/V8k1mE8McODmi3fipona8+/och3xWKE2rec1MKzKT0g6eXq8CrGCsyT7
YdEIqUuyyOP7uWrat2DX9GgdT0Kj3jlN9K5W7edjcrsZCwenyO4KbXCeAvzhzffi
7MA0BM0oNC9hkXL+nOmFg/+OTxIy7vKBg8P+OxtMb61zO7X8vC7CIAXFjvGDfRaD
ssbzSibBsu/6iGtCOGEoXJf//////////wIBAg==
-----END DH PARAMETERS-----
"""

ANONYMOUS_CIPHERS = "ADH:@SECLEVEL=0"


def anonymous_server_context() -> ssl.SSLContext:
    """Return a server context offering only anonymous DH (api-ssl with certificate=none)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    # Anonymous suites do not exist in TLS 1.3.
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers(ANONYMOUS_CIPHERS)
    fd, name = tempfile.mkstemp(suffix=".pem")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(FFDHE2048_PEM)
        ctx.load_dh_params(name)
    finally:
        os.unlink(name)
    return ctx


def certificate_server_context(cert_path: Path | str, key_path: Path | str) -> ssl.SSLContext:
    """Return a server context for api-ssl with a certificate (ordinary TLS)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert_path, key_path)
    return ctx


def anonymous_client_context() -> ssl.SSLContext:
    """Return a client context that can talk to an anonymous-DH api-ssl (no verification)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers(ANONYMOUS_CIPHERS)
    return ctx
