from __future__ import annotations

import math

from grader.evaluator import CaseRecord
from grader.feedback import diagnose
from grader.scoring import score_case
from reference.labs import Instance, get_lab


def gradient_descent(instance: Instance, step: float, steps: int) -> CaseRecord:
    """Record plain gradient descent as the evaluator would: one evaluation per step."""
    record = CaseRecord()
    point = list(instance.start_point)
    for _ in range(steps):
        value, gradient = instance.objective.value_and_gradient(point)
        record.points.append(tuple(point))
        record.values.append(value)
        point = [p - step * g for p, g in zip(point, gradient)]
    record.returned_point = tuple(point)
    return record


def diagnosis(lab_id: str, record: CaseRecord):
    instance = get_lab(lab_id).public
    return diagnose(instance, record, score_case(instance, record))


def test_feedback_converged():
    assert diagnosis("lab1", gradient_descent(get_lab("lab1").public, 1000.0, 200)).kind == "converged"


def test_feedback_lab3_descent_names_local_minimum():
    feedback = diagnosis("lab3", gradient_descent(get_lab("lab3").public, 0.01, 1000))

    assert feedback.kind == "stopped_at_critical_point"
    assert feedback.critical_point is not None
    assert feedback.critical_point.kind == "local minimum"
    assert math.isclose(feedback.critical_point.point[1], 3.0)


def test_feedback_lab2_descent_names_local_minimum():
    feedback = diagnosis("lab2", gradient_descent(get_lab("lab2").public, 0.01, 1000))

    assert feedback.kind == "stopped_at_critical_point"
    assert feedback.critical_point is not None
    assert math.isclose(feedback.critical_point.point[0], -0.5203146809745361, abs_tol=1e-9)


def test_feedback_lab1_small_step_stalls():
    assert diagnosis("lab1", gradient_descent(get_lab("lab1").public, 0.1, 1000)).kind == "stalled"


def test_feedback_step_too_large_oscillates():
    # Step 9999 flips the sign of x each step and shrinks it by only 1e-4 per step, about 0.02 in total.
    assert diagnosis("lab1", gradient_descent(get_lab("lab1").public, 9999.0, 200)).kind == "oscillating"


def test_feedback_step_beyond_stability_diverges():
    assert diagnosis("lab1", gradient_descent(get_lab("lab1").public, 20000.0, 50)).kind == "diverged"


def test_feedback_non_finite_value_diverges():
    record = CaseRecord(points=[(1.0,), (1e300,)], values=[1e-4, math.inf], returned_point=(3.0,))

    assert diagnosis("lab1", record).kind == "diverged"


def test_feedback_returned_without_evaluating():
    assert diagnosis("lab3", CaseRecord(returned_point=(0.0, 1.0))).kind == "not_evaluated"


def test_feedback_unfinished_run():
    # Three steps of 3000 multiply x by 0.4 each: still far from 0, but moving well.
    assert diagnosis("lab1", gradient_descent(get_lab("lab1").public, 3000.0, 3)).kind == "unfinished"
