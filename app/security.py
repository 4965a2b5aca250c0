"""Secrets in one place: link tokens, API key hashing, keyed address hashes, signed stamps."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

from cryptography.fernet import Fernet, InvalidToken

from app.config import get_settings


def _hmac(label: str, value: str) -> bytes:
    key = get_settings().secret_key.encode()
    return hmac.new(key, f"{label}:{value}".encode(), hashlib.sha256).digest()


def new_seed() -> str:
    """128 random bits for a token seed."""
    return secrets.token_hex(16)


def token_from_seed(seed: str) -> str:
    """The raw link token: HMAC(SECRET_KEY, seed), 192 bits, URL-safe, 32 characters."""
    return base64.urlsafe_b64encode(_hmac("token", seed)[:24]).decode()


# token_from_seed gives 24 bytes in URL-safe base64: exactly 32 characters, no padding.
_LINK_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{32}")


def link_token_digest(raw: str) -> str | None:
    """The stored hash of a raw link token, or None for a value that cannot be one (so a
    mistyped or absurd link costs no database lookup)."""
    return token_hash(raw) if _LINK_TOKEN_SHAPE.fullmatch(raw) else None


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def token_hash(raw: str) -> str:
    """What is stored and looked up for a token."""
    return sha256_hex(raw)


def email_hash(federation_id: int, email: str) -> str:
    """Keyed hash of an address for the suppression list (no address kept after erasure)."""
    return _hmac("suppress", f"{federation_id}:{email.lower()}").hex()


def verp_signature(delivery_id: int) -> str:
    """Short HMAC (40 bits, lower-case base32) tying a bounce address to one delivery."""
    return base64.b32encode(_hmac("verp", str(delivery_id))[:5]).decode().lower()


def new_api_key() -> str:
    return "nb_" + secrets.token_urlsafe(32)


def new_session_id() -> str:
    """An opaque staff session id for the cookie (256 random bits); only its hash is stored."""
    return secrets.token_urlsafe(32)


def csrf_token(session_id: str) -> str:
    """The CSRF form token of a staff session: HMAC(SECRET_KEY, session id), so it needs no
    storage and changes with every sign-in."""
    return base64.urlsafe_b64encode(_hmac("csrf", session_id)[:24]).decode()


def constant_time_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def sign(value: str) -> str:
    """value.signature (for form render stamps)."""
    sig = base64.urlsafe_b64encode(_hmac("stamp", value)[:16]).decode().rstrip("=")
    return f"{value}.{sig}"


def unsign(signed: str) -> str | None:
    """The value if the signature holds, else None."""
    value, _, sig = signed.rpartition(".")
    if not value:
        return None
    expected = sign(value).rpartition(".")[2]
    return value if constant_time_equal(sig, expected) else None


def _fernet() -> Fernet:
    key = hashlib.sha256(f"credentials:{get_settings().secret_key}".encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt_secret(value: str) -> str:
    """Encrypt a stored credential (a federation's relay password) with a key from SECRET_KEY."""
    return _fernet().encrypt(value.encode()).decode()


def decrypt_secret(value: str) -> str | None:
    """The credential, or None when it was encrypted under another SECRET_KEY."""
    try:
        return _fernet().decrypt(value.encode()).decode()
    except InvalidToken:
        return None
