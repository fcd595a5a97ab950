"""Explain a case's outcome from its trajectory: what the optimiser did wrong, if anything.

The kinds, checked in this order:

``converged``
    The scored point reached the global minimum (``scoring.REACHED_GAP``).
``diverged``
    An evaluated value is not finite, or the scored point ended more than
    ``DIVERGED_FACTOR`` times farther from the minimiser than the start was.
``stopped_at_critical_point``
    The scored point is within ``CRITICAL_TOLERANCE * (1 + |c|)`` of a critical
    point ``c`` that is not the global minimum: a local minimum, or a maximum or
    saddle point where the gradient vanished.
``oscillating``
    Over the last ``WINDOW`` evaluations, the iterate reversed direction along
    its most-moving coordinate in at least ``OSCILLATION_SHARE`` of the steps:
    the step size is too large.
``stalled``
    The last steps were shorter than ``STALL_RATIO`` times the distance to the
    nearest critical point: the step size is too small for the budget.
``not_evaluated``
    ``solution`` returned without calling ``func``.
``unfinished``
    None of the above: the run stopped while still moving.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from grader.evaluator import CaseRecord
from grader.scoring import CaseScore
from reference.labs import Instance
from reference.objective import CriticalPoint

DIVERGED_FACTOR = 100.0
CRITICAL_TOLERANCE = 1e-3
WINDOW = 50
OSCILLATION_SHARE = 0.7
STALL_RATIO = 1e-3

KINDS = (
    "converged",
    "diverged",
    "stopped_at_critical_point",
    "oscillating",
    "stalled",
    "not_evaluated",
    "unfinished",
)


@dataclass(frozen=True)
class Feedback:
    """The diagnosis of one case.

    Attributes
    ----------
    kind : str
        One of ``KINDS``.
    message : str
        One English sentence for the student, without numbers from the instance.
    critical_point : CriticalPoint or None
        The non-global critical point the run stopped at, for that kind only.
        Reveal it only for the public case.
    """

    kind: str
    message: str
    critical_point: CriticalPoint | None = None


MESSAGES = {
    "converged": "Converged to the global minimum.",
    "diverged": "Diverged: the iterate ran away from the minimum; use a smaller step size.",
    "stopped_at_critical_point": (
        "Stopped at a critical point that is not the global minimum; momentum or a bolder step can cross the hill."
    ),
    "oscillating": "Oscillating: the iterate keeps jumping back and forth; the step size is too large.",
    "stalled": "Stalled: the steps are far too small to get anywhere within the budget; use a larger step size.",
    "not_evaluated": "solution returned without calling func, so the point was not searched for.",
    "unfinished": "Still moving when the run ended: use more of the budget or a larger step size.",
}


def diagnose(instance: Instance, record: CaseRecord, score: CaseScore) -> Feedback:
    """Classify one scored case; see the module docstring for the rules."""
    if score.reached_global:
        return _feedback("converged")
    if any(not math.isfinite(value) for value in record.values) or _ran_away(instance, score):
        return _feedback("diverged")

    stopped_at = nearby_critical_point(instance, score.final_point)
    if stopped_at is not None:
        return _feedback("stopped_at_critical_point", stopped_at)
    if not record.points:
        return _feedback("not_evaluated")
    if _oscillates(record.points[-WINDOW:]):
        return _feedback("oscillating")
    if _stalled(instance, record.points, score.final_point):
        return _feedback("stalled")
    return _feedback("unfinished")


def _feedback(kind: str, critical_point: CriticalPoint | None = None) -> Feedback:
    return Feedback(kind=kind, message=MESSAGES[kind], critical_point=critical_point)


def _ran_away(instance: Instance, score: CaseScore) -> bool:
    start_distance = math.dist(instance.start_point, instance.minimiser)
    return score.distance > DIVERGED_FACTOR * max(start_distance, 1.0)


def nearby_critical_point(instance: Instance, point: tuple[float, ...]) -> CriticalPoint | None:
    for critical in instance.critical_points[1:]:
        scale = 1.0 + math.hypot(*critical.point)
        if math.dist(point, critical.point) <= CRITICAL_TOLERANCE * scale:
            return critical
    return None


def _oscillates(points: list[tuple[float, ...]]) -> bool:
    if len(points) < 10:
        return False
    axis = max(range(len(points[0])), key=lambda i: max(p[i] for p in points) - min(p[i] for p in points))
    steps = [b[axis] - a[axis] for a, b in zip(points, points[1:])]
    moving = [step for step in steps if step != 0.0]
    if len(moving) < 5:
        return False
    reversals = sum(1 for a, b in zip(moving, moving[1:]) if (a > 0) != (b > 0))
    return reversals >= OSCILLATION_SHARE * (len(moving) - 1)


def _stalled(instance: Instance, points: list[tuple[float, ...]], final_point: tuple[float, ...]) -> bool:
    if len(points) < 2:
        return False
    recent = points[-11:]
    mean_step = sum(math.dist(a, b) for a, b in zip(recent, recent[1:])) / (len(recent) - 1)
    nearest = min(math.dist(final_point, c.point) for c in instance.critical_points)
    return mean_step < STALL_RATIO * nearest
