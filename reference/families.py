"""Seeded families of hidden lab instances.

Students are graded on hidden instances drawn from the same family as each
public lab, so a solver that returns the public optimum without searching
fails. ``hidden_instance(lab_id, seed)`` draws one instance, and every instance
keeps the lesson of its lab:

lab1
    ``a*(x - c)**2 + d`` with ``a`` from 5e-5 to 2e-4, as flat as the public
    ``0.0001*x**2``, and a start 19 000 to 81 000 away from the minimiser.
    Gradient descent with step 0.1 for the whole budget leaves a gap above 1,
    while every step in ``(0, 1/a)`` converges.
lab2
    A quartic ``k*P(x)``, ``k > 0``, with ``P'(x) = 4*(x - r1)*(x - r2)*(x - r3)``: a local
    minimum, a local maximum and a global minimum at least 0.3 lower, on either
    side. The start lies in the local minimum's basin, so gradient descent with
    step ``SMALL_STEP`` converges to the local minimum. ``f''`` at each minimum
    is at most ``MAX_CURVATURE``.
lab3
    ``scale*(ax*(x - cx)**2 + q(y))`` with a degree-6 ``q`` whose minima lie at
    ``s1 < s3 < s5`` and maxima at ``s2`` and ``s4``. The middle minimum ``s3``
    is global, at least 1 lower than the minimum that gradient descent reaches
    and at least 0.3 lower than the other.
    The start's ``y`` lies 1e-4 to 1e-3 past the maximum next to ``s3``, on the
    side of an outer minimum, where the slope is nearly zero. Gradient descent
    with step ``SMALL_STEP`` slides into that outer minimum, while Nesterov
    momentum with step ``MOMENTUM_STEP`` and momentum ``MOMENTUM`` crosses the
    hill and reaches the global minimum within the budget, as on the public
    instance. ``f''`` at each minimum is at most ``MAX_CURVATURE``, and
    ``scale*ax`` lies in [0.04, 0.1].

Values are scaled like the public labs, with ``f*`` between about -3 and 2.

For every lab, the public minimiser is at least ``PUBLIC_ANSWER_MIN_GAP`` above
``f*`` on the hidden instance. The generator checks every invariant above on
the drawn instance and draws again from the next sub-seed when one fails.

Parameters come from ``random.Random.random``, whose sequence Python keeps
stable across versions for a given seed, and are rounded to short decimals.
The coefficients are computed in plain Python float arithmetic, which IEEE 754
makes identical on every platform, so the coefficients and the start point are
bitwise reproducible for a given ``(lab_id, seed)``. ``f*`` and the minimiser
come from NumPy's root finder plus Newton polishing, to within a few ulps.
"""

from __future__ import annotations

import functools
import math
import operator
import random
from collections.abc import Callable, Sequence

from reference.labs import Instance, Lab, get_lab
from reference.objective import Coefficients, SeparablePolynomial

TEXTBOOK_STEP = 0.1
"""Step size that must stall on every lab1 instance within the budget."""

SMALL_STEP = 0.01
"""Step size with which gradient descent must end in the wrong minimum on lab2 and lab3."""

MOMENTUM_STEP = 0.1
MOMENTUM = 0.9
"""Nesterov momentum with these settings reaches the global minimum of every lab3 instance, as of the public one."""

MOMENTUM_TARGET_GAP = 1e-6
"""Gap to f* that the reference momentum run must end below on lab3."""

PUBLIC_ANSWER_MIN_GAP = 0.5
"""Minimum of ``f(public minimiser) - f*`` on a hidden instance, five times the loosest target gap."""

MAX_CURVATURE = 30.0
"""Maximum f'' at a minimum in lab2 and lab3, 1.5 times the public lab3's largest (20).

It keeps a step size tuned on a public lab stable on the hidden instances."""

MAX_ATTEMPTS = 1000
"""Draws per seed before raising RuntimeError.

lab3 accepts about 10% of its draws (measured over 3000 draws), the fewest of the
labs, so 1000 failures in a row have a probability below 1e-45. A draw costs about
1.5 ms, so the worst case stays under 2 s."""

_ROOT_TOLERANCE = 1e-9
_GRADIENT_TOLERANCE = 1e-9


@functools.lru_cache(maxsize=1024)
def hidden_instance(lab_id: str, seed: int) -> Instance:
    """Draw the hidden instance of ``lab_id`` for ``seed``.

    Parameters
    ----------
    lab_id : str
        ``"lab1"``, ``"lab2"`` or ``"lab3"``.
    seed : int
        Any integer. The same ``(lab_id, seed)`` always gives the same instance.

    Returns
    -------
    Instance
        An instance with the lab's dimension, for which every invariant in the
        module docstring holds.

    Raises
    ------
    KeyError
        If ``lab_id`` is not a lab; the message lists the valid identifiers.
    TypeError
        If ``seed`` is not an integer.
    RuntimeError
        If ``MAX_ATTEMPTS`` draws in a row fail the checks.
    """
    lab = get_lab(lab_id)
    seed = operator.index(seed)
    draw = _DRAWS[lab_id]
    for attempt in range(MAX_ATTEMPTS):
        # A string seed is hashed with SHA-512, so sub-seeds of nearby seeds are unrelated.
        rng = random.Random(f"{lab_id}:{seed}:{attempt}")
        instance = draw(rng, lab)
        if instance is not None and _public_answer_fails(lab, instance):
            return instance
    raise RuntimeError(f"no valid {lab_id} instance in {MAX_ATTEMPTS} draws for seed {seed}")


def hidden_instances(lab_id: str, seeds: Sequence[int]) -> list[Instance]:
    """Draw the hidden instance of ``lab_id`` for each seed, in order."""
    return [hidden_instance(lab_id, seed) for seed in seeds]


def _draw_lab1(rng: random.Random, lab: Lab) -> Instance | None:
    """Draw ``a*(x - c)**2 + d``, or return None if the draw fails a check."""
    curvature = round(_uniform(rng, 0.5, 2.0, 2) * 1e-4, 6)
    # |c| >= 100 keeps the public minimiser 0 at least a*c**2 >= 0.5 above f*.
    centre = _sign(rng) * _uniform(rng, 100.0, 1000.0, 1)
    offset = _uniform(rng, -2.0, 2.0, 3)
    start = _sign(rng) * _uniform(rng, 20_000.0, 80_000.0, -2)

    coefficients = (curvature * centre * centre + offset, -2.0 * curvature * centre, curvature)
    instance = Instance(SeparablePolynomial((coefficients,)), (start,))
    if not _critical_points_match(instance, [((centre,), "global minimum")]):
        return None

    # Gradient descent on a*(x - c)**2 multiplies x - c by 1 - 2*a*step at every step.
    contraction = (1.0 - 2.0 * curvature * TEXTBOOK_STEP) ** lab.budget
    gap_after_budget = curvature * (contraction * (start - centre)) ** 2
    if gap_after_budget < 1.0:
        return None
    return instance


def _draw_lab2(rng: random.Random, lab: Lab) -> Instance | None:
    """Draw a quartic with a local and a global minimum, or return None if it fails a check."""
    middle = _uniform(rng, -2.0, 2.0, 3)
    half_width = _uniform(rng, 0.9, 1.5, 3)
    # The maximum sits nearer the local minimum, which makes the far outer root global.
    max_shift = _uniform(rng, 0.06, 0.3, 3) * half_width
    side = _sign(rng)  # +1 puts the global minimum on the right
    local_min = round(middle - side * half_width, 3)
    local_max = round(middle - side * max_shift, 3)
    global_min = round(middle + side * half_width, 3)

    # A negative fraction places the start beyond the local minimum, away from the maximum.
    fraction = _uniform(rng, -0.3, 0.5, 3)
    start = round(local_min + fraction * (local_max - local_min), 2)

    derivative = [4.0 * c for c in _expand_roots(sorted((local_min, local_max, global_min)))]
    coefficients = _integrate(derivative)
    # Scale so that the local minimum lies 0.5 to 2 above f*, where the public lab has 0.97.
    unit_gap = _evaluate(coefficients, local_min) - _evaluate(coefficients, global_min)
    scale = float(f"{_uniform(rng, 0.5, 2.0, 2) / unit_gap:.3g}")
    if not 0.3 <= scale <= 3.0:
        return None  # the curvature would be far from the public lab's, where the scale is 1
    f_star_target = _uniform(rng, -3.0, 0.0, 2)
    constant = round(f_star_target / scale - _evaluate(coefficients, global_min), 3)
    coefficients = (constant,) + coefficients[1:]
    instance = Instance(SeparablePolynomial((coefficients,), scale=scale), (start,))

    expected = [
        ((local_min,), "local minimum"),
        ((local_max,), "local maximum"),
        ((global_min,), "global minimum"),
    ]
    if not _critical_points_match(instance, expected):
        return None
    if instance.objective.value((local_min,)) - instance.f_star < 0.3:
        return None
    if abs(start - local_min) < 0.02 or side * (local_max - start) < 0.3 * abs(local_max - local_min):
        return None

    # f'' of a quartic is convex, so its maximum between start and local_min is at an
    # end. SMALL_STEP * f'' <= 1 there makes descent move monotonically to local_min.
    second = [scale * c for c in _derivative(_derivative(coefficients))]
    if SMALL_STEP * max(_evaluate(second, start), _evaluate(second, local_min)) > 1.0:
        return None
    if max(_evaluate(second, x) for x in (local_min, global_min)) > MAX_CURVATURE:
        return None
    return instance


def _draw_lab3(rng: random.Random, lab: Lab) -> Instance | None:
    """Draw a 2-D instance with a hill between start and global minimum, or return None."""
    global_min = _uniform(rng, -1.5, 1.5, 3)
    side = _sign(rng)  # +1 puts the start and the minimum that descent reaches on the right
    near_max = round(global_min + side * _uniform(rng, 1.6, 2.2, 3), 3)
    near_min = round(near_max + side * _uniform(rng, 0.8, 1.2, 3), 3)
    far_max = round(global_min - side * _uniform(rng, 1.2, 1.9, 3), 3)
    far_min = round(far_max - side * _uniform(rng, 0.4, 0.9, 3), 3)
    y_roots = sorted((far_min, far_max, global_min, near_max, near_min))

    # q' = 6 * prod(y - root) makes q monic of degree 6.
    q = _integrate([6.0 * c for c in _expand_roots(y_roots)])
    depth = _evaluate(q, near_min) - _evaluate(q, global_min)
    if depth <= 0.0:
        return None
    # Scale so that the minimum that descent reaches lies 1.2 to 2.5 above f*.
    scale = float(f"{_uniform(rng, 1.2, 2.5, 2) / depth:.3g}")
    near_min_target = _uniform(rng, -0.5, 0.5, 2)
    constant = round(near_min_target / scale - _evaluate(q, near_min), 3)
    q = (constant,) + q[1:]

    # scale*ax from 0.04 to 0.1 keeps f'' in x near the public lab's 0.1.
    x_curvature = float(f"{_uniform(rng, 0.04, 0.1, 3) / scale:.3g}")
    x_centre = _uniform(rng, -2.0, 2.0, 2)
    x_start = round(x_centre + _uniform(rng, -0.5, 0.5, 2), 2)
    x_part = (x_curvature * x_centre * x_centre, -2.0 * x_curvature * x_centre, x_curvature)
    y_start = round(near_max + side * _uniform(rng, 1e-4, 1e-3, 4), 4)
    instance = Instance(SeparablePolynomial((x_part, q), scale=scale), (x_start, y_start))

    expected = [
        ((x_centre, far_min), "local minimum"),
        ((x_centre, far_max), "saddle point"),
        ((x_centre, global_min), "global minimum"),
        ((x_centre, near_max), "saddle point"),
        ((x_centre, near_min), "local minimum"),
    ]
    if not _critical_points_match(instance, expected):
        return None
    if instance.objective.value((x_centre, far_min)) - instance.f_star < 0.3:
        return None
    if instance.objective.value((x_centre, near_min)) - instance.f_star < 1.0:
        return None
    if not 5e-5 <= side * (y_start - near_max) <= 1.5e-3:
        return None

    # Descent moves monotonically from near_max to near_min while SMALL_STEP * f'' <= 1
    # between them. f'' is checked on 201 points with a factor 2 margin between samples.
    second = [scale * c for c in _derivative(_derivative(q))]
    samples = (near_max + (near_min - near_max) * i / 200 for i in range(201))
    if SMALL_STEP * max(_evaluate(second, y) for y in samples) > 0.5:
        return None
    if max(_evaluate(second, y) for y in (far_min, global_min, near_min)) > MAX_CURVATURE:
        return None
    if not _momentum_reaches_minimum(instance, lab.budget):
        return None
    return instance


def _momentum_reaches_minimum(instance: Instance, budget: int) -> bool:
    """Check that Nesterov momentum with ``MOMENTUM_STEP`` and ``MOMENTUM`` reaches f* within the budget.

    The update is ``torch.optim.SGD(lr=MOMENTUM_STEP, momentum=MOMENTUM, nesterov=True)``'s,
    one evaluation per step, so the lab's intended method works on every instance as on the public one.
    """
    objective = instance.objective
    point = list(instance.start_point)
    buffer = [0.0] * len(point)
    for _ in range(budget):
        value, gradient = objective.value_and_gradient(point)
        if not math.isfinite(value):
            return False
        buffer = [MOMENTUM * b + g for b, g in zip(buffer, gradient, strict=True)]
        point = [
            p - MOMENTUM_STEP * (g + MOMENTUM * b) for p, g, b in zip(point, gradient, buffer, strict=True)
        ]
    return objective.value(point) - instance.f_star < MOMENTUM_TARGET_GAP


_DRAWS: dict[str, Callable[[random.Random, Lab], Instance | None]] = {
    "lab1": _draw_lab1,
    "lab2": _draw_lab2,
    "lab3": _draw_lab3,
}


def _public_answer_fails(lab: Lab, instance: Instance) -> bool:
    """Check that the public minimiser misses ``f*`` by at least ``PUBLIC_ANSWER_MIN_GAP``."""
    gap = instance.objective.value(lab.public.minimiser) - instance.f_star
    return gap >= PUBLIC_ANSWER_MIN_GAP


def _critical_points_match(instance: Instance, expected: Sequence[tuple[tuple[float, ...], str]]) -> bool:
    """Check that the instance's critical points are ``expected``, with zero gradient.

    ``expected`` pairs each drawn critical point with its kind, in any order.
    """
    found = sorted(instance.critical_points, key=lambda c: c.point)
    if len(found) != len(expected):
        return False
    for critical, (drawn, kind) in zip(found, sorted(expected), strict=True):
        if critical.kind != kind:
            return False
        for coordinate, drawn_coordinate in zip(critical.point, drawn, strict=True):
            if abs(coordinate - drawn_coordinate) > _ROOT_TOLERANCE * max(1.0, abs(drawn_coordinate)):
                return False
        _, gradient = instance.objective.value_and_gradient(critical.point)
        if max(abs(g) for g in gradient) > _GRADIENT_TOLERANCE:
            return False
    return True


def _uniform(rng: random.Random, low: float, high: float, decimals: int) -> float:
    """Draw uniformly from ``[low, high]`` and round to ``decimals`` decimal places.

    Uses only ``rng.random()``, the one method whose sequence Python keeps stable.
    """
    return round(low + (high - low) * rng.random(), decimals)


def _sign(rng: random.Random) -> float:
    return 1.0 if rng.random() < 0.5 else -1.0


def _expand_roots(roots: Sequence[float]) -> list[float]:
    """Return the ascending coefficients of ``prod(t - root)``, in a fixed order of operations."""
    product = [1.0]
    for root in roots:
        grown = [0.0] * (len(product) + 1)
        for i, c in enumerate(product):
            grown[i] -= c * root
            grown[i + 1] += c
        product = grown
    return product


def _integrate(coefficients: Sequence[float]) -> Coefficients:
    """Return the antiderivative's ascending coefficients, with constant term 0."""
    return (0.0,) + tuple(c / (i + 1) for i, c in enumerate(coefficients))


def _derivative(coefficients: Sequence[float]) -> list[float]:
    return [i * c for i, c in enumerate(coefficients)][1:]


def _evaluate(coefficients: Sequence[float], t: float) -> float:
    value = 0.0
    for c in reversed(coefficients):
        value = value * t + c
    return value
