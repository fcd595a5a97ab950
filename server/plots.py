"""SVG plots of runs on a lab's public case: convergence and the path on the function's landscape.

The geometry is computed here in pixels and drawn by the autoescaped template
``templates/plot.svg``, so a display name in a label cannot become markup.
Every plot carries a ``<title>`` and a ``<desc>`` that describe in words
what it shows. Polylines are simplified until no point moves more than ``MIN_STEP_PX``,
which keeps a 1000-evaluation run to a few kilobytes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import contourpy
import numpy as np
from markupsafe import Markup
from numpy.polynomial import polynomial as npoly

from grader.scoring import TARGET_GAPS
from reference.labs import Instance, Lab
from server import i18n
from server.templating import environment

PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
"""Okabe and Ito's colour-blind-safe palette; runs take colours in rank order."""

WIDTH, HEIGHT = 560, 380
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 12, 48
MIN_STEP_PX = 0.5
GAP_FLOOR = 1e-16
"""Gaps below this are drawn at it: float64 resolves no smaller gap of an ``f`` near 1."""

CONTOUR_GRID = 100
CONTOUR_LEVELS = 12
CONTOUR_COLORS = ("#cfd8dc", "#b0bec5", "#90a4ae", "#78909c", "#607d8b", "#546e7a", "#455a64")
COORDINATE_LIMIT_PX = 10_000.0
"""Pixel coordinates are clamped to this, so a diverged run stays a finite line that the clip path cuts."""


@dataclass(frozen=True)
class Run:
    """One run to draw: its label, such as ``1. Ada``, and its trajectory rows (coordinates, then ``f``)."""

    label: str
    rows: np.ndarray


@dataclass
class Figure:
    """Everything ``plot.svg`` draws, in pixels."""

    plot_id: str
    title: str
    desc: str
    x_label: str
    y_label: str
    x_ticks: list[tuple[float, str]] = field(default_factory=list)
    y_ticks: list[tuple[float, str]] = field(default_factory=list)
    contours: list[tuple[str, str]] = field(default_factory=list)
    references: list[tuple[float, str]] = field(default_factory=list)
    lines: list[tuple[str, str, float]] = field(default_factory=list)
    markers: list[tuple[float, float, str, str]] = field(default_factory=list)
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    top: int = TOP
    plot_width: int = WIDTH - LEFT - RIGHT
    plot_height: int = HEIGHT - TOP - BOTTOM


@dataclass(frozen=True)
class _Axis:
    """A linear map from data values ``low..high`` to pixels ``start..end``."""

    low: float
    high: float
    start: float
    end: float

    def __call__(self, values: np.ndarray) -> np.ndarray:
        scaled = self.start + (values - self.low) * (self.end - self.start) / (self.high - self.low)
        return np.clip(scaled, -COORDINATE_LIMIT_PX, COORDINATE_LIMIT_PX)


def color(rank_index: int) -> str:
    return PALETTE[rank_index % len(PALETTE)]


def best_gaps(rows: np.ndarray, f_star: float) -> np.ndarray:
    """Return the best gap ``f - f*`` so far after each evaluation; a non-finite ``f`` counts as no progress."""
    values = rows[:, -1]
    gaps = np.where(np.isfinite(values), np.maximum(values - f_star, 0.0), np.inf)
    return np.minimum.accumulate(gaps)


def convergence(lab: Lab, runs: Sequence[Run], locale: str, plot_id: str) -> Markup | None:
    """Draw the best gap so far against evaluations, on a log scale; None when no run has a finite value."""
    _ = i18n.translations(locale).gettext
    f_star = lab.public.f_star
    curves = [best_gaps(run.rows, f_star) for run in runs]
    finite = [curve[np.isfinite(curve)] for curve in curves]
    if not any(values.size for values in finite):
        return None
    highest = max(float(values[0]) for values in finite if values.size)
    lowest = min(float(values[-1]) for values in finite if values.size)
    top_decade = math.ceil(math.log10(max(highest, GAP_FLOOR * 10)))
    bottom_decade = min(math.floor(math.log10(max(lowest, GAP_FLOOR))), top_decade - 1)

    figure = Figure(
        plot_id, _("Convergence on the public case"), "", _("evaluations"), _("best gap f − f* so far")
    )
    x = _Axis(0.0, float(lab.budget), LEFT, LEFT + figure.plot_width)
    y = _Axis(bottom_decade, top_decade, TOP + figure.plot_height, TOP)
    figure.x_ticks = [(float(x(np.array(t))), f"{t:g}") for t in _nice_ticks(0.0, float(lab.budget))]
    step = max(1, math.ceil((top_decade - bottom_decade) / 8))
    figure.y_ticks = [(float(y(np.array(d))), f"1e{d}") for d in range(top_decade, bottom_decade - 1, -step)]
    figure.references = [
        (float(y(np.array(math.log10(t)))), f"{t:g}")
        for t in TARGET_GAPS
        if bottom_decade < math.log10(t) < top_decade
    ]

    sentences = []
    for index, (run, curve) in enumerate(zip(runs, curves, strict=True)):
        shown = np.isfinite(curve)
        if not shown.any():
            continue
        evaluations = np.arange(1, len(curve) + 1, dtype=float)[shown]
        heights = np.log10(np.maximum(curve[shown], GAP_FLOOR))
        points = _steps(np.column_stack([x(evaluations), y(heights)]))
        figure.lines.append((_points(points), color(index), 2.0))
        sentences.append(
            _("%(run)s: best gap %(gap)s after %(evaluations)s evaluations")
            % {"run": run.label, "gap": f"{float(curve[-1]):.3g}", "evaluations": len(curve)}
        )
    figure.desc = _("Best gap f − f* so far against evaluations, log scale.") + " " + "; ".join(sentences)
    return _render(figure, locale)


def landscape(lab: Lab, runs: Sequence[Run], locale: str, plot_id: str) -> Markup:
    """Draw the public function with each run's path: contour lines in 2-D, the curve ``f(x)`` in 1-D."""
    if lab.dimension == 2:
        return _contour_plot(lab, runs, locale, plot_id)
    return _curve_plot(lab, runs, locale, plot_id)


def _contour_plot(lab: Lab, runs: Sequence[Run], locale: str, plot_id: str) -> Markup:
    _ = i18n.translations(locale).gettext
    instance = lab.public
    figure = Figure(plot_id, _("Paths on the contour lines of f"), "", "x", "y")
    anchors = np.array([c.point for c in instance.critical_points] + [instance.start_point])
    low, high = _view(anchors, [run.rows[:, :2] for run in runs])
    low, high = _equal_aspect(low, high, figure.plot_width, figure.plot_height)
    x = _Axis(low[0], high[0], LEFT, LEFT + figure.plot_width)
    y = _Axis(low[1], high[1], TOP + figure.plot_height, TOP)
    figure.x_ticks = [(float(x(np.array(t))), f"{t:g}") for t in _nice_ticks(low[0], high[0])]
    figure.y_ticks = [(float(y(np.array(t))), f"{t:g}") for t in _nice_ticks(low[1], high[1])]

    xs = np.linspace(low[0], high[0], CONTOUR_GRID)
    ys = np.linspace(low[1], high[1], CONTOUR_GRID)
    grid_x, grid_y = np.meshgrid(xs, ys)
    (cx, cy) = instance.objective.coefficients
    values = instance.objective.scale * (npoly.polyval(grid_x, cx) + npoly.polyval(grid_y, cy))
    generator = contourpy.contour_generator(xs, ys, values, line_type=contourpy.LineType.Separate)
    for level_index, level in enumerate(_levels(values, instance)):
        shade = CONTOUR_COLORS[
            min(level_index * len(CONTOUR_COLORS) // CONTOUR_LEVELS, len(CONTOUR_COLORS) - 1)
        ]
        for line in generator.lines(level):
            # LineType.Separate returns one (points, 2) array per line.
            points = np.asarray(line, dtype=float)
            pixels = np.column_stack([x(points[:, 0]), y(points[:, 1])])
            figure.contours.append((_path(_thin(pixels)), shade))

    _add_paths(figure, runs, lambda rows: np.column_stack([x(rows[:, 0]), y(rows[:, 1])]))
    _add_critical_points(figure, lab, lambda p: (float(x(np.array(p[0]))), float(y(np.array(p[1])))))
    figure.desc = (
        _(
            "Contour lines of f = %(formula)s for x from %(x_low)s to %(x_high)s and y from %(y_low)s to %(y_high)s."
        )
        % {
            "formula": lab.formula,
            "x_low": f"{low[0]:.3g}",
            "x_high": f"{high[0]:.3g}",
            "y_low": f"{low[1]:.3g}",
            "y_high": f"{high[1]:.3g}",
        }
        + " "
        + _path_sentences(runs, _)
    )
    return _render(figure, locale)


def _curve_plot(lab: Lab, runs: Sequence[Run], locale: str, plot_id: str) -> Markup:
    _ = i18n.translations(locale).gettext
    instance = lab.public
    figure = Figure(plot_id, _("Iterates on the curve of f"), "", "x", "f(x)")
    anchors = np.array([c.point for c in instance.critical_points] + [instance.start_point])
    low, high = _view(anchors, [run.rows[:, :1] for run in runs])
    xs = np.linspace(low[0], high[0], 400)
    (coefficients,) = instance.objective.coefficients
    fs = instance.objective.scale * npoly.polyval(xs, coefficients)
    f_low, f_high = float(fs.min()), float(fs.max())
    margin = 0.05 * (f_high - f_low) or 1.0
    x = _Axis(low[0], high[0], LEFT, LEFT + figure.plot_width)
    y = _Axis(f_low - margin, f_high + margin, TOP + figure.plot_height, TOP)
    figure.x_ticks = [(float(x(np.array(t))), f"{t:g}") for t in _nice_ticks(low[0], high[0])]
    figure.y_ticks = [(float(y(np.array(t))), f"{t:g}") for t in _nice_ticks(f_low - margin, f_high + margin)]
    figure.contours.append((_path(_thin(np.column_stack([x(xs), y(fs)]))), CONTOUR_COLORS[-1]))

    _add_paths(figure, runs, lambda rows: np.column_stack([x(rows[:, 0]), y(rows[:, 1])]))
    _add_critical_points(
        figure, lab, lambda p: (float(x(np.array(p[0]))), float(y(np.array(instance.objective.value(p)))))
    )
    figure.desc = (
        _("The curve of f = %(formula)s for x from %(x_low)s to %(x_high)s.")
        % {"formula": lab.formula, "x_low": f"{low[0]:.3g}", "x_high": f"{high[0]:.3g}"}
        + " "
        + _path_sentences(runs, _)
    )
    return _render(figure, locale)


def _add_paths(figure: Figure, runs: Sequence[Run], to_pixels: Callable[[np.ndarray], np.ndarray]) -> None:
    # Runs are drawn from the last rank to the first, each narrower than the one below, so the
    # leader stays on top and paths that coincide (Lab 3's runs often stay on x = 0) all show.
    for index in reversed(range(len(runs))):
        rows = runs[index].rows
        finite = rows[np.isfinite(rows).all(axis=1)]
        if not len(finite):
            continue
        pixels = to_pixels(finite)
        figure.lines.append((_points(_thin(pixels)), color(index), 2.0 + 1.5 * index))
        end_x, end_y = pixels[-1]
        figure.markers.append((float(end_x), float(end_y), "end", color(index)))


def _add_critical_points(
    figure: Figure, lab: Lab, to_pixel: Callable[[tuple[float, ...]], tuple[float, float]]
) -> None:
    instance = lab.public
    start_x, start_y = to_pixel(instance.start_point)
    figure.markers.append((start_x, start_y, "start", "#000000"))
    for critical in instance.critical_points:
        cx, cy = to_pixel(critical.point)
        shape = (
            "global"
            if critical.kind == "global minimum"
            else "minimum"
            if "minimum" in critical.kind
            else "other"
        )
        figure.markers.append((cx, cy, shape, "#000000"))


def _path_sentences(runs: Sequence[Run], gettext: Callable[[str], str]) -> str:
    sentences = []
    for run in runs:
        finite = run.rows[np.isfinite(run.rows).all(axis=1)]
        if not len(finite):
            continue
        point = ", ".join(f"{v:.4g}" for v in finite[-1, :-1])
        sentences.append(gettext("%(run)s ended at (%(point)s)") % {"run": run.label, "point": point})
    return "; ".join(sentences)


def _view(anchors: np.ndarray, paths: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Return the lower and upper corners that show the anchors and the paths near them.

    The anchors (critical points and the start) get a margin of 15% of their
    widest span. Path points count only within a further one span on each side,
    so one diverged run cannot shrink everything else to a dot.
    """
    low, high = anchors.min(axis=0), anchors.max(axis=0)
    margin = 0.15 * float(np.max(high - low)) or 1.0
    low, high = low - margin, high + margin
    span = high - low
    reach_low, reach_high = low - span, high + span
    for path in paths:
        finite = path[np.isfinite(path).all(axis=1)]
        near = finite[((finite >= reach_low) & (finite <= reach_high)).all(axis=1)]
        if len(near):
            low, high = np.minimum(low, near.min(axis=0)), np.maximum(high, near.max(axis=0))
    return low, high


def _equal_aspect(
    low: np.ndarray, high: np.ndarray, width: int, height: int
) -> tuple[np.ndarray, np.ndarray]:
    """Widen the narrower axis so one unit is as long in x as in y, as gradients are drawn true."""
    units_per_pixel = max((high[0] - low[0]) / width, (high[1] - low[1]) / height)
    center = (low + high) / 2
    half = np.array([width, height]) * units_per_pixel / 2
    return center - half, center + half


def _levels(values: np.ndarray, instance: Instance) -> list[float]:
    """Choose contour levels: the values of saddles and maxima, and levels above ``f*`` spaced quadratically.

    The spacing puts more lines near the minima, where a path's last steps
    are, and fewer where ``f`` climbs steeply at the edges of the view.
    """
    top = float(np.quantile(values, 0.8))
    spacing = np.linspace(0.0, 1.0, CONTOUR_LEVELS + 1)[1:] ** 2
    levels = set((instance.f_star + (top - instance.f_star) * spacing).round(6).tolist())
    levels |= {c.value for c in instance.critical_points if "minimum" not in c.kind}
    return sorted(levels)


def _nice_ticks(low: float, high: float, count: int = 6) -> list[float]:
    """Return round tick values (1, 2 or 5 times a power of ten apart) within ``low..high``."""
    span = high - low
    if not math.isfinite(span) or span <= 0:
        return [low]
    raw = span / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    # The tolerance keeps a bound that is a multiple of the step, such as -0.3 (-2.9999999999999996 steps).
    first = math.ceil(low / step - 1e-9) * step
    ticks = [first + i * step for i in range(int((high - first) / step + 1e-9) + 1)]
    # Rounding to the step's precision turns 0.30000000000000004 into 0.3, and -0.0 into 0.
    digits = max(0, -math.floor(math.log10(step)))
    return [round(t, digits) + 0.0 for t in ticks]


def _steps(points: np.ndarray) -> np.ndarray:
    """Draw a best-so-far curve as a staircase: flat until an improvement of ``MIN_STEP_PX``, then down."""
    stairs = [points[0]]
    level = points[0, 1]
    for px, py in points[1:]:
        if abs(py - level) >= MIN_STEP_PX:
            stairs += [np.array([px, level]), np.array([px, py])]
            level = py
    stairs.append(np.array([points[-1, 0], level]))
    return np.array(stairs)


def _thin(points: np.ndarray, tolerance: float = MIN_STEP_PX) -> np.ndarray:
    """Simplify a polyline with the Ramer-Douglas-Peucker algorithm: no point moves more than ``tolerance`` pixels."""
    if len(points) <= 2:
        return points
    keep = np.zeros(len(points), dtype=bool)
    keep[0] = keep[-1] = True
    pending = [(0, len(points) - 1)]
    while pending:
        first, last = pending.pop()
        if last - first < 2:
            continue
        inner = points[first + 1 : last]
        chord = points[last] - points[first]
        length = math.hypot(*chord)
        offsets = inner - points[first]
        if length == 0.0:
            distances = np.hypot(offsets[:, 0], offsets[:, 1])
        else:
            distances = np.abs(chord[0] * offsets[:, 1] - chord[1] * offsets[:, 0]) / length
        farthest = int(np.argmax(distances))
        if distances[farthest] > tolerance:
            middle = first + 1 + farthest
            keep[middle] = True
            pending += [(first, middle), (middle, last)]
    return points[keep]


def _points(points: np.ndarray) -> str:
    return " ".join(f"{px:.1f},{py:.1f}" for px, py in points)


def _path(points: np.ndarray) -> str:
    return "M" + " L".join(f"{px:.1f} {py:.1f}" for px, py in points)


def _render(figure: Figure, locale: str) -> Markup:
    return Markup(environment.get_template("plot.svg").render(figure=figure, locale=locale))
