"""The Idempotency-Key request header on submissions.

A client that sends ``Idempotency-Key`` with a submission may send the same
request again, after a timeout or a double click. It gets the submission the
first request stored instead of a second one, and is charged once. Keys
belong to a student: two students may use the same key. The IETF draft "The
Idempotency-Key HTTP Header Field" (draft-ietf-httpapi-idempotency-key-header)
writes the key as a quoted string; a bare token is accepted too.

Keys are stored with their submission and never expire. A key sent again
with another lab or other code is rejected with 422, as the draft advises,
because the client has mixed up two requests.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.i18n import translatable
from server.models import Submission

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
REPLAYED_HEADER = "Idempotent-Replayed"


class InvalidKeyError(ValueError):
    """Raised for a malformed key; the route returns 400 with the message, which is for the student."""


class KeyReusedError(ValueError):
    """Raised for a key sent again with another lab or other code; the route returns 422."""


def invalid_key_message(value: str) -> str:
    return translatable(
        "invalid {header} {value!r}: send 1 to {limit} printable ASCII characters without '\"', "
        'for example a UUID: Idempotency-Key: "8e03978e-40d5-43e8-bc93-6894a57f9324"',
        header=HEADER,
        value=value,
        limit=MAX_KEY_LENGTH,
    )


def key_reused_message(key: str, submission_id: int) -> str:
    return translatable(
        "{header} {key!r} was already used for submission {submission_id} with another lab or other code: "
        "use a new key for a new submission",
        header=HEADER,
        key=key,
        submission_id=submission_id,
    )


def parse_key(value: str | None) -> str | None:
    """Return the key from the header value, or None if the header is absent."""
    if value is None:
        return None
    key = value.strip()
    if len(key) >= 2 and key[0] == key[-1] == '"':
        key = key[1:-1]
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not all(" " <= char <= "~" for char in key) or '"' in key:
        raise InvalidKeyError(invalid_key_message(value))
    return key


def fingerprint(lab_id: str, code: str) -> str:
    """Return what identifies a request under one key: a SHA-256 of the lab and the code."""
    return hashlib.sha256(f"{lab_id}\0{code}".encode("utf-8", "surrogatepass")).hexdigest()


def find(session: Session, student_pk: int, key: str) -> Submission | None:
    return session.scalar(
        select(Submission).where(Submission.student_pk == student_pk, Submission.idempotency_key == key)
    )


def check_same_request(stored: Submission, request_fingerprint: str, key: str) -> None:
    """Raise ``KeyReusedError`` unless ``stored`` came from the same request."""
    if stored.request_fingerprint != request_fingerprint:
        raise KeyReusedError(key_reused_message(key, stored.id))
