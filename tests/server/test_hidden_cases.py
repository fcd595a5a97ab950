"""Grading over hidden cases end to end in the sandbox, then ranking and rescoring from the database."""

from __future__ import annotations

import pytest

from grader import sandbox, scoring
from grader.grading import grade
from grader.sandbox import Limits
from reference.families import hidden_instances
from reference.labs import get_lab
from server import leaderboard
from server.models import Submission
from server.rescore import rescore_lab
from server.routes.submissions import submission_public
from tests.conftest import SANDBOX_MODE
from tests.server.conftest import add_student, store_result

SEEDS = [735019, 880421, 1402377]
HARD_CODED = """
def solution(func, start_point):
    return (0.0, 0.12196164045491962)
"""
NESTEROV = """
import torch

def solution(func, start_point):
    x = torch.tensor(start_point, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.SGD([x], lr=0.1, momentum=0.9, nesterov=True)
    for _ in range(1000):
        optimizer.zero_grad()
        func(x).backward()
        optimizer.step()
    return x.detach()
"""


def grade_with_hidden(code: str, tmp_path):
    lab = get_lab("lab3")
    cases = [lab.public, *hidden_instances("lab3", SEEDS)]
    return grade(code, lab, cases, Limits(), SANDBOX_MODE, work_root=tmp_path, seeds=[None, *SEEDS])


@pytest.fixture
def two_students(session_factory, tmp_path):
    """Store a hard-coded public optimum and a genuine Nesterov solution, both graded on hidden cases."""
    hard_coded = store_result(
        session_factory, add_student(session_factory, "hard"), "lab3", grade_with_hidden(HARD_CODED, tmp_path)
    )
    nesterov = store_result(
        session_factory, add_student(session_factory, "nest"), "lab3", grade_with_hidden(NESTEROV, tmp_path)
    )
    return hard_coded, nesterov


def board(factory, name: str) -> list[int]:
    with factory() as session:
        return [e.submission_id for e in leaderboard.entries(session, "lab3", name, "best")]


def test_hard_coded_answer_wins_only_public_board(session_factory, two_students):
    hard_coded, nesterov = two_students

    assert board(session_factory, "public") == [hard_coded, nesterov]
    assert board(session_factory, "private") == [nesterov, hard_coded]


def test_hard_coded_answer_scores(session_factory, two_students):
    hard_coded, nesterov = two_students
    with session_factory() as session:
        cheat = session.get(Submission, hard_coded)
        genuine = session.get(Submission, nesterov)

    assert cheat.public_gap == 0.0
    assert cheat.hidden_mean_gap >= 0.5
    assert cheat.summary["hidden"]["solved_fraction"] == 0.0
    assert genuine.summary["hidden"]["solved_fraction"] == 1.0
    assert genuine.hidden_mean_gap < 1e-6


def test_student_view_hides_hidden_cases(session_factory, two_students):
    _, nesterov = two_students
    with session_factory() as session:
        submission = session.get(Submission, nesterov)
        hidden_points = [case.final_point for case in submission.cases if case.hidden]
        body = submission_public(submission).model_dump_json()

    assert '"hidden":{"cases":3' in body
    for seed in SEEDS:
        assert str(seed) not in body
    for point in hidden_points:
        assert repr(point[1]) not in body
    for instance in hidden_instances("lab3", SEEDS):
        assert repr(instance.f_star) not in body
        assert repr(instance.start_point[1]) not in body


def forbid_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_runs(*args: object, **kwargs: object) -> None:
        raise AssertionError("a rescore must not start a runner")

    monkeypatch.setattr(sandbox, "start", no_runs)


def test_rescore_updates_stored_scores(session_factory, two_students, monkeypatch):
    hard_coded, nesterov = two_students
    forbid_runs(monkeypatch)
    # A rule change so lax that the hard-coded answer's hidden gaps count as reached.
    monkeypatch.setattr(scoring, "TARGET_GAPS", (10.0, 10.0, 10.0))
    monkeypatch.setattr(scoring, "REACHED_GAP", 10.0)

    with session_factory() as session:
        report = rescore_lab(session, "lab3")

    assert report.submissions == 2
    assert sorted(report.changed) == sorted([hard_coded, nesterov])
    with session_factory() as session:
        cheat = session.get(Submission, hard_coded)
        assert cheat.summary["hidden"]["solved_fraction"] == 1.0
        assert cheat.hidden_ert == 0.0


def scripted(coarse: int, fine: int) -> str:
    """A solution that evaluates ``coarse`` points with gap ~2.5e-2, ``fine`` with gap ~2.5e-4, then the minimiser."""
    return f"""
Y = 0.12196164045491962

def solution(func, start_point):
    for _ in range({coarse}):
        func((0.0, Y + 0.1))
    for _ in range({fine}):
        func((0.0, Y + 0.01))
    func((0.0, Y))
    return (0.0, Y)
"""


def test_rescore_target_change_reorders_board(session_factory, tmp_path, monkeypatch):
    lab = get_lab("lab3")
    # "early" gets below 1e-3 at evaluation 20 but below 1e-6 only at 100; "late" at 40 and 60.
    results = {
        name: grade(scripted(coarse, fine), lab, [lab.public], Limits(), SANDBOX_MODE, work_root=tmp_path)
        for name, coarse, fine in (("early", 19, 80), ("late", 39, 20))
    }
    early = store_result(session_factory, add_student(session_factory, "early"), "lab3", results["early"])
    late = store_result(session_factory, add_student(session_factory, "late"), "lab3", results["late"])
    assert results["early"].scores[0].evaluations_to_target == (1, 20, 100)
    assert board(session_factory, "public") == [late, early]

    forbid_runs(monkeypatch)
    monkeypatch.setattr(scoring, "TARGET_GAPS", (1e-1, 1e-2, 1e-3))
    with session_factory() as session:
        report = rescore_lab(session, "lab3")

    assert report.rank_changes["public"] == {"early": [2, 1], "late": [1, 2]}
    assert board(session_factory, "public") == [early, late]
