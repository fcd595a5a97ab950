"""Exceptions of the grader.

Hierarchy::

    GraderError
    └── SandboxError

A ``GraderError`` is the service's own failure, never the student's: the
worker turns it into the ``internal_error`` verdict, retries the submission
once and charges nothing to the student.
"""


class GraderError(Exception):
    """Raised when grading fails for a reason outside the submission."""


class SandboxError(GraderError):
    """Raised when the sandbox cannot be started or behaves unexpectedly."""
