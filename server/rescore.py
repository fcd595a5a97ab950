"""Apply the current scoring rules to every stored run of a lab, without running code."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from grader.evaluator import CaseRecord
from grader.results import finite_or_none, score_cases, summarize, trajectory_record
from grader.scoring import RETURNED_POINT
from grader.verdicts import Verdict
from reference.families import hidden_instance
from reference.labs import Instance, get_lab
from server import leaderboard
from server.lab_settings import get_settings
from server.models import CaseResult, Submission

logger = logging.getLogger(__name__)


@dataclass
class RescoreReport:
    """The changes a rescore made.

    Attributes
    ----------
    submissions : int
        Accepted submissions rescored.
    changed : list of int
        Ids of submissions whose stored scores changed.
    rank_changes : dict
        Per board, ``{student_id: [rank before, rank after]}`` for every
        student whose rank changed; None stands for "not ranked".
    """

    submissions: int = 0
    changed: list[int] = field(default_factory=list)
    rank_changes: dict[str, dict[str, list[int | None]]] = field(default_factory=dict)


def rescore_lab(session: Session, lab_id: str) -> RescoreReport:
    """Rescore every accepted submission of ``lab_id`` from its stored trajectories and commit."""
    lab = get_lab(lab_id)
    rule = get_settings(session, lab_id).board_rule
    ranks_before = {board: _ranks(session, lab_id, board, rule) for board in leaderboard.BOARDS}
    report = RescoreReport()

    submissions = session.scalars(
        select(Submission)
        .where(Submission.lab_id == lab_id, Submission.verdict == Verdict.ACCEPTED.value)
        .options(selectinload(Submission.cases))
    ).all()
    for submission in submissions:
        report.submissions += 1
        if _rescore_submission(submission, lab.dimension, lab.public):
            report.changed.append(submission.id)
    session.flush()

    for board in leaderboard.BOARDS:
        after = _ranks(session, lab_id, board, rule)
        before = ranks_before[board]
        report.rank_changes[board] = {
            name: [before.get(name), after.get(name)]
            for name in sorted(set(before) | set(after))
            if before.get(name) != after.get(name)
        }
    session.commit()
    logger.info(
        "lab %s rescored: %d submissions, %d changed", lab_id, report.submissions, len(report.changed)
    )
    return report


def _rescore_submission(submission: Submission, dimension: int, public: Instance) -> bool:
    cases = sorted(submission.cases, key=lambda case: case.case_index)
    if not cases:
        return False
    instances = [
        public if case.seed is None else hidden_instance(submission.lab_id, case.seed) for case in cases
    ]
    records = [_stored_record(case, dimension) for case in cases]
    outcomes = score_cases(instances, records, [case.seed for case in cases])

    before = _snapshot(submission, cases)
    for case, outcome in zip(cases, outcomes, strict=True):
        score = outcome.score
        case.final_f = finite_or_none(score.final_f)
        case.gap = finite_or_none(score.gap)
        case.distance = finite_or_none(score.distance)
        case.evaluations_to_target = list(score.evaluations_to_target)
        case.reached_global = score.reached_global
        case.feedback = outcome.feedback.kind
    for name, value in summarize(outcomes).items():
        setattr(submission, name, value)
    return _snapshot(submission, cases) != before


def _stored_record(case: CaseResult, dimension: int) -> CaseRecord:
    record = trajectory_record(case.trajectory, dimension)
    record.budget_spent = case.budget_spent
    if case.scored_on == RETURNED_POINT:
        record.returned_point = tuple(case.final_point)
    return record


def _snapshot(submission: Submission, cases: list[CaseResult]) -> tuple[object, ...]:
    return (
        submission.public_gap,
        submission.public_ert,
        submission.hidden_mean_gap,
        submission.hidden_ert,
        submission.solved_fraction,
        repr(submission.summary),
        tuple((c.gap, tuple(c.evaluations_to_target), c.reached_global, c.feedback) for c in cases),
    )


def _ranks(session: Session, lab_id: str, board: str, rule: str) -> dict[str, int]:
    ranked = leaderboard.entries(session, lab_id, board, rule)
    return {entry.student_id: position for position, entry in enumerate(ranked, start=1)}
