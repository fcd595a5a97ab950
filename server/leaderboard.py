"""Rank each student's best accepted submission on a lab's public case."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from grader.verdicts import Verdict
from server.models import CaseResult, Student, Submission
from server.schemas import LeaderboardRow


def rank(session: Session, lab_id: str) -> list[LeaderboardRow]:
    """Return one row per student, best first.

    A student's best submission has the lowest final ``f``, then the fewest
    evaluations, then the earliest time; students are ranked by the same key.
    Cases with a non-finite ``f`` (stored as NULL) never rank.
    """
    rows = session.execute(
        select(Submission, CaseResult, Student)
        .join(CaseResult, CaseResult.submission_id == Submission.id)
        .join(Student, Student.id == Submission.student_pk)
        .where(
            Submission.lab_id == lab_id,
            Submission.verdict == Verdict.ACCEPTED.value,
            CaseResult.case_index == 0,
            CaseResult.final_f.is_not(None),
        )
    ).all()

    best: dict[int, tuple[tuple[float, int, dt.datetime, int], Submission, CaseResult, Student]] = {}
    for submission, case, student in rows:
        assert case.final_f is not None
        key = (case.final_f, case.evaluations, submission.created_at, submission.id)
        current = best.get(student.id)
        if current is None or key < current[0]:
            best[student.id] = (key, submission, case, student)

    ranked = sorted(best.values(), key=lambda entry: entry[0])
    return [
        LeaderboardRow(
            rank=position,
            student_name=student.name,
            section=student.section,
            submission_id=submission.id,
            final_f=case.final_f,
            gap=case.gap,
            evaluations=case.evaluations,
            reached_global=case.reached_global,
            submitted_at=submission.created_at,
        )
        for position, (_, submission, case, student) in enumerate(ranked, start=1)
    ]
