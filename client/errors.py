"""Exit codes of ``gradedescent`` and the exception that carries one to ``main``."""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """The process exit status of every command; README.md lists the same table."""

    OK = 0
    """The submission was accepted, or a command without a verdict succeeded."""
    SUBMISSION_FAILED = 1
    """The submission ended in a failing verdict such as ``syntax_error`` or ``time_limit``."""
    USAGE = 2
    """Bad arguments or configuration, or the server rejected the request with a 4xx status."""
    SERVER = 3
    """The server or the network failed, the server sent a 5xx status, or the verdict is ``internal_error``."""
    PENDING = 4
    """The submission is not graded yet: still queued or running."""
    INTERRUPTED = 130
    """Ctrl-C, following the shell's 128 + SIGINT convention."""


class CliError(Exception):
    """An error that ends the command: ``message`` goes to stderr and ``exit_code`` to the shell."""

    def __init__(self, message: str, exit_code: ExitCode) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
