"""Wait for a submission's result, showing its progress on stderr.

On a terminal, one status line with a spinner is rewritten in place. When
stderr is a file or a pipe, a plain line is printed each time the status
changes, so logs of scripted runs stay readable.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO, TypeVar

from client import messages
from client.api import Api, ServerUnavailable
from client.errors import CliError, ExitCode
from client.render import status_name

logger = logging.getLogger(__name__)

T = TypeVar("T")

POLL_SECONDS = 0.5
"""Between two reads of the submission; a lab run takes a few seconds, so this adds little delay."""
MAX_RETRIES = 5
"""Retries of one request after server or network failures, with pauses of 1, 2, 4, 8 and 16 s."""
SPINNER = "|/-\\"


class StatusLine:
    """The progress display: a rewritten line on a terminal, plain lines otherwise."""

    def __init__(self, stream: TextIO, interactive: bool) -> None:
        self.stream = stream
        self.interactive = interactive
        self._frame = 0
        self._last_status: str | None = None
        self._drawn = False

    def show(self, submission_id: int, status: str, seconds: float) -> None:
        text = messages.STATUS_LINE.format(id=submission_id, status=status_name(status), seconds=seconds)
        if self.interactive:
            spinner = SPINNER[self._frame % len(SPINNER)]
            self._frame += 1
            # \r returns to the line's start and \x1b[K clears the rest of the previous text.
            self.stream.write(f"\r{spinner} {text}\x1b[K")
            self._drawn = True
        elif status != self._last_status:
            self.stream.write(text + "\n")
        self._last_status = status
        self.stream.flush()

    def clear(self) -> None:
        """Remove the status line, so the result starts on a clean line."""
        if self.interactive and self._drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._drawn = False


def call_with_retries(
    action: Callable[[], T],
    description: str,
    retry_if: Callable[[CliError], bool],
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call ``action``, and call it again after a failure that ``retry_if`` accepts.

    Pauses double from 1 s; after ``MAX_RETRIES`` retries the last ``CliError``
    is raised. ``description`` names the action, with the submission id when
    there is one, in the log records of each retry.
    """
    failures = 0
    while True:
        try:
            return action()
        except CliError as error:
            if failures >= MAX_RETRIES or not retry_if(error):
                raise
            pause = 2.0**failures
            failures += 1
            # The student reads the notice in their language; the log record keeps what was retried.
            print(
                messages.RETRYING.format(
                    error=error.message, seconds=pause, retry=failures, retries=MAX_RETRIES
                ),
                file=sys.stderr,
                flush=True,
            )
            logger.info(
                "%s failed (retry %d of %d in %.0f s): %s",
                description,
                failures,
                MAX_RETRIES,
                pause,
                error.message,
            )
            sleep(pause)


def is_server_failure(error: CliError) -> bool:
    """Return whether sending again may help: the server was unreachable, timed out or failed."""
    return isinstance(error, ServerUnavailable)


def wait_for_result(
    api: Api,
    submission_id: int,
    status_line: StatusLine,
    timeout: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Poll the submission until its status is ``done`` and return its body.

    Each read is retried on server and network failures (``call_with_retries``),
    because the server may be restarting; a 4xx response ends the wait at once.

    Raises
    ------
    CliError
        With ``ExitCode.PENDING`` if it is not done after ``timeout`` seconds,
        or the last read's error when its retries ran out or it was a 4xx.
    """
    started = clock()
    description = f"submission {submission_id}: reading the status"
    try:
        while True:
            body = call_with_retries(
                lambda: api.submission(submission_id), description, is_server_failure, sleep
            )
            status = str(body.get("status"))
            elapsed = clock() - started
            if status == "done":
                return body
            status_line.show(submission_id, status, elapsed)
            if elapsed >= timeout:
                message = messages.STILL_GRADING.format(
                    id=submission_id, status=status_name(status), seconds=elapsed
                )
                raise CliError(message, ExitCode.PENDING)
            sleep(POLL_SECONDS)
    finally:
        status_line.clear()
