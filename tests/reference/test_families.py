"""Property tests for the hidden instance families in reference.families."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.polynomial import polynomial as npoly
from numpy.testing import assert_allclose

from reference.families import (
    MAX_CURVATURE,
    PUBLIC_ANSWER_MIN_GAP,
    SMALL_STEP,
    TEXTBOOK_STEP,
    hidden_instance,
    hidden_instances,
)
from reference.labs import LABS, Instance, get_lab
from reference.objective import SeparablePolynomial

LAB_IDS = sorted(LABS)
SEEDS = st.integers(0, 2**32 - 1)
PROPERTY = settings(max_examples=60, deadline=None)


def gradient_descent(instance: Instance, step: float, steps: int) -> list[float]:
    """Run plain gradient descent with a fixed step from the start and return the last point."""
    point = list(instance.start_point)
    for _ in range(steps):
        _, gradient = instance.objective.value_and_gradient(point)
        point = [p - step * g for p, g in zip(point, gradient, strict=True)]
    return point


def descend_to_rest(objective: SeparablePolynomial, start: float, step: float) -> float:
    """Run 1-D gradient descent until the gradient is below 1e-11, for at most 100 000 steps."""
    point = start
    for _ in range(100_000):
        _, (gradient,) = objective.value_and_gradient((point,))
        if abs(gradient) < 1e-11:
            break
        point -= step * gradient
    return point


def y_objective(instance: Instance) -> SeparablePolynomial:
    """Return the y part of a lab3 instance.

    f is separable, so gradient descent moves y by this part's gradient alone.
    """
    return SeparablePolynomial((instance.objective.coefficients[1],), scale=instance.objective.scale)


def second_derivative(instance: Instance, point: Sequence[float]) -> float:
    """Return f'' along the last coordinate at ``point``."""
    coefficients = np.asarray(instance.objective.coefficients[-1])
    return instance.objective.scale * float(npoly.polyval(point[-1], npoly.polyder(coefficients, 2)))


def grid_minimum(instance: Instance, margin: float, points: int) -> float:
    """Return min f over a grid that spans the critical points plus ``margin`` on every axis."""
    axes = []
    for axis in range(instance.objective.dimension):
        coordinates = [c.point[axis] for c in instance.critical_points]
        grid = np.linspace(min(coordinates) - margin, max(coordinates) + margin, points)
        axes.append(npoly.polyval(grid, np.asarray(instance.objective.coefficients[axis])))
    # f is separable, so its minimum over the product grid is the sum of per-axis minima.
    total = sum(values.min() for values in axes)
    return instance.objective.scale * float(total)


def kinds_by_position(instance: Instance) -> list[tuple[float, str]]:
    """Return (last coordinate, kind) of every critical point, sorted by that coordinate."""
    return sorted((c.point[-1], c.kind) for c in instance.critical_points)


@pytest.mark.parametrize("lab_id", LAB_IDS)
@PROPERTY
@given(seed=SEEDS)
def test_instance_has_lab_dimension(lab_id, seed):
    instance = hidden_instance(lab_id, seed)

    assert instance.objective.dimension == get_lab(lab_id).dimension
    assert len(instance.start_point) == get_lab(lab_id).dimension


@pytest.mark.parametrize("lab_id", LAB_IDS)
@PROPERTY
@given(seed=SEEDS)
def test_minimiser_has_zero_gradient(lab_id, seed):
    instance = hidden_instance(lab_id, seed)

    value, gradient = instance.objective.value_and_gradient(instance.minimiser)

    assert_allclose(gradient, 0.0, rtol=0, atol=1e-9)
    assert_allclose(value, instance.f_star, rtol=0, atol=1e-12)
    assert instance.critical_points[0].kind == "global minimum"


@pytest.mark.parametrize("lab_id", LAB_IDS)
@PROPERTY
@given(seed=SEEDS)
def test_f_star_is_lowest_critical_value(lab_id, seed):
    instance = hidden_instance(lab_id, seed)

    for point in instance.critical_points[1:]:
        assert point.value > instance.f_star, point


@pytest.mark.parametrize("lab_id", LAB_IDS)
@PROPERTY
@given(seed=SEEDS)
def test_f_star_matches_grid_minimum(lab_id, seed):
    instance = hidden_instance(lab_id, seed)

    # lab1 is so flat that its interesting region is wide.
    margin = {"lab1": 100.0, "lab2": 2.0, "lab3": 2.0}[lab_id]

    lowest = grid_minimum(instance, margin=margin, points=40_001)

    assert lowest >= instance.f_star - 1e-9
    assert_allclose(lowest, instance.f_star, rtol=0, atol=1e-4)


@pytest.mark.parametrize("lab_id", LAB_IDS)
@PROPERTY
@given(seed=SEEDS)
def test_public_minimiser_misses_loosest_target(lab_id, seed):
    instance = hidden_instance(lab_id, seed)
    public_minimiser = get_lab(lab_id).public.minimiser

    gap = instance.objective.value(public_minimiser) - instance.f_star

    assert gap >= PUBLIC_ANSWER_MIN_GAP


@pytest.mark.parametrize("lab_id", ["lab2", "lab3"])
@PROPERTY
@given(seed=SEEDS)
def test_curvature_at_minima_is_bounded(lab_id, seed):
    instance = hidden_instance(lab_id, seed)

    for point in instance.critical_points:
        if point.kind.endswith("minimum"):
            assert 0.0 < second_derivative(instance, point.point) <= MAX_CURVATURE, point


@pytest.mark.parametrize("lab_id", LAB_IDS)
@PROPERTY
@given(seed=SEEDS)
def test_same_seed_gives_same_instance(lab_id, seed):
    first = hidden_instance(lab_id, seed)
    second = hidden_instance(lab_id, seed)

    assert first == second
    assert first.minimiser == second.minimiser
    assert first.f_star == second.f_star


@pytest.mark.parametrize("lab_id", LAB_IDS)
def test_different_seeds_give_different_instances(lab_id):
    instances = hidden_instances(lab_id, range(50))

    assert len(set(instances)) == 50
    assert len({instance.minimiser for instance in instances}) == 50


def test_hidden_instances_matches_hidden_instance():
    seeds = [3, 1, 4, 1, 5]

    assert hidden_instances("lab2", seeds) == [hidden_instance("lab2", s) for s in seeds]


def test_numpy_integer_seed_matches_int_seed():
    numpy_seed = np.int64(7)

    from_numpy = hidden_instance("lab3", numpy_seed)  # type: ignore[arg-type]

    assert from_numpy == hidden_instance("lab3", 7)


def test_seed_zero_instances_are_pinned():
    # Exact values guard reproducibility, because any change to the draws changes the hidden instances.
    lab1 = hidden_instance("lab1", 0)
    lab2 = hidden_instance("lab2", 0)
    lab3 = hidden_instance("lab3", 0)

    assert lab1.objective == SeparablePolynomial(((1.5656457599999996, 0.021145599999999997, 5.9e-05),))
    assert lab1.start_point == (-47100.0,)
    assert lab2.objective == SeparablePolynomial(
        ((-1.742, 3.511854892, -0.4335380000000002, -2.489333333333333, 1.0),), scale=0.741
    )
    assert lab2.start_point == (1.54,)
    assert lab3.objective == SeparablePolynomial(
        (
            (0.5157249999999999, 2.9469999999999996, 4.21),
            (
                -77.621,
                -91.91062102517064,
                18.493684418412002,
                47.61703430000001,
                -3.079477500000001,
                -6.06,
                1.0,
            ),
        ),
        scale=0.0183,
    )
    assert lab3.start_point == (-0.24, 2.9148)


def test_unknown_lab_raises_key_error():
    with pytest.raises(KeyError, match="lab1, lab2, lab3"):
        hidden_instance("lab4", 0)


def test_non_integer_seed_raises_type_error():
    with pytest.raises(TypeError):
        hidden_instance("lab1", 1.5)  # type: ignore[arg-type]


@PROPERTY
@given(seed=SEEDS)
def test_lab1_textbook_step_stalls(seed):
    instance = hidden_instance("lab1", seed)
    budget = get_lab("lab1").budget

    end = gradient_descent(instance, TEXTBOOK_STEP, budget)

    assert instance.objective.value(end) - instance.f_star > 1e-3


@PROPERTY
@given(seed=SEEDS)
def test_lab1_large_steps_converge(seed):
    instance = hidden_instance("lab1", seed)
    budget = get_lab("lab1").budget
    curvature = instance.objective.coefficients[0][2] * instance.objective.scale

    # 2000 is below 1/a for every a in the family, and 0.5/a reaches the minimiser in one step.
    for step in (2000.0, 0.5 / curvature, 0.9 / curvature):
        end = gradient_descent(instance, step, budget)
        assert instance.objective.value(end) - instance.f_star <= 1e-6, step


@PROPERTY
@given(seed=SEEDS)
def test_lab1_start_is_far_from_minimiser(seed):
    instance = hidden_instance("lab1", seed)

    assert abs(instance.start_point[0] - instance.minimiser[0]) >= 19_000


@PROPERTY
@given(seed=SEEDS)
def test_lab2_critical_point_kinds(seed):
    instance = hidden_instance("lab2", seed)

    kinds = [kind for _, kind in kinds_by_position(instance)]

    assert kinds in (
        ["local minimum", "local maximum", "global minimum"],
        ["global minimum", "local maximum", "local minimum"],
    )


@PROPERTY
@given(seed=SEEDS)
def test_lab2_local_minimum_is_clearly_higher(seed):
    instance = hidden_instance("lab2", seed)

    (local,) = [c for c in instance.critical_points if c.kind == "local minimum"]

    assert local.value - instance.f_star >= 0.3


@PROPERTY
@given(seed=SEEDS)
def test_lab2_small_step_ends_at_local_minimum(seed):
    instance = hidden_instance("lab2", seed)
    budget = get_lab("lab2").budget
    (local,) = [c for c in instance.critical_points if c.kind == "local minimum"]

    end = gradient_descent(instance, SMALL_STEP, budget)

    assert_allclose(end, local.point, rtol=0, atol=1e-3)
    assert instance.objective.value(end) - instance.f_star > 0.1


def test_lab2_global_minimum_appears_on_both_sides():
    sides = set()
    for instance in hidden_instances("lab2", range(100)):
        kinds = [kind for _, kind in kinds_by_position(instance)]
        sides.add(kinds[0])

    assert sides == {"local minimum", "global minimum"}


@PROPERTY
@given(seed=SEEDS)
def test_lab3_y_critical_points_alternate(seed):
    instance = hidden_instance("lab3", seed)

    kinds = [kind for _, kind in kinds_by_position(instance)]

    assert kinds == [
        "local minimum",
        "saddle point",
        "global minimum",
        "saddle point",
        "local minimum",
    ]


@PROPERTY
@given(seed=SEEDS)
def test_lab3_start_is_just_past_hill(seed):
    instance = hidden_instance("lab3", seed)
    start_y = instance.start_point[1]
    global_y = instance.minimiser[1]
    saddles = [c.point[1] for c in instance.critical_points if c.kind == "saddle point"]

    hill_y = min(saddles, key=lambda y: abs(y - start_y))

    assert 5e-5 <= abs(start_y - hill_y) <= 1.5e-3
    assert (start_y - hill_y) * (global_y - hill_y) < 0


@PROPERTY
@given(seed=SEEDS)
def test_lab3_other_minima_are_clearly_higher(seed):
    instance = hidden_instance("lab3", seed)

    for point in instance.critical_points:
        if point.kind == "local minimum":
            assert point.value - instance.f_star >= 0.3, point


@PROPERTY
@given(seed=SEEDS)
def test_lab3_small_step_ends_at_other_minimum(seed):
    instance = hidden_instance("lab3", seed)
    budget = get_lab("lab3").budget
    local_ys = [c.point[1] for c in instance.critical_points if c.kind == "local minimum"]

    end_y = descend_to_rest(y_objective(instance), instance.start_point[1], SMALL_STEP)
    end_within_budget = gradient_descent(instance, SMALL_STEP, budget)

    reached = min(local_ys, key=lambda y: abs(y - end_y))
    assert_allclose(end_y, reached, rtol=0, atol=1e-6)
    assert instance.objective.value(end_within_budget) - instance.f_star > 0.1


def test_lab3_start_appears_on_both_sides():
    sides = set()
    for instance in hidden_instances("lab3", range(100)):
        sides.add(instance.start_point[1] > instance.minimiser[1])

    assert sides == {True, False}


def nesterov_gap(instance, step, momentum, steps):
    """Run torch.optim.SGD's Nesterov update for ``steps`` evaluations and return the final gap."""
    point = list(instance.start_point)
    buffer = [0.0] * len(point)
    for _ in range(steps):
        _, gradient = instance.objective.value_and_gradient(point)
        buffer = [momentum * b + g for b, g in zip(buffer, gradient)]
        point = [p - step * (g + momentum * b) for p, g, b in zip(point, gradient, buffer)]
    return instance.objective.value(point) - instance.f_star


@PROPERTY
@given(seed=SEEDS)
def test_lab3_nesterov_reaches_global_minimum(seed):
    instance = hidden_instance("lab3", seed)

    assert nesterov_gap(instance, step=0.1, momentum=0.9, steps=1000) < 1e-6


def test_lab3_public_nesterov_reaches_global_minimum():
    assert nesterov_gap(get_lab("lab3").public, step=0.1, momentum=0.9, steps=1000) < 1e-6
