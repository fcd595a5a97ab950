"""The two figures a page shows for some submissions' runs on the public case."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup
from sqlalchemy.orm import Session

from reference.labs import Lab
from server import plots
from server.trajectories import public_trajectories


@dataclass(frozen=True)
class RunFigure:
    """A rendered plot with its caption's legend: (colour, label) per run, and whether it has markers."""

    svg: Markup
    runs: list[tuple[str, str]]
    markers: bool


def figures(
    session: Session, lab: Lab, labelled: Sequence[tuple[int, str]], locale: str, plot_id: str
) -> list[RunFigure]:
    """Plot the public-case runs of ``labelled`` (submission id, label), in that order.

    Submissions without a stored public case are skipped; with none left there
    is nothing to plot and the list is empty.
    """
    stored = public_trajectories(session, [submission_id for submission_id, _ in labelled], lab.dimension)
    runs = [
        plots.Run(label, stored[submission_id])
        for submission_id, label in labelled
        if submission_id in stored
    ]
    if not runs:
        return []
    legend = [(plots.color(index), run.label) for index, run in enumerate(runs)]
    rendered = []
    convergence = plots.convergence(lab, runs, locale, f"{plot_id}-convergence")
    if convergence is not None:
        rendered.append(RunFigure(convergence, legend, markers=False))
    rendered.append(
        RunFigure(plots.landscape(lab, runs, locale, f"{plot_id}-landscape"), legend, markers=True)
    )
    return rendered
