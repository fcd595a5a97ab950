from __future__ import annotations

import math

import pytest
from numpy.testing import assert_allclose

from grader.evaluator import CaseRecord
from grader.scoring import (
    LAST_EVALUATION,
    RETURNED_POINT,
    CaseScore,
    aggregate,
    evaluations_to_target,
    expected_running_time,
    score_case,
)
from reference.labs import get_lab


def case_score(gap: float, evaluations: int, reached_at: tuple[int | None, ...]) -> CaseScore:
    return CaseScore(
        final_point=(0.0,),
        final_f=gap,
        gap=gap,
        distance=0.0,
        evaluations=evaluations,
        evaluations_to_target=reached_at,
        reached_global=gap < 1e-6,
        budget_spent=False,
        scored_on=RETURNED_POINT,
    )


def test_evaluations_to_target_first_crossing():
    values = [5.0, 1.0, 0.05, 0.2, 0.0005, 0.0]

    assert evaluations_to_target(values, 0.0, 1e-1, final_f=0.0) == 3
    assert evaluations_to_target(values, 0.0, 1e-3, final_f=0.0) == 5
    assert evaluations_to_target(values, 0.0, 1e-6, final_f=0.0) == 6


def test_evaluations_to_target_counts_returned_point():
    # The returned point reached the target though no evaluation did: the whole run counts.
    assert evaluations_to_target([3.0, 2.0], 0.0, 1e-3, final_f=0.0) == 2
    assert evaluations_to_target([], 0.0, 1e-3, final_f=0.0) == 0


def test_evaluations_to_target_never_reached():
    assert evaluations_to_target([3.0, 2.0], 0.0, 1e-3, final_f=1.0) is None


def test_expected_running_time_worked_example():
    # Case 1 reached the target after 40 of its 100 evaluations, case 2 never did in 1000,
    # case 3 after 60 of 80: (40 + 1000 + 60) evaluations over 2 successes.
    scores = [
        case_score(0.0, 100, (10, 20, 40)),
        case_score(0.5, 1000, (None, None, None)),
        case_score(0.0, 80, (30, 50, 60)),
    ]

    assert expected_running_time(scores, 2) == 550.0
    assert expected_running_time(scores, 0) == (10 + 1000 + 30) / 2


def test_expected_running_time_none_reached():
    assert expected_running_time([case_score(1.0, 1000, (None, None, None))], 2) is None


def test_aggregate_fraction_and_mean_gap():
    scores = [case_score(0.0, 10, (1, 2, 3)), case_score(0.5, 1000, (None, None, None))]

    combined = aggregate(scores)

    assert combined.cases == 2
    assert combined.solved_fraction == 0.5
    assert combined.mean_gap == 0.25
    assert combined.expected_running_time == (1001.0, 1002.0, 1003.0)


def test_aggregate_infinite_gap():
    combined = aggregate([case_score(math.inf, 1, (None, None, None)), case_score(0.0, 1, (1, 1, 1))])

    assert combined.mean_gap == math.inf


def test_aggregate_rejects_empty():
    with pytest.raises(ValueError, match="empty"):
        aggregate([])


def test_score_case_last_evaluation():
    lab = get_lab("lab3")
    record = CaseRecord(points=[(0.0, 1.948), (0.0, 3.0)], values=[2.41, 0.0], budget_spent=True)

    score = score_case(lab.public, record)

    assert score.scored_on == LAST_EVALUATION
    assert score.final_point == (0.0, 3.0)
    assert score.budget_spent
    assert_allclose(score.gap, 1.8370869680701545, rtol=0, atol=1e-12)
    assert not score.reached_global


def test_score_case_recomputes_returned_value():
    lab = get_lab("lab3")
    # The recorded values are the evaluator's; the returned point is re-evaluated, not taken from them.
    record = CaseRecord(points=[(0.0, 1.948)], values=[-100.0], returned_point=(0.0, 0.12196164045491962))

    score = score_case(lab.public, record)

    assert score.scored_on == RETURNED_POINT
    assert_allclose(score.final_f, -1.8370869680701545, rtol=0, atol=1e-12)
    assert score.reached_global
    assert score.evaluations == 1


def test_score_case_without_any_point():
    with pytest.raises(ValueError, match="no point"):
        score_case(get_lab("lab1").public, CaseRecord())
