"""Calls of the gradedescent REST API, with its errors turned into ``CliError``.

A 4xx response becomes ``ExitCode.USAGE`` with the server's ``detail`` text,
because the request itself was wrong (unknown lab, bad token, file rejected,
board closed). A 5xx response, a transport failure or a body that is not the
expected JSON becomes ``ExitCode.SERVER``.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any
from urllib.parse import quote, urljoin

import httpx

from client import messages
from client.errors import CliError, ExitCode
from client.render import clean

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 30.0
"""Per request: an upload of at most 64 KiB or a small JSON body should never take this long."""
MAX_BODY_BYTES = 64 * 2**20
"""A reply's size cap, far above gradedescent's own replies: a result carries at most 64 KiB of
output, and a board one row per student."""
MAX_DETAIL_CHARS = 300
"""Characters of a server's error text that an error message shows."""


IDEMPOTENCY_HEADER = "Idempotency-Key"


class ServerUnavailable(CliError):
    """Raised when the server cannot be reached, times out or fails with a 5xx status.

    ``reason`` is the failure alone, without the advice in ``message``.
    """

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message, ExitCode.SERVER)
        self.reason = reason


class ConnectFailure(ServerUnavailable):
    """Raised when no connection to the server could be made, so the request was never sent."""


class InvalidResponse(CliError):
    """Raised when a reply is not what a gradedescent server sends; sending again would not help."""


class ReplyTooLarge(Exception):
    """Raised while reading a reply larger than ``MAX_BODY_BYTES``, which no gradedescent server sends."""


class RequestRejected(CliError):
    """Raised on a 4xx response, with its ``status_code`` and the server's ``detail`` text."""

    def __init__(self, message: str, status_code: int, detail: str) -> None:
        super().__init__(message, ExitCode.USAGE)
        self.status_code = status_code
        self.detail = detail


class Api:
    """A connection to one server, with the caller's token when one is configured."""

    def __init__(
        self, url: str, token: str | None = None, transport: httpx.BaseTransport | None = None
    ) -> None:
        headers = {"Accept-Language": messages.LANGUAGE}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.url = url
        self._client = httpx.Client(
            base_url=url, headers=headers, timeout=TIMEOUT_SECONDS, transport=transport
        )

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._client.close()

    def submit(self, lab_id: str, filename: str, code: bytes, idempotency_key: str) -> dict[str, Any]:
        """Upload a solution as multipart field ``file``; return ``{"id", "url", "status"}``.

        The server stores one submission per ``idempotency_key`` and student,
        so sending the same request again after a failure cannot submit twice.
        """
        path = f"/api/labs/{_segment(lab_id)}/submissions"
        files = {"file": (filename, code, "text/x-python")}
        headers = {IDEMPOTENCY_HEADER: f'"{idempotency_key}"'}
        return self._request("POST", path, files=files, headers=headers)

    def profile(self) -> dict[str, Any]:
        """Return the roster entry of the token's student; a TA's token gets a 403 status."""
        return self._request("GET", "/api/me")

    def roster_page(self) -> dict[str, Any]:
        """Return the first roster entry, which only a TA's token may read."""
        return self._request("GET", "/api/ta/students", params={"limit": 1})

    def submission(self, submission_id: int) -> dict[str, Any]:
        return self._request("GET", f"/api/submissions/{submission_id}")

    def leaderboard(self, lab_id: str, board: str) -> dict[str, Any]:
        return self._request("GET", f"/api/labs/{_segment(lab_id)}/leaderboard", params={"board": board})

    def _request(self, method: str, path: str, **options: Any) -> dict[str, Any]:
        logger.debug("%s %s%s", method, self.url, path)
        deadline = time.monotonic() + TIMEOUT_SECONDS
        try:
            with self._client.stream(method, path, **options) as response:
                content = _read_body(response, deadline)
        except ReplyTooLarge:
            raise self.invalid_response(
                messages.REPLY_TOO_LARGE.format(mebibytes=MAX_BODY_BYTES // 2**20)
            ) from None
        except (httpx.ConnectError, httpx.ConnectTimeout) as error:
            reason = _describe(error)
            raise ConnectFailure(
                messages.SERVER_UNREACHABLE.format(url=self.url, error=reason), reason
            ) from None
        except httpx.HTTPError as error:
            reason = _describe(error)
            raise ServerUnavailable(
                messages.SERVER_UNREACHABLE.format(url=self.url, error=reason), reason
            ) from None
        logger.debug("%s %s%s returned %d", method, self.url, path, response.status_code)

        if response.status_code >= 500:
            detail = _detail(content, response.reason_phrase)
            message = messages.SERVER_FAILED.format(status=response.status_code, detail=detail)
            raise ServerUnavailable(message, f"{response.status_code}: {detail}")
        if response.status_code >= 400:
            detail = _detail(content, response.reason_phrase)
            message = messages.SERVER_REJECTED.format(status=response.status_code, detail=detail)
            raise RequestRejected(message, response.status_code, detail)
        if response.is_redirect:
            location = urljoin(str(response.url), response.headers.get("Location", ""))
            raise CliError(self._redirected(path, location), ExitCode.USAGE)
        try:
            body = json.loads(content)
        except ValueError:
            raise self.invalid_response(messages.NOT_JSON.format(start=_body_start(content, 60))) from None
        if not isinstance(body, dict):
            raise self.invalid_response(messages.NOT_OBJECT.format(kind=type(body).__name__))
        return body

    def _redirected(self, path: str, location: str) -> str:
        # Not followed: a token must not go to another host, and the configured URL is wrong anyway.
        location_text = clean(location[:MAX_DETAIL_CHARS])
        base = location.split("?")[0]
        if base.endswith(path) and base.startswith(("http://", "https://")):
            suggested = clean(base.removesuffix(path))
            return messages.SERVER_REDIRECTED.format(
                url=self.url, path=path, location=location_text, suggested=suggested
            )
        return messages.SERVER_REDIRECTED_ELSEWHERE.format(url=self.url, path=path, location=location_text)

    def invalid_response(self, reason: str) -> InvalidResponse:
        return invalid_response(self.url, reason)


def invalid_response(url: str, reason: str) -> InvalidResponse:
    """Build the error for a reply from ``url`` that is not what a gradedescent server sends."""
    return InvalidResponse(messages.SERVER_INVALID_RESPONSE.format(url=url, error=reason), ExitCode.SERVER)


def _read_body(response: httpx.Response, deadline: float) -> bytes:
    """Read the body, at most ``MAX_BODY_BYTES`` and until ``deadline`` (a ``time.monotonic`` value).

    httpx's timeout applies to each read, so a server that sends a byte at a
    time could otherwise hold the command for ever.
    """
    chunks = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise ReplyTooLarge()
        if time.monotonic() > deadline:
            raise httpx.ReadTimeout(messages.REPLY_TOO_SLOW.format(seconds=TIMEOUT_SECONDS))
        chunks.append(chunk)
    return b"".join(chunks)


def _segment(value: str) -> str:
    """Quote a path segment, so a lab id like ``../ta`` cannot reach another route."""
    return quote(value, safe="")


def _describe(error: httpx.HTTPError) -> str:
    # Some httpx errors have an empty message; the class name still says what failed.
    return str(error) or type(error).__name__


def _detail(content: bytes, reason_phrase: str) -> str:
    """Return the ``detail`` of a FastAPI error body, or the body's start when it has none, shortened and cleaned."""
    try:
        body = json.loads(content)
    except ValueError:
        return _body_start(content, MAX_DETAIL_CHARS) or reason_phrase
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, list):
        # Request validation errors: a list of {"loc": [...], "msg": "..."}.
        detail = "; ".join(_validation_message(item) for item in detail)
    if not isinstance(detail, str):
        return _body_start(content, MAX_DETAIL_CHARS)
    return clean(detail[:MAX_DETAIL_CHARS] + ("..." if len(detail) > MAX_DETAIL_CHARS else ""))


def _body_start(content: bytes, limit: int) -> str:
    """Return the start of a body as text a terminal can show safely."""
    text = content[: limit * 4].decode("utf-8", "replace").strip()
    return clean(text[:limit] + ("..." if len(text) > limit else ""))


def _validation_message(item: object) -> str:
    if not isinstance(item, dict):
        return str(item)
    location = ".".join(str(part) for part in item.get("loc", []))
    message = str(item.get("msg", item))
    return f"{location}: {message}" if location else message
