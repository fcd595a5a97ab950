"""Reject request bodies over a size cap before they are read, not after."""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY_BYTES = 2 * 2**20
"""No request needs more: a solution is at most 64 KiB and a 200-student roster about 20 KiB."""


def _too_large(limit: int) -> str:
    return f"the request body is over {limit // 2**20} MiB: send the file itself, not an archive or data"


class BodySizeLimit:
    """ASGI middleware: 413 for a declared Content-Length over the cap, or once a streamed body passes it."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await _send_413(send, self.max_bytes)
            return

        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # Raised where the route reads the body, so the app's handlers turn it into a 413.
                    raise HTTPException(413, _too_large(self.max_bytes))
            return message

        await self.app(scope, counted, send)


async def _send_413(send: Send, limit: int) -> None:
    body = json.dumps({"detail": _too_large(limit)}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})
