"""Exact optima of the public lab instances."""

from __future__ import annotations

from numpy.testing import assert_allclose

from reference.labs import get_lab

ATOL = 1e-12


def critical_values_by_position(lab_id: str) -> list[tuple[float, float, str]]:
    """Return (last coordinate, value, kind) of every critical point, sorted by that coordinate."""
    points = get_lab(lab_id).public.critical_points
    return sorted((c.point[-1], c.value, c.kind) for c in points)


def test_lab1_optimum_and_start_value():
    instance = get_lab("lab1").public

    assert_allclose(instance.minimiser, (0.0,), rtol=0, atol=ATOL)
    assert_allclose(instance.f_star, 0.0, rtol=0, atol=ATOL)
    assert_allclose(instance.objective.value(instance.start_point), 250_000.0, rtol=0, atol=ATOL)
    assert len(instance.critical_points) == 1


def test_lab2_optimum():
    instance = get_lab("lab2").public

    assert_allclose(instance.minimiser, (2.075972408704097,), rtol=0, atol=ATOL)
    assert_allclose(instance.f_star, -2.039115763285697, rtol=0, atol=ATOL)


def test_lab2_critical_points():
    points = critical_values_by_position("lab2")

    assert [kind for _, _, kind in points] == ["local minimum", "local maximum", "global minimum"]
    assert_allclose(
        [position for position, _, _ in points],
        [-0.5203146809745361, 0.6943422722704391, 2.075972408704097],
        rtol=0,
        atol=ATOL,
    )
    assert_allclose(
        [value for _, value, _ in points],
        [-1.0650604644062122, 1.3112074776919087, -2.039115763285697],
        rtol=0,
        atol=ATOL,
    )


def test_lab3_optimum():
    instance = get_lab("lab3").public

    assert_allclose(instance.minimiser, (0.0, 0.12196164045491962), rtol=0, atol=ATOL)
    assert_allclose(instance.f_star, -1.8370869680701545, rtol=0, atol=ATOL)


def test_lab3_critical_points():
    points = critical_values_by_position("lab3")

    assert [kind for _, _, kind in points] == [
        "local minimum",
        "saddle point",
        "global minimum",
        "saddle point",
        "local minimum",
    ]
    assert_allclose(
        [position for position, _, _ in points],
        [-2.0, -1.403140153730534, 0.12196164045491962, 1.9478451799422809, 3.0],
        rtol=0,
        atol=ATOL,
    )
    assert_allclose(
        [value for _, value, _ in points],
        [0.0, 0.3345606858908375, -1.8370869680701545, 2.410413799326093, 0.0],
        rtol=0,
        atol=ATOL,
    )
    for c in get_lab("lab3").public.critical_points:
        assert_allclose(c.point[0], 0.0, rtol=0, atol=ATOL)
