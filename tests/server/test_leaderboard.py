from __future__ import annotations

import datetime as dt

import pytest
from fastapi import HTTPException

from reference.labs import get_lab
from server import boards, leaderboard
from server.deps import Caller
from server.lab_settings import get_settings
from server.leaderboard import Entry, order
from server.models import CaseResult, Student, Submission, utc_now
from tests.server.conftest import add_student

T0 = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)


def entry(submission_id: int, gap: float, ert: float | None, minutes: int = 0) -> Entry:
    return Entry(
        submission_id=submission_id,
        student_pk=submission_id,
        student_id=str(submission_id),
        display_name=f"student {submission_id}",
        section="A",
        gap=gap,
        expected_running_time=ert,
        solved_fraction=1.0,
        final_f=gap,
        evaluations=10,
        submitted_at=T0 + dt.timedelta(minutes=minutes),
    )


def ids(entries: list[Entry]) -> list[int]:
    return [e.submission_id for e in entries]


def test_order_by_gap():
    assert ids(order([entry(1, 0.5, 10), entry(2, 0.1, 90), entry(3, 0.3, 1)])) == [2, 3, 1]


def test_order_gaps_within_tolerance_tie_on_speed():
    # 1e-12 and 2e-10 are within the absolute tolerance, so speed decides.
    assert ids(order([entry(1, 1e-12, 80.0), entry(2, 2e-10, 40.0)])) == [2, 1]


def test_order_relative_tolerance():
    assert ids(order([entry(1, 1.0, 80.0), entry(2, 1.0 + 5e-7, 40.0), entry(3, 1.01, 1.0)])) == [2, 1, 3]


def test_order_gap_outside_tolerance_wins():
    assert ids(order([entry(1, 1e-6, 10.0), entry(2, 0.0, 500.0)])) == [2, 1]


def test_order_unreached_speed_last_then_time_then_id():
    entries = [entry(4, 0.0, None, minutes=0), entry(3, 0.0, 50.0, minutes=9), entry(2, 0.0, 50.0, minutes=5)]
    entries.append(entry(1, 0.0, 50.0, minutes=5))

    assert ids(order(entries)) == [1, 2, 3, 4]


def add_scored(factory, student_pk: int, gap: float | None, ert: float | None, minutes: int) -> int:
    """Insert an accepted submission with the given public and hidden scores."""
    with factory() as session:
        submission = Submission(
            student_pk=student_pk,
            lab_id="lab3",
            code="",
            status="done",
            verdict="accepted",
            public_gap=gap,
            public_ert=ert,
            hidden_mean_gap=gap,
            hidden_ert=ert,
            solved_fraction=1.0,
            created_at=T0 + dt.timedelta(minutes=minutes),
        )
        session.add(submission)
        session.flush()
        session.add(
            CaseResult(
                submission_id=submission.id,
                case_index=0,
                final_point=[0.0, 0.0],
                final_f=gap,
                gap=gap,
                distance=0.0,
                evaluations=10,
                evaluations_to_target=[1, 2, 3],
                reached_global=True,
                budget_spent=False,
                scored_on="returned_point",
                trajectory=b"",
            )
        )
        session.commit()
        return submission.id


def test_entries_missing_gap_never_ranks(session_factory):
    first = add_student(session_factory, "s1")
    second = add_student(session_factory, "s2")
    add_scored(session_factory, first, None, None, minutes=0)
    ranked_id = add_scored(session_factory, second, 0.3, 10.0, minutes=1)

    with session_factory() as session:
        ranked = leaderboard.entries(session, "lab3", "public", "best")

    assert [e.submission_id for e in ranked] == [ranked_id]


def test_entries_best_and_latest_rules(session_factory):
    student = add_student(session_factory, "s1")
    best = add_scored(session_factory, student, 0.0, 10.0, minutes=0)
    latest = add_scored(session_factory, student, 0.7, 10.0, minutes=5)

    with session_factory() as session:
        by_best = leaderboard.entries(session, "lab3", "private", "best")
        by_latest = leaderboard.entries(session, "lab3", "private", "latest")

    assert [e.submission_id for e in by_best] == [best]
    assert [e.submission_id for e in by_latest] == [latest]


def test_entries_one_row_per_student(session_factory):
    first = add_student(session_factory, "s1")
    second = add_student(session_factory, "s2")
    for minutes in range(3):
        add_scored(session_factory, first, 0.1 * minutes, 10.0, minutes)
    add_scored(session_factory, second, 0.05, 10.0, minutes=9)

    with session_factory() as session:
        ranked = leaderboard.entries(session, "lab3", "public", "best")

    assert [e.student_pk for e in ranked] == [first, second]


def student_caller(factory) -> Caller:
    with factory() as session:
        return Caller(student=session.get(Student, add_student(factory, "viewer")))


def test_private_board_closed_before_deadline(session_factory):
    caller = student_caller(session_factory)
    with session_factory() as session:
        get_settings(session, "lab3").deadline = utc_now() + dt.timedelta(seconds=60)
        session.commit()

        with pytest.raises(HTTPException) as raised:
            boards.build(session, get_lab("lab3"), "private", caller)

    assert raised.value.status_code == 403
    assert "opens at" in raised.value.detail


def test_private_board_open_after_deadline(session_factory):
    caller = student_caller(session_factory)
    with session_factory() as session:
        get_settings(session, "lab3").deadline = utc_now() - dt.timedelta(seconds=1)
        session.commit()

        board = boards.build(session, get_lab("lab3"), "private", caller)

    assert board.board == "private"


def test_private_board_open_to_ta(session_factory):
    with session_factory() as session:
        board = boards.build(session, get_lab("lab3"), "private", Caller(student=None))

    assert board.rows == []


def test_board_missing_for_lab_without_leaderboard(session_factory):
    with session_factory() as session, pytest.raises(HTTPException) as raised:
        boards.build(session, get_lab("lab1"), "public", None)

    assert raised.value.status_code == 404
