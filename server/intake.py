"""Reading a submission's code from a request.

Four request bodies carry code:

- ``multipart/form-data`` with the file in the field ``file``;
- ``application/json`` with the file's text in ``code``;
- ``application/json`` with ``issue_body``: the Markdown of a submission
  issue as students wrote them for the course's issue template, where the
  code sits in a fenced block marked ``python`` among other text;
- ``text/markdown``: the same Markdown as the whole body.

From Markdown the first fenced code block (CommonMark, backticks or tildes)
whose info string starts with ``python``, ``python3`` or ``py`` is taken. A
body without one, or whose block is never closed, is rejected. The code
must then be UTF-8, non-blank and at most ``MAX_CODE_BYTES``.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import HTTPException, Request, status
from markdown_it import MarkdownIt

from server.i18n import translatable

MAX_CODE_BYTES = 64 * 1024
MAX_BODY_BYTES = 512 * 1024
"""A JSON or Markdown body may be larger than its code: JSON escapes and issue text add to it."""

PYTHON_INFO = ("python", "python3", "py")

OPENAPI_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            },
            "application/json": {
                "schema": {
                    "type": "object",
                    "description": "Either the solution file's text in code, or a submission issue's Markdown "
                    "in issue_body, whose first python code block is taken.",
                    "properties": {"code": {"type": "string"}, "issue_body": {"type": "string"}},
                }
            },
            "text/markdown": {
                "schema": {
                    "type": "string",
                    "description": "A submission issue's Markdown; its first python code block is taken.",
                }
            },
        },
    }
}

_MARKDOWN = MarkdownIt("commonmark")


def missing_file_message() -> str:
    return translatable(
        "missing file field: send the solution as multipart field 'file' (curl -F file=@solution.py)"
    )


def missing_code_message() -> str:
    return translatable(
        'missing "code": send {{"code": "<your solution file>"}} or '
        '{{"issue_body": "<the Markdown of your submission issue>"}}'
    )


def both_fields_message() -> str:
    return translatable('the body has both "code" and "issue_body": send only one of them')


def no_python_block_message() -> str:
    return translatable(
        "the issue body has no python code block: put your solution between a line ```python "
        "and a line ```, as the submission issue template does"
    )


def unclosed_block_message(line: int) -> str:
    return translatable(
        "the python code block that starts on line {line} of the issue body is never closed: end it with a line ```",
        line=line,
    )


def unsupported_type_message(content_type: str) -> str:
    return translatable(
        "unsupported content type {content_type!r}: send multipart/form-data with a field 'file', "
        "application/json with a field 'code' or 'issue_body', or text/markdown",
        content_type=content_type,
    )


def body_too_large_message() -> str:
    return translatable(
        "the request body is over {limit} KiB: send only the solution file or its issue",
        limit=MAX_BODY_BYTES // 1024,
    )


def too_large_message() -> str:
    return translatable(
        "the code is over {limit} KiB: a solution file should be a few KiB; remove data or generated code",
        limit=MAX_CODE_BYTES // 1024,
    )


def not_utf8_message(raw: bytes, offset: int) -> str:
    return translatable(
        "the code is not valid UTF-8 (byte {byte:#04x} at offset {offset}): save the file as UTF-8",
        byte=raw[offset],
        offset=offset,
    )


def empty_message() -> str:
    return translatable("the code is empty: send a file that defines solution(func, start_point)")


def _unprocessable(message: str) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, message)


async def read_code(request: Request) -> str:
    """Return the submission's code from any of the bodies in the module docstring, or raise 413/415/422."""
    return validate_code(await _read_raw(request))


async def _read_raw(request: Request) -> bytes:
    content_type = request.headers.get("content-type", "")
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type == "multipart/form-data":
        form = await request.form(max_files=1, max_fields=4, max_part_size=MAX_CODE_BYTES + 1)
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise _unprocessable(missing_file_message())
        return await upload.read(MAX_CODE_BYTES + 1)
    if media_type == "application/json":
        return _code_from_json(await _bounded_body(request))
    if media_type == "text/markdown":
        body = await _bounded_body(request)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as error:
            raise _unprocessable(not_utf8_message(body, error.start)) from None
        return extract_python_block(text).encode("utf-8", "surrogatepass")
    raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, unsupported_type_message(content_type))


async def _bounded_body(request: Request) -> bytes:
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, body_too_large_message())
    return bytes(body)


def _code_from_json(body: bytes) -> bytes:
    try:
        payload = json.loads(body)
    except ValueError:
        raise _unprocessable("the body is not valid JSON") from None
    if not isinstance(payload, dict):
        raise _unprocessable(missing_code_message())
    code, issue_body = payload.get("code"), payload.get("issue_body")
    if code is not None and issue_body is not None:
        raise _unprocessable(both_fields_message())
    if isinstance(issue_body, str):
        code = extract_python_block(issue_body)
    if not isinstance(code, str):
        raise _unprocessable(missing_code_message())
    # surrogatepass keeps a lone surrogate from JSON as bytes that validate_code rejects as not UTF-8.
    return code.encode("utf-8", "surrogatepass")


def extract_python_block(markdown: str) -> str:
    """Return the content of the first closed fenced block marked python, or raise 422."""
    lines = markdown.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    for token in _MARKDOWN.parse(markdown):
        if token.type != "fence" or token.map is None:
            continue
        words = token.info.split()
        if not words or words[0].lower() not in PYTHON_INFO:
            continue
        start, end = token.map
        if not _closed(lines, start, end, token.markup):
            raise _unprocessable(unclosed_block_message(start + 1))
        return token.content
    raise _unprocessable(no_python_block_message())


def _closed(lines: list[str], start: int, end: int, markup: str) -> bool:
    """Check that the fence's last line closes it, because an unclosed fence runs to the end of its container."""
    if end - start < 2 or end > len(lines):
        return False
    # A fence inside a block quote or list item carries the container's markers before it.
    closing = lines[end - 1].lstrip(" \t>").rstrip()
    return len(closing) >= len(markup) and set(closing) == {markup[0]}


def validate_code(raw: bytes) -> str:
    """Return ``raw`` as text, or raise 413 (too large) or 422 (not UTF-8, or blank)."""
    if len(raw) > MAX_CODE_BYTES:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, too_large_message())
    try:
        code = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise _unprocessable(not_utf8_message(raw, error.start)) from None
    if not code.strip():
        raise _unprocessable(empty_message())
    return code
