"""Real solutions to the three labs, graded in the sandbox, with the outcomes the lab sheets describe.

Plain-Python solutions estimate the gradient by central differences, two
evaluations per coordinate, because ``func`` on a float or a list returns the
value only. The solutions that need one evaluation per step use torch, where
``func`` returns a tensor whose ``backward()`` fills the gradient.
"""

from __future__ import annotations

import json

import pytest
from numpy.testing import assert_allclose

from grader.scoring import LAST_EVALUATION, RETURNED_POINT
from grader.verdicts import Verdict
from tests.conftest import Grader

# Points and values to more digits than the lab sheets give, from tests/reference/test_labs.py.
LAB2_LOCAL_MINIMISER = -0.5203146809745361
LAB2_LOCAL_MINIMUM = -1.0650604644062122
LAB2_GLOBAL_MINIMISER = 2.075972408704097
LAB2_GLOBAL_MINIMUM = -2.039115763285697
LAB3_GLOBAL_Y = 0.12196164045491962
LAB3_GLOBAL_MINIMUM = -1.8370869680701545

CENTRAL_DIFFERENCE = """
def gradient(func, point, h=1e-6):
    result = []
    for i in range(len(point)):
        forward = list(point)
        backward = list(point)
        forward[i] += h
        backward[i] -= h
        result.append((func(forward) - func(backward)) / (2 * h))
    return result
"""

GRADIENT_DESCENT = (
    CENTRAL_DIFFERENCE
    + """
def solution(func, start_point):
    scalar = isinstance(start_point, float)
    point = [start_point] if scalar else list(start_point)
    for _ in range(STEPS):
        point = [p - STEP * g for p, g in zip(point, gradient(func, point))]
    return point[0] if scalar else point
"""
)

TORCH_GRADIENT_DESCENT = """
import torch

def solution(func, start_point):
    x = torch.tensor(start_point, dtype=torch.float64, requires_grad=True)
    for _ in range(1000):
        func(x).backward()
        with torch.no_grad():
            x -= STEP * x.grad
        x.grad = None
    return x
"""

# Adam's first steps move by about lr whatever the gradient's size, so lr=1 jumps out of the
# local minimum's basin. In a scan with the exact gradient, every lr from 0.75 to 1.5 ended at the
# global minimum, and 0.7 and 1.55 did not.
ADAM = (
    CENTRAL_DIFFERENCE
    + """
import math

def solution(func, start_point):
    x, m, v = start_point, 0.0, 0.0
    lr, beta1, beta2 = 1.0, 0.9, 0.999
    for k in range(1, 501):
        (g,) = gradient(func, [x])
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        x -= lr * (m / (1 - beta1**k)) / (math.sqrt(v / (1 - beta2**k)) + 1e-8)
    return x
"""
)

TORCH_NESTEROV = """
import torch

def solution(func, start_point):
    x = torch.tensor(start_point, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.SGD([x], lr=0.1, momentum=0.9, nesterov=True)
    for _ in range(500):
        optimizer.zero_grad()
        func(x).backward()
        optimizer.step()
    return x.detach()
"""


def gradient_descent(step: float, steps: int) -> str:
    return GRADIENT_DESCENT.replace("STEPS", str(steps)).replace("STEP", repr(step))


def test_lab1_small_step_stalls(grade_code: Grader):
    result = grade_code("lab1", TORCH_GRADIENT_DESCENT.replace("STEP", "0.1"))

    assert result.verdict is Verdict.ACCEPTED, result.detail
    score = result.scores[0]
    # f' = 0.0002 x, so each step multiplies x by 1 - 0.1 * 0.0002.
    assert_allclose(score.final_point[0], 50_000 * (1 - 0.1 * 0.0002) ** 1000, rtol=1e-9)
    assert_allclose(score.final_point[0], 49_010, atol=0.1)
    assert score.evaluations == 1000
    assert score.budget_spent is False
    assert score.reached_global is False


def test_lab1_large_step_converges(grade_code: Grader):
    result = grade_code("lab1", TORCH_GRADIENT_DESCENT.replace("STEP", "1000.0"))

    assert result.verdict is Verdict.ACCEPTED, result.detail
    score = result.scores[0]
    # Each step multiplies x by 1 - 1000 * 0.0002 = 0.8.
    assert_allclose(score.final_point[0], 0.0, atol=1e-6)
    assert score.reached_global is True
    assert score.gap < 1e-6


def test_lab2_gradient_descent_local_minimum(grade_code: Grader):
    result = grade_code("lab2", gradient_descent(step=0.01, steps=500))

    assert result.verdict is Verdict.ACCEPTED, result.detail
    score = result.scores[0]
    assert_allclose(score.final_point[0], LAB2_LOCAL_MINIMISER, atol=1e-8)
    assert_allclose(score.final_f, LAB2_LOCAL_MINIMUM, atol=1e-10)
    assert_allclose(score.gap, LAB2_LOCAL_MINIMUM - LAB2_GLOBAL_MINIMUM, atol=1e-10)
    assert score.reached_global is False
    assert score.evaluations == 1000


def test_lab2_adam_crosses_hill(grade_code: Grader):
    result = grade_code("lab2", ADAM)

    assert result.verdict is Verdict.ACCEPTED, result.detail
    score = result.scores[0]
    assert_allclose(score.final_point[0], LAB2_GLOBAL_MINIMISER, atol=1e-6)
    assert_allclose(score.final_f, LAB2_GLOBAL_MINIMUM, atol=1e-9)
    assert score.reached_global is True


def test_lab3_gradient_descent_slides_away(grade_code: Grader):
    result = grade_code("lab3", gradient_descent(step=0.01, steps=250))

    assert result.verdict is Verdict.ACCEPTED, result.detail
    score = result.scores[0]
    assert_allclose(score.final_point, (0.0, 3.0), atol=1e-6)
    assert_allclose(score.final_f, 0.0, atol=1e-9)
    assert score.reached_global is False


def test_lab3_torch_nesterov_global(grade_code: Grader):
    result = grade_code("lab3", TORCH_NESTEROV)

    assert result.verdict is Verdict.ACCEPTED, result.detail
    score = result.scores[0]
    assert_allclose(score.final_point, (0.0, LAB3_GLOBAL_Y), atol=1e-6)
    assert_allclose(score.final_f, LAB3_GLOBAL_MINIMUM, atol=1e-9)
    assert score.reached_global is True
    assert score.evaluations == 500
    assert score.scored_on == RETURNED_POINT


def test_budget_overrun_scores_last_evaluation(grade_code: Grader):
    code = """
    def solution(func, start_point):
        k = 0
        while True:  # Never returns: func raises once the budget is spent.
            func(start_point - k)
            k += 1
    """
    result = grade_code("lab1", code)

    assert result.verdict is Verdict.ACCEPTED, result.detail
    score = result.scores[0]
    assert score.scored_on == LAST_EVALUATION
    assert score.budget_spent is True
    assert score.evaluations == 1000
    assert score.final_point == (50_000.0 - 999,)
    assert_allclose(score.final_f, 0.0001 * (50_000.0 - 999) ** 2, rtol=1e-12)


def test_budget_caught_scores_returned_point(grade_code: Grader):
    code = """
    def solution(func, start_point):
        try:
            while True:
                func(start_point)
        except Exception as error:
            print(error)
        return 123.0
    """
    result = grade_code("lab1", code)

    assert result.verdict is Verdict.ACCEPTED, result.detail
    score = result.scores[0]
    assert score.scored_on == RETURNED_POINT
    assert score.budget_spent is True
    assert score.evaluations == 1000
    assert score.final_point == (123.0,)
    assert "evaluation budget of 1000 calls of func is spent" in result.stdout


def test_func_accepts_1d_points(grade_code: Grader):
    code = """
    import json
    import numpy as np

    def solution(func, start_point):
        values = [func(3.0), func(3), func([3.0]), func((3.0,)), func(np.float64(3.0)), func(np.array([3.0]))]
        print(json.dumps({"values": values, "types": sorted({type(v).__name__ for v in values})}))
        return start_point
    """
    result = grade_code("lab1", code)

    assert result.verdict is Verdict.ACCEPTED, result.detail
    output = json.loads(result.stdout)
    assert_allclose(output["values"], [0.0001 * 9] * 6, rtol=1e-15)
    assert output["types"] == ["float"]
    assert result.records[0].points == [(3.0,)] * 6
    assert result.scores[0].evaluations == 6


def test_func_accepts_2d_points_and_tensor(grade_code: Grader):
    code = """
    import json
    import numpy as np
    import torch

    def solution(func, start_point):
        output = {"list": func([1.0, 2.0]), "tuple": func((1.0, 2.0)), "numpy": func(np.array([1.0, 2.0]))}
        x = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
        value = func(x)
        value.backward()
        output["tensor"] = value.item()
        output["tensor_dim"] = value.dim()
        output["tensor_dtype"] = str(value.dtype)
        output["gradient"] = x.grad.tolist()
        print(json.dumps(output))
        return start_point
    """
    result = grade_code("lab3", code)

    assert result.verdict is Verdict.ACCEPTED, result.detail
    output = json.loads(result.stdout)
    # By hand: f(1, 2) = (1 + (-1)**2 * 4**2 * 1 * 3) / 20 = 2.45 and df/dx = 2x / 20 = 0.1.
    # With q(y) = (y-3)**2 * (y+2)**2 * (y**2-1), q'(2) = -96 + 24 + 64 = -8, so df/dy = -0.4.
    for kind in ("list", "tuple", "numpy", "tensor"):
        assert_allclose(output[kind], 2.45, rtol=1e-15, err_msg=kind)
    assert output["tensor_dim"] == 0
    assert output["tensor_dtype"] == "torch.float64"
    assert_allclose(output["gradient"], [0.1, -0.4], rtol=1e-14)
    assert result.records[0].points == [(1.0, 2.0)] * 4


@pytest.mark.parametrize(
    ("argument", "message"),
    [
        ("[1.0, 2.0, 3.0]", "func expects a point with 2 coordinate(s), got 3"),
        ("np.array([1.0])", "func expects a point with 2 coordinate(s), got 1"),
        ("['1.0', 2.0]", "func expects real numbers, got str"),
    ],
    ids=["list", "numpy", "string"],
)
def test_func_rejects_bad_point(grade_code: Grader, argument: str, message: str):
    code = f"""
    import numpy as np

    def solution(func, start_point):
        return func({argument})
    """
    result = grade_code("lab3", code)

    assert result.verdict is Verdict.RUNTIME_ERROR
    assert message in result.detail
    assert 'File "/sandbox/solution.py", line 5, in solution' in result.detail
    assert result.records[0].points == []


def test_evaluations_to_target_from_record(grade_code: Grader):
    # The solution halves x from 50000 and then returns its start point, so the
    # counts can come only from the evaluated points, not from the returned one.
    code = """
    def solution(func, start_point):
        for k in range(30):
            func(start_point * 0.5**k)
        return start_point
    """
    result = grade_code("lab1", code)

    assert result.verdict is Verdict.ACCEPTED, result.detail
    trajectory = [50_000.0 * 0.5**k for k in range(30)]
    assert result.records[0].points == [(x,) for x in trajectory]
    values = [0.0001 * x**2 for x in trajectory]
    expected = tuple(next(i for i, f in enumerate(values, 1) if f < target) for target in (1e-1, 1e-3, 1e-6))
    # By hand: f < 0.1 first at x = 50000 / 2**11, f < 1e-3 at 2**14 and f < 1e-6 at 2**19,
    # which are the 12th, 15th and 20th evaluations.
    assert expected == (12, 15, 20)
    score = result.scores[0]
    assert score.evaluations_to_target == expected
    assert score.evaluations == 30
    assert score.final_point == (50_000.0,)
    assert score.reached_global is False
