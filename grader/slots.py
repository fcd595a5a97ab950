"""A worker slot: the sandbox uid, CPU and warm sandbox that grade one submission at a time.

The local pool runs each ``Slot`` in a child process of its own
(``grader.slot_process``). A Celery pool process is already a process of its
own, so it runs its ``Slot`` in place. Both grade through ``Slot.grade``.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Protocol

from grader.errors import SandboxError
from grader.grading import GradeResult, grade
from grader.sandbox import Limits, SandboxMode
from grader.warm_pool import Zygote, warm_available
from reference.labs import Instance, get_lab

logger = logging.getLogger(__name__)


class Grader(Protocol):
    """The worker slot that ``grader.claims`` grades with: a ``Slot`` or a ``SlotProcess``.

    ``submit`` hands over one submission and ``collect`` returns its grade, so
    a caller can do other work in between. A ``Slot`` grades in ``collect``.
    """

    number: int

    def submit(
        self, code: str, lab_id: str, cases: list[Instance], seeds: list[int | None], first_attempt: bool
    ) -> None: ...

    def collect(self) -> GradeResult: ...

    def take_sandbox_starts(self) -> int: ...


class Slot:
    """Grade one submission at a time as sandbox slot ``number``, in this process.

    ``number`` picks the sandbox uid, so slots that grade at the same time on
    one machine must have different numbers. ``cpu`` pins the warm sandbox's
    runs, and the caller pins itself to the same CPU (``grader.slot_process`` does).
    """

    def __init__(
        self,
        number: int,
        limits: Limits,
        mode: SandboxMode,
        runs_dir: Path,
        cpu: int | None = None,
        warm: bool = True,
        warm_dir: Path | None = None,
    ) -> None:
        self.number = number
        self.limits = limits
        self.mode = mode
        self.runs_dir = runs_dir
        self.zygote = (
            Zygote(number, limits, warm_dir or runs_dir / f"warm-{number}", cpu)
            if warm and warm_available(mode)
            else None
        )
        self._cold_starts = 0
        self._counted_starts = 0
        self._submitted: tuple[str, str, list[Instance], list[int | None], bool] | None = None

    def start(self) -> None:
        """Start the warm sandbox now, so that the first submission does not wait for it."""
        if self.zygote is None:
            return
        try:
            self.zygote.ensure_started()
        except SandboxError as error:
            logger.error(
                "worker %d: warm sandbox failed to start, runs start cold until it does: %s",
                self.number,
                error,
            )

    def grade(
        self, code: str, lab_id: str, cases: list[Instance], seeds: list[int | None], first_attempt: bool
    ) -> GradeResult:
        """Grade ``code`` on ``cases``; raises ``GraderError`` when the service, not the code, failed.

        Only a first attempt runs warm: a retry after an internal error runs
        in a cold sandbox, so a broken warm sandbox cannot fail a submission twice.
        """
        zygote = self.zygote
        launcher = zygote if zygote is not None and zygote.usable and first_attempt else None
        if launcher is None:
            self._cold_starts += 1
        return grade(
            code,
            get_lab(lab_id),
            cases,
            self.limits,
            self.mode,
            slot=self.number,
            work_root=self.runs_dir,
            seeds=seeds,
            launcher=launcher,
        )

    def submit(
        self, code: str, lab_id: str, cases: list[Instance], seeds: list[int | None], first_attempt: bool
    ) -> None:
        """Keep the arguments of ``grade`` for ``collect``."""
        self._submitted = (code, lab_id, cases, seeds, first_attempt)

    def collect(self) -> GradeResult:
        """Grade what ``submit`` was given."""
        if self._submitted is None:
            raise RuntimeError("collect() called without a submit() before it")
        submitted, self._submitted = self._submitted, None
        return self.grade(*submitted)

    def take_sandbox_starts(self) -> int:
        """Return how many sandboxes started, cold or warm, since the last call."""
        total = self._cold_starts + (self.zygote.starts if self.zygote is not None else 0)
        new = total - self._counted_starts
        self._counted_starts = total
        return new

    def stop(self) -> None:
        if self.zygote is not None:
            self.zygote.stop()


def slot_cpu(number: int) -> int | None:
    """Return the CPU for slot ``number``: the process's allowed CPUs in turn, or None if unknown."""
    try:
        allowed = sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None
    return allowed[number % len(allowed)] if allowed else None
