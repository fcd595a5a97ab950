"""Rank students on a lab's public or private board.

The public board ranks on the public case; the private board on the mean
over the hidden cases. Both order entries by gap, counting gaps within
``GAP_RTOL`` (relative) or ``GAP_ATOL`` (absolute) of a group's best as equal,
then by expected running time to the tightest target, then by submission
time, then by id. A submission whose gap is missing (not accepted, or not
finite) never ranks.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from grader.verdicts import Verdict
from server.display_names import shown_name
from server.models import CaseResult, Student, Submission

GAP_RTOL = 1e-6
GAP_ATOL = 1e-9
BOARDS = ("public", "private")


@dataclass(frozen=True)
class Entry:
    """One ranked submission, with the board's measures."""

    submission_id: int
    student_pk: int
    student_id: str
    display_name: str
    section: str
    gap: float
    expected_running_time: float | None
    solved_fraction: float | None
    final_f: float | None
    evaluations: int | None
    submitted_at: dt.datetime


def same_gap(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=GAP_RTOL, abs_tol=GAP_ATOL)


def _speed_key(entry: Entry) -> tuple[float, dt.datetime, int]:
    ert = entry.expected_running_time
    return (ert if ert is not None else math.inf, entry.submitted_at, entry.submission_id)


def order(entries: Sequence[Entry]) -> list[Entry]:
    """Sort entries best first with the tie rule in the module docstring.

    Gaps are grouped greedily from the smallest: a group contains every gap that is
    ``same_gap`` as its smallest, so equality within tolerance stays well defined
    even where it is not transitive.
    """
    by_gap = sorted(entries, key=lambda entry: entry.gap)
    ranked: list[Entry] = []
    group: list[Entry] = []
    for entry in by_gap:
        if group and not same_gap(group[0].gap, entry.gap):
            ranked += sorted(group, key=_speed_key)
            group = []
        group.append(entry)
    return ranked + sorted(group, key=_speed_key)


def entries(session: Session, lab_id: str, board: str, rule: str) -> list[Entry]:
    """Return one entry per student: their best or latest accepted submission on the board."""
    gap_column = Submission.public_gap if board == "public" else Submission.hidden_mean_gap
    ert_column = Submission.public_ert if board == "public" else Submission.hidden_ert
    rows = session.execute(
        select(Submission, Student, CaseResult, gap_column, ert_column)
        .join(Student, Student.id == Submission.student_pk)
        .join(CaseResult, (CaseResult.submission_id == Submission.id) & (CaseResult.case_index == 0))
        .where(
            Submission.lab_id == lab_id,
            Submission.verdict == Verdict.ACCEPTED.value,
            gap_column.is_not(None),
        )
    ).all()

    candidates: dict[int, list[Entry]] = {}
    for submission, student, public_case, gap, ert in rows:
        assert gap is not None  # The query keeps only rows with a gap.
        entry = Entry(
            submission_id=submission.id,
            student_pk=student.id,
            student_id=student.student_id,
            display_name=shown_name(student.display_name, student.id),
            section=student.section,
            gap=gap,
            expected_running_time=ert,
            solved_fraction=submission.solved_fraction,
            final_f=public_case.final_f,
            evaluations=public_case.evaluations,
            submitted_at=submission.created_at,
        )
        candidates.setdefault(student.id, []).append(entry)

    chosen = []
    for submissions in candidates.values():
        if rule == "latest":
            chosen.append(max(submissions, key=lambda e: (e.submitted_at, e.submission_id)))
        else:
            chosen.append(order(submissions)[0])
    return order(chosen)
