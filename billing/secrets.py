"""Encryption at rest for Stripe keys: Fernet (AES-128-CBC + HMAC), rotatable.

Keys come from configuration, newest first. Decryption tries every key;
encryption uses the newest; `rotate` re-encrypts with the newest. `cryptography`
is imported with the first box (a command that reads no Stripe key never does).
"""

from __future__ import annotations

import base64
import hashlib


class SecretDecryptionError(Exception):
    """No configured key decrypts this value (a key was removed too early)."""


def derive_key(secret: str) -> str:
    """A Fernet key derived from SECRET_KEY, for installs that set no ENCRYPTION_KEYS."""
    digest = hashlib.sha256(b"acompte-secret-box:" + secret.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()


class SecretBox:
    """Encrypts and decrypts short secrets with a rotatable list of keys."""

    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ValueError("at least one encryption key is required")
        from cryptography.fernet import Fernet, MultiFernet

        self._fernet = MultiFernet([Fernet(k.encode()) for k in keys])

    @classmethod
    def from_config(cls, encryption_keys: str | None, secret_key: str) -> SecretBox:
        """`ENCRYPTION_KEYS` (comma-separated, newest first) or a key derived from SECRET_KEY."""
        if encryption_keys:
            return cls([k.strip() for k in encryption_keys.split(",") if k.strip()])
        return cls([derive_key(secret_key)])

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        from cryptography.fernet import InvalidToken

        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise SecretDecryptionError("no configured key decrypts this secret") from None

    def rotate(self, token: str) -> str:
        """The same secret encrypted with the newest key."""
        from cryptography.fernet import InvalidToken

        try:
            return self._fernet.rotate(token.encode()).decode()
        except InvalidToken:
            raise SecretDecryptionError("no configured key decrypts this secret") from None
