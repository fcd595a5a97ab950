"""The verdicts a submission can end with."""

from __future__ import annotations

import enum


class Verdict(enum.StrEnum):
    """The one outcome of a graded submission.

    ``ACCEPTED`` means every case returned a valid point, which was scored;
    it implies nothing about the score itself. ``INTERNAL_ERROR`` is the
    service's failure; every other verdict is the submission's.
    """

    ACCEPTED = "accepted"
    SYNTAX_ERROR = "syntax_error"
    IMPORT_ERROR = "import_error"
    MISSING_SOLUTION = "missing_solution"
    RUNTIME_ERROR = "runtime_error"
    TIME_LIMIT = "time_limit"
    MEMORY_LIMIT = "memory_limit"
    OUTPUT_LIMIT = "output_limit"
    PROCESS_LIMIT = "process_limit"
    INVALID_RESULT = "invalid_result"
    NO_RESULT = "no_result"
    INTERNAL_ERROR = "internal_error"

    @property
    def is_submission_failure(self) -> bool:
        return self not in (Verdict.ACCEPTED, Verdict.INTERNAL_ERROR)


DESCRIPTIONS = {
    Verdict.ACCEPTED: "every case returned a point, and it was scored",
    Verdict.SYNTAX_ERROR: "the file is not valid Python",
    Verdict.IMPORT_ERROR: "importing the file raised an exception",
    Verdict.MISSING_SOLUTION: "the file defines no function solution(func, start_point)",
    Verdict.RUNTIME_ERROR: "solution raised an exception or the runner died by a signal",
    Verdict.TIME_LIMIT: "the run exceeded its wall-clock or CPU time limit",
    Verdict.MEMORY_LIMIT: "the run exceeded its memory limit",
    Verdict.OUTPUT_LIMIT: "the run printed more than the output limit",
    Verdict.PROCESS_LIMIT: "the run tried to start more processes or threads than allowed",
    Verdict.INVALID_RESULT: "solution returned something that is not a finite point of the right shape",
    Verdict.NO_RESULT: "the runner exited before solution returned",
    Verdict.INTERNAL_ERROR: "the grader failed; the submission will be retried and is not charged",
}
