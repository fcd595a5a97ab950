"""Read a solution file and apply the server's upload checks to it."""

from __future__ import annotations

from pathlib import Path

from client import messages
from client.errors import CliError, ExitCode

MAX_CODE_BYTES = 64 * 1024
"""The server's upload limit, ``server.routes.submissions.MAX_CODE_BYTES``; a test keeps the two equal."""


def read_solution(path: Path) -> bytes:
    """Read a solution file's bytes, or raise ``CliError`` naming the file if it cannot be read."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise CliError(messages.FILE_NOT_FOUND.format(path=str(path)), ExitCode.USAGE) from None
    except OSError as error:
        raise CliError(messages.FILE_UNREADABLE.format(path=str(path), error=error), ExitCode.USAGE) from None


def decode_solution(path: Path, raw: bytes) -> str:
    """Apply the server's upload checks: at most 64 KiB, UTF-8 and not blank.

    Raises
    ------
    CliError
        With ``ExitCode.USAGE``, as the server's 413 or 422 response would.
    """
    if len(raw) > MAX_CODE_BYTES:
        message = messages.FILE_TOO_LARGE.format(path=str(path), size=len(raw), limit=MAX_CODE_BYTES // 1024)
        raise CliError(message, ExitCode.USAGE)
    try:
        code = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        message = messages.FILE_NOT_UTF8.format(path=str(path), byte=raw[error.start], offset=error.start)
        raise CliError(message, ExitCode.USAGE) from None
    if not code.strip():
        raise CliError(messages.FILE_EMPTY.format(path=str(path)), ExitCode.USAGE)
    return code
