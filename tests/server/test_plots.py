"""SVG plots: valid, labelled for screen readers, escaped, small, and robust to diverged runs."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pytest

from reference.labs import get_lab
from server import plots

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = '<script>alert("x")</script>&'


def nesterov_rows(lab_id: str, lr: float, momentum: float, steps: int) -> np.ndarray:
    """Run Nesterov momentum on the public case and return its trajectory rows."""
    lab = get_lab(lab_id)
    point = np.array(lab.public.start_point, dtype=float)
    velocity = np.zeros_like(point)
    rows = []
    for _ in range(steps):
        ahead = point + momentum * velocity
        value, gradient = lab.public.objective.value_and_gradient(ahead.tolist())
        rows.append([*ahead, value])
        velocity = momentum * velocity - lr * np.asarray(gradient)
        point = point + velocity
    return np.array(rows)


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


@pytest.fixture
def lab3_runs() -> list[plots.Run]:
    return [
        plots.Run("1. Ada", nesterov_rows("lab3", 0.1, 0.9, 500)),
        plots.Run("2. " + HOSTILE, nesterov_rows("lab3", 0.01, 0.0, 1000)),
    ]


def test_best_gaps_monotone():
    rows = np.array([[0.0, 3.0], [0.0, 1.0], [0.0, 2.0], [0.0, np.nan], [0.0, 0.5]])

    gaps = plots.best_gaps(rows, f_star=0.5)

    assert gaps.tolist() == [2.5, 0.5, 0.5, 0.5, 0.0]


def test_best_gaps_nonfinite_start():
    rows = np.array([[0.0, np.inf], [0.0, 2.0]])

    assert plots.best_gaps(rows, f_star=0.0).tolist() == [np.inf, 2.0]


def test_convergence_svg_labelled(lab3_runs: list[plots.Run]):
    svg = plots.convergence(get_lab("lab3"), lab3_runs, "en", "board-convergence")
    assert svg is not None
    root = parse(svg)

    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "board-convergence-title board-convergence-desc"
    title = root.find(f"{SVG}title")
    desc = root.find(f"{SVG}desc")
    assert title is not None and title.get("id") == "board-convergence-title"
    assert desc is not None and desc.get("id") == "board-convergence-desc"
    assert title.text == "Convergence on the public case"
    assert "1. Ada: best gap" in (desc.text or "")
    assert len(root.findall(f".//{SVG}polyline")) == 2


def test_labels_escaped(lab3_runs: list[plots.Run]):
    svg = plots.convergence(get_lab("lab3"), lab3_runs, "en", "c")
    assert svg is not None

    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg
    assert HOSTILE in (parse(svg).find(f"{SVG}desc").text or "")  # type: ignore[union-attr]


def test_convergence_in_korean(lab3_runs: list[plots.Run]):
    svg = plots.convergence(get_lab("lab3"), lab3_runs, "ko", "c")
    assert svg is not None

    assert parse(svg).find(f"{SVG}title").text == "공개 케이스에서의 수렴"  # type: ignore[union-attr]


def test_convergence_without_values():
    empty = plots.Run("1. Nobody", np.zeros((0, 3)))

    assert plots.convergence(get_lab("lab3"), [empty], "en", "c") is None


def test_contour_plot_lab3(lab3_runs: list[plots.Run]):
    svg = plots.landscape(get_lab("lab3"), lab3_runs, "en", "board-landscape")
    root = parse(svg)

    assert root.find(f"{SVG}title").text == "Paths on the contour lines of f"  # type: ignore[union-attr]
    assert len(root.findall(f".//{SVG}path")) > 10  # contour lines and markers
    assert len(root.findall(f".//{SVG}polyline")) == 2
    assert "1. Ada ended at (0, 0.122)" in (root.find(f"{SVG}desc").text or "")  # type: ignore[union-attr]


def test_plots_stay_small(lab3_runs: list[plots.Run]):
    runs = lab3_runs + [
        plots.Run(f"{rank}. Run", nesterov_rows("lab3", 0.05, 0.5, 1000)) for rank in (3, 4, 5)
    ]

    convergence = plots.convergence(get_lab("lab3"), runs, "en", "c")
    landscape = plots.landscape(get_lab("lab3"), runs, "en", "l")

    assert convergence is not None
    assert len(convergence) < 20_000
    assert len(landscape) < 40_000


def test_diverged_run_keeps_view():
    lab = get_lab("lab3")
    ordinary = nesterov_rows("lab3", 0.1, 0.9, 200)
    diverged = np.array([[0.0, 1.948, 2.4], [0.0, 1e6, 1e30], [0.0, 1e200, np.inf], [np.nan, np.nan, np.nan]])

    root = parse(
        plots.landscape(lab, [plots.Run("1. Ok", ordinary), plots.Run("2. Away", diverged)], "en", "l")
    )

    tick_labels = [
        float(text.text or "nan") for text in root.iter(f"{SVG}text") if text.get("text-anchor") == "end"
    ]
    assert max(tick_labels) < 10  # the y axis still frames the critical points, not 1e200
    for polyline in root.iter(f"{SVG}polyline"):
        numbers = [float(v) for pair in (polyline.get("points") or "").split() for v in pair.split(",")]
        assert all(np.isfinite(numbers))
        assert max(abs(v) for v in numbers) <= plots.COORDINATE_LIMIT_PX


def test_curve_plot_lab2():
    rows = nesterov_rows("lab2", 0.01, 0.0, 300)

    root = parse(plots.landscape(get_lab("lab2"), [plots.Run("1. Quartic", rows)], "en", "l"))

    assert root.find(f"{SVG}title").text == "Iterates on the curve of f"  # type: ignore[union-attr]
    assert len(root.findall(f".//{SVG}polyline")) == 1


def test_thin_within_tolerance():
    t = np.linspace(0, 2 * np.pi, 2000)
    points = np.column_stack([100 * t, 50 * np.sin(t)])

    thinned = plots._thin(points, tolerance=0.5)

    assert len(thinned) < 200
    assert thinned[0].tolist() == points[0].tolist()
    assert thinned[-1].tolist() == points[-1].tolist()
    # Every dropped point lies within the tolerance of the simplified line.
    resampled = np.interp(points[:, 0], thinned[:, 0], thinned[:, 1])
    assert np.max(np.abs(resampled - points[:, 1])) <= 0.5 + 1e-9


@pytest.mark.parametrize(
    ("low", "high", "ticks"),
    [
        (0.0, 1000.0, [0.0, 200.0, 400.0, 600.0, 800.0, 1000.0]),
        (-2.8, 3.8, [-2.0, 0.0, 2.0]),
        (-0.3, 0.3, [-0.3, -0.2, -0.1, 0.0, 0.1, 0.2, 0.3]),
        (5.0, 5.0, [5.0]),
    ],
)
def test_nice_ticks(low: float, high: float, ticks: list[float]):
    assert plots._nice_ticks(low, high) == ticks
