"""Password hashing (scrypt with a per-password salt) and sealing passwords for jobs."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from cryptography.fernet import Fernet, InvalidToken

SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
KEY_BYTES = 32
# A hash never made by this module (verify_password of a missing user runs
# against it so a wrong name costs the same time as a wrong password).
_DUMMY_SALT = b"hotspotd-dummy-salt"


class SealError(Exception):
    """A sealed password is corrupt, forged or too old."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    # maxmem: 128 * r * n bytes plus slack; OpenSSL's default 32 MiB is too low for n=2**15.
    return hashlib.scrypt(
        password.encode("utf-8"),
        salt=salt,
        n=n,
        r=r,
        p=p,
        maxmem=256 * r * n + 2**20,
        dklen=KEY_BYTES,
    )


def hash_password(password: str, *, n: int = 16384) -> str:
    """Return 'scrypt$n$r$p$salt$key' for a password (CPU-heavy: run it in a thread)."""
    salt = secrets.token_bytes(SALT_BYTES)
    key = _scrypt(password, salt, n, SCRYPT_R, SCRYPT_P)
    return f"scrypt${n}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, encoded: str | None, *, n: int = 16384) -> bool:
    """Check a password against a stored hash in constant time; None compares to a dummy."""
    if encoded is None:
        _scrypt(password, _DUMMY_SALT, n, SCRYPT_R, SCRYPT_P)
        return False
    try:
        scheme, n_s, r_s, p_s, salt_b64, key_b64 = encoded.split("$")
        if scheme != "scrypt":
            return False
        salt = base64.b64decode(salt_b64)
        expected = base64.b64decode(key_b64)
        key = _scrypt(password, salt, int(n_s), int(r_s), int(p_s))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(key, expected)


def _fernet(secret: str) -> Fernet:
    digest = hashlib.sha256(b"hotspotd-password-seal\x00" + secret.encode("utf-8")).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def seal_password(password: str, secret: str) -> str:
    """Encrypt a password for a job's arguments, so Redis and the jobs table never hold it."""
    return _fernet(secret).encrypt(password.encode("utf-8")).decode("ascii")


def unseal_password(sealed: str, secret: str, *, max_age_s: int) -> str:
    """Decrypt a sealed password; raise SealError when forged or older than max_age_s."""
    try:
        return _fernet(secret).decrypt(sealed.encode("ascii"), ttl=max_age_s).decode("utf-8")
    except (InvalidToken, UnicodeError, ValueError) as exc:
        raise SealError("the sealed password is invalid or expired") from exc
