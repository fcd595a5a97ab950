"""The gradebook: one CSV row per student with each lab's best submission.

A student's best submission on a lab is their accepted one with the highest
solved fraction (the course grade, see docs/scoring.md), then the smallest
hidden mean gap, then the smallest public gap, then the earliest. Per lab the
row gives that submission's id, public gap, hidden mean gap, solved fraction
and late flag, and how many submissions the student stored. The cells are
empty where the student has no accepted submission. ``on_time_only`` picks
the best among submissions that were not late.

Text cells that a spreadsheet would run as a formula (starting with ``=``,
``+``, ``-``, ``@``, a tab or a carriage return) get a leading apostrophe.
"""

from __future__ import annotations

import csv
import io
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from grader.verdicts import Verdict
from reference.labs import LABS
from server.models import Student, Submission

LAB_COLUMNS = ("submission_id", "public_gap", "hidden_mean_gap", "solved_fraction", "late", "submissions")
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Best:
    """The chosen submission of one student on one lab."""

    submission_id: int
    public_gap: float | None
    hidden_mean_gap: float | None
    solved_fraction: float | None
    late: bool


def header(lab_ids: Sequence[str]) -> list[str]:
    return ["student_id", "name", "section", "email"] + [
        f"{lab_id}_{column}" for lab_id in lab_ids for column in LAB_COLUMNS
    ]


def export(session: Session, section: str | None = None, on_time_only: bool = False) -> str:
    """Return the gradebook as CSV text, students ordered by section and id."""
    lab_ids = list(LABS)
    students_query = select(Student).order_by(Student.section, Student.student_id)
    if section is not None:
        students_query = students_query.where(Student.section == section)
    students = session.scalars(students_query).all()
    best = best_submissions(session, on_time_only)
    counts = submission_counts(session)

    output = io.StringIO()
    writer = csv.writer(output, lineterminator="\r\n")
    writer.writerow(header(lab_ids))
    for student in students:
        row = [student.student_id, _text(student.name), _text(student.section), _text(student.email or "")]
        for lab_id in lab_ids:
            chosen = best.get((student.id, lab_id))
            row += _lab_cells(chosen, counts[(student.id, lab_id)])
        writer.writerow(row)
    return output.getvalue()


def best_submissions(session: Session, on_time_only: bool = False) -> dict[tuple[int, str], Best]:
    """Return each student's best accepted submission per lab, keyed by (student pk, lab id)."""
    query = select(
        Submission.id,
        Submission.student_pk,
        Submission.lab_id,
        Submission.public_gap,
        Submission.hidden_mean_gap,
        Submission.solved_fraction,
        Submission.late,
        Submission.created_at,
    ).where(Submission.verdict == Verdict.ACCEPTED.value)
    if on_time_only:
        query = query.where(Submission.late.is_(False))
    chosen: dict[tuple[int, str], tuple[tuple[float, float, float, object, int], Best]] = {}
    for row in session.execute(query):
        key = (row.student_pk, row.lab_id)
        rank = _rank(row)
        if key not in chosen or rank < chosen[key][0]:
            best = Best(row.id, row.public_gap, row.hidden_mean_gap, row.solved_fraction, row.late)
            chosen[key] = (rank, best)
    return {key: best for key, (_, best) in chosen.items()}


def submission_counts(session: Session) -> Counter[tuple[int, str]]:
    rows = session.execute(
        select(Submission.student_pk, Submission.lab_id, func.count(Submission.id)).group_by(
            Submission.student_pk, Submission.lab_id
        )
    )
    return Counter({(student_pk, lab_id): count for student_pk, lab_id, count in rows})


def _rank(row: Any) -> tuple[float, float, float, object, int]:
    """Sort key, smallest best: higher solved fraction, then smaller gaps, then earlier."""
    solved = row.solved_fraction if row.solved_fraction is not None else -1.0
    hidden = row.hidden_mean_gap if row.hidden_mean_gap is not None else math.inf
    public = row.public_gap if row.public_gap is not None else math.inf
    return (-solved, hidden, public, row.created_at, row.id)


def _lab_cells(best: Best | None, count: int) -> list[str]:
    if best is None:
        return ["", "", "", "", "", str(count)]
    return [
        str(best.submission_id),
        _number(best.public_gap),
        _number(best.hidden_mean_gap),
        _number(best.solved_fraction),
        "true" if best.late else "false",
        str(count),
    ]


def _number(value: float | None) -> str:
    # repr round-trips a float exactly; an empty cell is a missing or non-finite value.
    return "" if value is None else repr(value)


def _text(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_STARTS) else value
