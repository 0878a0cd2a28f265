"""Router API passwords at rest: Fernet with the key from ``routers.credentials_key``."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken

from hotspotd.settings import Settings


class CredentialsError(Exception):
    """The credentials key is missing or invalid, or a stored password cannot be decrypted."""


def _fernet(settings: Settings) -> Fernet:
    key = settings.routers.credentials_key.get_secret_value().strip()
    if not key:
        raise CredentialsError(
            "routers.credentials_key is not set: generate one with"
            ' `python -c "from cryptography.fernet import Fernet;'
            ' print(Fernet.generate_key().decode())"`'
        )
    try:
        return Fernet(key.encode())
    except (ValueError, TypeError):
        raise CredentialsError(
            "routers.credentials_key is not a valid Fernet key (32 url-safe base64-encoded bytes)"
        ) from None


def check_key(settings: Settings) -> None:
    """Raise CredentialsError unless the settings hold a usable key."""
    _fernet(settings)


def encrypt_password(settings: Settings, password: str) -> str:
    """Return the password encrypted for the routers table."""
    return _fernet(settings).encrypt(password.encode()).decode("ascii")


def decrypt_password(settings: Settings, token: str) -> str:
    """Return a stored router password in clear; CredentialsError if the key does not fit."""
    try:
        return _fernet(settings).decrypt(token.encode("ascii")).decode()
    except InvalidToken:
        raise CredentialsError(
            "a stored router password cannot be decrypted: routers.credentials_key changed?"
        ) from None
