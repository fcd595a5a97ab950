"""Bearer tokens: generation, hashing and comparison.

Tokens are 32 random bytes, so a plain SHA-256 is enough to store them: no
dictionary attack applies to a value with 256 bits of entropy.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path


def new_token() -> str:
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def tokens_equal(given: str, expected: str) -> bool:
    """Compare in constant time, so the comparison leaks nothing through timing."""
    return hmac.compare_digest(hash_token(given), hash_token(expected))


def load_or_create_ta_token(path: Path) -> tuple[str, bool]:
    """Read the TA token stored at ``path``, or create it there (mode 0600).

    Returns the token and whether it was just created.
    """
    if path.exists():
        token = path.read_text(encoding="utf-8").strip()
        if token:
            return token, False
    path.parent.mkdir(parents=True, exist_ok=True)
    token = new_token()
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(token + "\n")
    return token, True
