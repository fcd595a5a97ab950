"""Separable polynomial objectives with analytic gradients.

Every lab function is a sum of one polynomial per coordinate, scaled by a
constant: ``f(p) = scale * sum_i P_i(p_i)``. Lab 1 and Lab 2 are one
polynomial in one variable; Lab 3 is ``(x**2 + q(y)) / 20``. Keeping the
coefficients exact (integers or short decimals) and the scale apart makes the
critical points computable to full double precision.

Evaluation is plain Python (Horner's scheme), because the evaluator computes
one point at a time and NumPy's per-call overhead would exceed the arithmetic.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.polynomial import polynomial as npoly

Coefficients = tuple[float, ...]
"""Polynomial coefficients in ascending order of degree, as NumPy's
``numpy.polynomial`` uses them: ``(c0, c1, c2)`` is ``c0 + c1*t + c2*t**2``."""


@dataclass(frozen=True)
class CriticalPoint:
    """A point where the gradient vanishes.

    Attributes
    ----------
    point : tuple of float
        Coordinates, one per dimension.
    value : float
        ``f(point)``.
    kind : str
        ``"global minimum"``, ``"local minimum"``, ``"local maximum"`` or
        ``"saddle point"``.
    """

    point: tuple[float, ...]
    value: float
    kind: str


@dataclass(frozen=True)
class SeparablePolynomial:
    """``f(p) = scale * sum_i P_i(p_i)`` with one polynomial per coordinate.

    Attributes
    ----------
    coefficients : tuple of Coefficients
        One ascending coefficient tuple per coordinate.
    scale : float
        Positive factor applied to the sum.
    """

    coefficients: tuple[Coefficients, ...]
    scale: float = 1.0

    def __post_init__(self) -> None:
        if self.scale <= 0:
            raise ValueError(f"scale must be positive, got {self.scale!r}")
        for axis, coefficients in enumerate(self.coefficients):
            if len(coefficients) < 3 or coefficients[-1] <= 0 or (len(coefficients) - 1) % 2:
                raise ValueError(
                    f"coordinate {axis} needs an even-degree polynomial with a positive "
                    f"leading coefficient so that f is bounded below, got {coefficients!r}"
                )

    @property
    def dimension(self) -> int:
        return len(self.coefficients)

    def value_and_gradient(self, point: Sequence[float]) -> tuple[float, list[float]]:
        """Return ``f(point)`` and its gradient, computed in float64.

        ``point`` must have ``dimension`` entries; the caller checks that.
        Overflow gives ``inf`` or ``nan`` rather than an exception, as IEEE
        arithmetic does.
        """
        total = 0.0
        gradient = []
        for coefficients, t in zip(self.coefficients, point):
            value = 0.0
            slope = 0.0
            # Horner's scheme for P and P' together: slope accumulates P'(t).
            for c in reversed(coefficients):
                slope = slope * t + value
                value = value * t + c
            total += value
            gradient.append(self.scale * slope)
        return self.scale * total, gradient

    def value(self, point: Sequence[float]) -> float:
        return self.value_and_gradient(point)[0]

    def critical_points(self) -> list[CriticalPoint]:
        """Find every critical point, classified, with the global minima first.

        The real roots of each coordinate's derivative are found with NumPy and
        polished by Newton's method, so they are accurate to a few ulps. Points
        of a separable function are the Cartesian product of the per-coordinate
        roots.
        """
        per_axis = [_critical_roots(c) for c in self.coefficients]
        points: list[tuple[tuple[float, ...], list[str]]] = [((), [])]
        for roots in per_axis:
            points = [(p + (r,), kinds + [k]) for p, kinds in points for r, k in roots]

        lowest = min(self.value(p) for p, _ in points)
        found = []
        for p, kinds in points:
            value = self.value(p)
            if all(k == "min" for k in kinds):
                is_global = math.isclose(value, lowest, rel_tol=1e-14, abs_tol=1e-14)
                kind = "global minimum" if is_global else "local minimum"
            elif all(k == "max" for k in kinds):
                kind = "local maximum"
            else:
                kind = "saddle point"
            found.append(CriticalPoint(point=p, value=value, kind=kind))
        found.sort(key=lambda c: (c.kind != "global minimum", c.point))
        return found


def _critical_roots(coefficients: Coefficients) -> list[tuple[float, str]]:
    """Return the real roots of ``P'`` with ``"min"``, ``"max"`` or ``"flat"``."""
    derivative = npoly.polyder(np.asarray(coefficients, dtype=float))
    second = npoly.polyder(derivative)
    roots = []
    for root in npoly.polyroots(derivative):
        if abs(root.imag) > 1e-7 * max(1.0, abs(root.real)):
            continue
        t = _polish_root(derivative, second, float(root.real))
        curvature = float(npoly.polyval(t, second))
        if curvature > 0:
            kind = "min"
        elif curvature < 0:
            kind = "max"
        else:
            kind = "flat"
        roots.append((t, kind))
    roots.sort()
    return roots


def _polish_root(derivative: np.ndarray, second: np.ndarray, t: float) -> float:
    for _ in range(50):
        slope = float(npoly.polyval(t, second))
        if slope == 0.0:
            break
        step = float(npoly.polyval(t, derivative)) / slope
        t -= step
        if abs(step) <= 1e-16 * max(1.0, abs(t)):
            break
    return t + 0.0  # Turns -0.0 into 0.0 for display.
