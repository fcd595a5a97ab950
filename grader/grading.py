"""Grade one submission: run its cases in the sandbox and score them."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from grader.evaluator import CaseRecord, Evaluator
from grader.sandbox import Limits, SandboxMode
from grader.scoring import CaseScore, score_case
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
    scores : list of CaseScore
        One per case when accepted, empty otherwise.
    records : list of CaseRecord
        The evaluator's trajectories, for every case that started.
    stdout, stderr : str
        The runner's output from the visible cases, cut at the output limit.
    cpu_seconds, wall_seconds : float
        The run's CPU time and its wall-clock time, sandbox start-up included.
    """

    verdict: Verdict
    detail: str = ""
    scores: list[CaseScore] = field(default_factory=list)
    records: list[CaseRecord] = field(default_factory=list)
    stdout: str = ""
    stderr: str = ""
    cpu_seconds: float = 0.0
    wall_seconds: float = 0.0


def grade(
    code: str,
    lab: Lab,
    cases: list[Instance],
    limits: Limits,
    mode: SandboxMode,
    slot: int = 0,
    visible_cases: int = 1,
    work_root: Path | None = None,
) -> GradeResult:
    """Run ``code`` on every case of ``lab`` and score it.

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
    )
    if result.verdict is Verdict.ACCEPTED:
        result.scores = [score_case(case, case_record) for case, case_record in zip(cases, record.cases)]
    return result
