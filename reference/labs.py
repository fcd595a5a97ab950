"""The three optimisation labs: functions, start points, budgets and optima.

Budgets count evaluations of ``func`` (value and gradient together). Lab 1's
budget of 1000 is the lab's own. Lab 2 and Lab 3 state none, so they get the
same 1000. Gradient descent with momentum at an ordinary step size reaches the
global minimum to 1e-6 well within it, and 1000 evaluations cost well under
0.1 s of round trips to the evaluator (about 20 to 45 us each, measured).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from reference.objective import CriticalPoint, SeparablePolynomial

DEFAULT_BUDGET = 1000


@dataclass(frozen=True)
class Instance:
    """One concrete problem: an objective and the point the solver starts from.

    Attributes
    ----------
    objective : SeparablePolynomial
        The function to minimise.
    start_point : tuple of float
        The start, one entry per dimension.
    """

    objective: SeparablePolynomial
    start_point: tuple[float, ...]

    @cached_property
    def critical_points(self) -> list[CriticalPoint]:
        """Every critical point, the global minimum first."""
        return self.objective.critical_points()

    @property
    def minimiser(self) -> tuple[float, ...]:
        return self.critical_points[0].point

    @property
    def f_star(self) -> float:
        return self.critical_points[0].value


@dataclass(frozen=True)
class Lab:
    """A lab as students see it, with the instance that defines it.

    Attributes
    ----------
    lab_id : str
        Path-safe identifier, ``"lab1"`` to ``"lab3"``.
    title : str
        One-line description for pages and the API.
    formula : str
        The function in Python syntax, exactly as the lab states it.
    budget : int
        Maximum number of ``func`` evaluations per run.
    public : Instance
        The instance from the lab sheet, which every student can see.
    leaderboard : bool
        Whether the lab ranks submissions on a leaderboard.
    """

    lab_id: str
    title: str
    formula: str
    budget: int
    public: Instance
    leaderboard: bool = False
    notes: tuple[str, ...] = field(default=())

    @property
    def dimension(self) -> int:
        return self.public.objective.dimension


def _lab3_y_polynomial() -> tuple[float, ...]:
    """Expand ``(y-3)**2 * (y+2)**2 * (y-1) * (y+1)``; integer arithmetic is exact."""
    factors = [(-3, 1), (-3, 1), (2, 1), (2, 1), (-1, 1), (1, 1)]
    product = [1]
    for constant, linear in factors:
        grown = [0] * (len(product) + 1)
        for i, c in enumerate(product):
            grown[i] += c * constant
            grown[i + 1] += c * linear
        product = grown
    return tuple(float(c) for c in product)


LABS: dict[str, Lab] = {
    "lab1": Lab(
        lab_id="lab1",
        title="A flat quadratic: find a step size that gets anywhere",
        formula="0.0001 * x**2",
        budget=1000,
        public=Instance(
            objective=SeparablePolynomial(coefficients=((0.0, 0.0, 1.0),), scale=1e-4),
            start_point=(50000.0,),
        ),
    ),
    "lab2": Lab(
        lab_id="lab2",
        title="A quartic with a local minimum in the way",
        formula="x**4 - 3*x**3 + 3*x",
        budget=DEFAULT_BUDGET,
        public=Instance(
            objective=SeparablePolynomial(coefficients=((0.0, 3.0, 0.0, -3.0, 1.0),)),
            start_point=(-0.5,),
        ),
    ),
    "lab3": Lab(
        lab_id="lab3",
        title="Over the hill: the fastest optimiser wins",
        formula="(x**2 + (y-3)**2 * (y+2)**2 * (y-1) * (y+1)) / 20",
        budget=DEFAULT_BUDGET,
        public=Instance(
            objective=SeparablePolynomial(coefficients=((0.0, 0.0, 1.0), _lab3_y_polynomial()), scale=1 / 20),
            start_point=(0.0, 1.948),
        ),
        leaderboard=True,
    ),
}


def get_lab(lab_id: str) -> Lab:
    """Return the lab called ``lab_id``.

    Raises
    ------
    KeyError
        If there is no such lab; the message lists the valid identifiers.
    """
    try:
        return LABS[lab_id]
    except KeyError:
        raise KeyError(f"unknown lab {lab_id!r}: expected one of {', '.join(LABS)}") from None
