"""Regrading: putting graded submissions back in the queue to run again.

A regrade sets a finished submission back to ``queued``, clears its lease,
task record, verdict, output, scores and attempts, and deletes its case
results, all in one transaction. The worker that claims it then stores a
fresh result as for a new submission. Only finished submissions are regraded: one that is
queued or running already will be graded, and queueing it twice could grade
it twice. The submission keeps its id, time, late flag and quota charge.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from server.models import CaseResult, Status, Submission


@dataclass
class RegradeReport:
    """Ids put back in the queue, and ids skipped because they were queued or running already."""

    queued: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)


def regrade(session: Session, submission_ids: list[int]) -> RegradeReport:
    """Queue the finished submissions among ``submission_ids`` again; the caller commits."""
    report = RegradeReport()
    if not submission_ids:
        return report
    # The status test sits in the UPDATE itself, so a worker that finishes or claims a row
    # concurrently cannot make this reset a row it is grading.
    queued = session.scalars(
        update(Submission)
        .where(Submission.id.in_(submission_ids), Submission.status == Status.DONE.value)
        .values(
            status=Status.QUEUED.value,
            verdict=None,
            detail="",
            stdout="",
            stderr="",
            attempts=0,
            lease_token=None,
            lease_expires_at=None,
            dispatched_at=None,
            public_gap=None,
            public_ert=None,
            hidden_mean_gap=None,
            hidden_ert=None,
            solved_fraction=None,
            summary=None,
            cpu_seconds=None,
            wall_seconds=None,
            student_cpu_seconds=None,
            started_at=None,
            finished_at=None,
        )
        .returning(Submission.id)
    ).all()
    report.queued = sorted(queued)
    if report.queued:
        session.execute(delete(CaseResult).where(CaseResult.submission_id.in_(report.queued)))
    report.skipped = sorted(set(submission_ids) - set(report.queued))
    return report


def lab_submission_ids(session: Session, lab_id: str, verdict: str | None = None) -> list[int]:
    """Return the ids of a lab's submissions, only those with ``verdict`` when it is given."""
    query = select(Submission.id).where(Submission.lab_id == lab_id)
    if verdict is not None:
        query = query.where(Submission.verdict == verdict)
    return list(session.scalars(query.order_by(Submission.id)))
