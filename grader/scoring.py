"""Score a case from the evaluator's record, never from the runner's word or a clock.

The measures follow the COCO/BBOB benchmarking convention: the gap
``f - f*`` to the known optimum, and the number of evaluations until the gap
first falls below each target.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from grader.evaluator import CaseRecord
from reference.labs import Instance

TARGET_GAPS = (1e-1, 1e-3, 1e-6)
"""Gaps ``f - f*`` at which the number of evaluations spent is recorded."""

REACHED_GAP = 1e-6
"""A case reached the global minimum when its final gap is below this (absolute, in units of f)."""

RETURNED_POINT = "returned_point"
LAST_EVALUATION = "last_evaluation"


@dataclass(frozen=True)
class CaseScore:
    """The score of one case.

    Attributes
    ----------
    final_point : tuple of float
        The point that was scored.
    final_f : float
        ``f(final_point)``, computed by the evaluator.
    gap : float
        ``final_f - f*``, at least 0.
    distance : float
        Euclidean distance from ``final_point`` to the global minimiser.
    evaluations : int
        Calls of ``func`` within the budget.
    evaluations_to_target : tuple of (int or None)
        For each of ``TARGET_GAPS``, the 1-based count of the evaluation at which
        the gap first fell below it, or None if it never did.
    reached_global : bool
        Whether ``gap < REACHED_GAP``.
    budget_spent : bool
        Whether ``func`` was called past the budget.
    scored_on : str
        ``"returned_point"``, or ``"last_evaluation"`` when ``solution`` raised
        after the budget was spent and returned nothing.
    """

    final_point: tuple[float, ...]
    final_f: float
    gap: float
    distance: float
    evaluations: int
    evaluations_to_target: tuple[int | None, ...]
    reached_global: bool
    budget_spent: bool
    scored_on: str


def evaluations_to_target(values: list[float], f_star: float, target: float, final_f: float) -> int | None:
    """Count the evaluations until the gap first fell below ``target``.

    Returns the 1-based index of the first evaluated value with
    ``value - f_star < target``. If no evaluation got there but the scored
    point did, the solver reached the target at the end of its run, so the
    count is all its evaluations (0 for a point returned without evaluating).
    Returns None if the target was never reached.
    """
    for index, value in enumerate(values, start=1):
        if value - f_star < target:
            return index
    if final_f - f_star < target:
        return len(values)
    return None


def score_case(instance: Instance, record: CaseRecord) -> CaseScore:
    """Score one case whose runner returned a point or spent the budget.

    Raises
    ------
    ValueError
        If the record has neither a returned point nor an evaluated one.
    """
    if record.returned_point is not None:
        point, scored_on = record.returned_point, RETURNED_POINT
    elif record.points:
        point, scored_on = record.points[-1], LAST_EVALUATION
    else:
        raise ValueError("the case has no point to score: nothing returned and nothing evaluated")

    f_star = instance.f_star
    final_f = instance.objective.value(point)
    gap = max(final_f - f_star, 0.0)
    return CaseScore(
        final_point=point,
        final_f=final_f,
        gap=gap,
        distance=math.dist(point, instance.minimiser),
        evaluations=len(record.values),
        evaluations_to_target=tuple(
            evaluations_to_target(record.values, f_star, t, final_f) for t in TARGET_GAPS
        ),
        reached_global=final_f - f_star < REACHED_GAP,
        budget_spent=record.budget_spent,
        scored_on=scored_on,
    )


@dataclass(frozen=True)
class Aggregate:
    """Scores of a set of cases taken together.

    Attributes
    ----------
    cases : int
        Number of cases.
    solved_fraction : float
        Fraction of cases that reached the global minimum.
    mean_gap : float
        Mean final gap; ``inf`` if any gap is not finite.
    expected_running_time : tuple of (float or None)
        For each of ``TARGET_GAPS``, COCO's expected running time: the
        evaluations spent over all cases (up to the target where it was reached,
        the whole run where not) divided by the number of cases that reached it.
        None where no case reached the target.
    """

    cases: int
    solved_fraction: float
    mean_gap: float
    expected_running_time: tuple[float | None, ...]


def expected_running_time(scores: list[CaseScore], target_index: int) -> float | None:
    """Return COCO's expected running time for one target over ``scores``, or None if none reached it."""
    spent = 0
    successes = 0
    for score in scores:
        reached_at = score.evaluations_to_target[target_index]
        if reached_at is None:
            spent += score.evaluations
        else:
            spent += reached_at
            successes += 1
    return spent / successes if successes else None


def aggregate(scores: list[CaseScore]) -> Aggregate:
    """Combine case scores; ``scores`` must not be empty."""
    if not scores:
        raise ValueError("cannot aggregate an empty list of case scores")
    gaps = [score.gap for score in scores]
    return Aggregate(
        cases=len(scores),
        solved_fraction=sum(score.reached_global for score in scores) / len(scores),
        mean_gap=math.fsum(gaps) / len(gaps) if all(math.isfinite(g) for g in gaps) else math.inf,
        expected_running_time=tuple(expected_running_time(scores, i) for i in range(len(TARGET_GAPS))),
    )
