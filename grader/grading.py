"""Grade one submission: run its cases in the sandbox and score them."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from grader.evaluator import CaseRecord, Evaluator, Launcher
from grader.results import CaseOutcome, score_cases
from grader.sandbox import Limits, SandboxMode
from grader.scoring import CaseScore
from grader.verdicts import Verdict
from reference.labs import Instance, Lab

logger = logging.getLogger(__name__)


@dataclass
class GradeResult:
    """Everything the service stores about a graded submission.

    Attributes
    ----------
    verdict : Verdict
        The one outcome; ``INTERNAL_ERROR`` never comes from here, because the
        service's own failures raise ``GraderError`` instead.
    detail : str
        The reason for a failing verdict, for the student.
    outcomes : list of CaseOutcome
        One scored and diagnosed case per case when accepted, empty otherwise.
    records : list of CaseRecord
        The evaluator's trajectories, for every case that started.
    stdout, stderr : str
        The runner's output from the visible cases, cut at the output limit.
    student_cpu_seconds : float
        CPU time inside ``solution``, as the runner reports it; for statistics only.
    cpu_seconds, wall_seconds : float
        The run's CPU time and its wall-clock time, sandbox start-up included.
    """

    verdict: Verdict
    detail: str = ""
    outcomes: list[CaseOutcome] = field(default_factory=list)
    records: list[CaseRecord] = field(default_factory=list)
    stdout: str = ""
    stderr: str = ""
    cpu_seconds: float = 0.0
    wall_seconds: float = 0.0
    student_cpu_seconds: float = 0.0

    @property
    def scores(self) -> list[CaseScore]:
        return [outcome.score for outcome in self.outcomes]


def grade(
    code: str,
    lab: Lab,
    cases: list[Instance],
    limits: Limits,
    mode: SandboxMode,
    slot: int = 0,
    visible_cases: int = 1,
    work_root: Path | None = None,
    seeds: list[int | None] | None = None,
    launcher: Launcher | None = None,
) -> GradeResult:
    """Run ``code`` on every case of ``lab`` and score it.

    ``seeds`` names the hidden cases' seeds, None for a public case; by
    default every case is public. ``launcher`` starts the runner in a warm
    sandbox (``warm_pool.Zygote``); by default each run gets a cold one. Output is kept from the first
    ``visible_cases`` cases only.

    Raises
    ------
    GraderError
        If the sandbox or the grader failed; the submission is not to blame.
    """
    evaluator = Evaluator(
        code,
        cases,
        budget=lab.budget,
        limits=limits,
        mode=mode,
        slot=slot,
        visible_cases=visible_cases,
        work_root=work_root,
        launcher=launcher,
    )
    record = evaluator.run()
    result = GradeResult(
        verdict=record.failure or Verdict.ACCEPTED,
        detail=record.detail,
        records=record.cases,
        stdout=record.stdout.decode("utf-8", "replace"),
        stderr=record.stderr.decode("utf-8", "replace"),
        cpu_seconds=record.cpu_seconds,
        wall_seconds=record.wall_seconds,
        student_cpu_seconds=record.student_cpu_seconds,
    )
    if result.verdict is Verdict.ACCEPTED:
        result.outcomes = score_cases(cases, record.cases, seeds or [None] * len(cases))
    return result
