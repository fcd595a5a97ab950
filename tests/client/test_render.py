"""The plain-text result and leaderboard tables."""

from __future__ import annotations

from typing import Any

from client.render import clean, display_width, format_leaderboard, format_result, key_value_lines


def submission_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": 12,
        "lab_id": "lab3",
        "student_id": "2026001",
        "status": "done",
        "verdict": "accepted",
        "detail": "",
        "score": {
            "final_point": [0.0, 3.0],
            "final_f": 0.0,
            "gap": 1.8370869680701547,
            "distance": 2.878038359543,
            "evaluations": 1000,
            "evaluations_to_target": {"0.1": None, "0.001": None, "1e-06": None},
            "reached_global": False,
            "budget_spent": True,
            "scored_on": "last_evaluation",
        },
        "feedback": {
            "kind": "stopped_at_critical_point",
            "message": "Stopped at a critical point that is not the global minimum.",
            "critical_point": {"kind": "local minimum", "point": [0.0, 3.0], "value": 0.0},
        },
        "hidden": {
            "cases": 8,
            "solved_fraction": 0.25,
            "mean_gap": 1.5,
            "expected_running_time": {"0.1": 120.5, "0.001": None, "1e-06": None},
            "feedback": {"stopped_at_critical_point": 6, "converged": 2},
        },
        "solved_fraction": 2 / 9,
        "stdout": "step 1\nstep 2\n",
        "stderr": "",
    }
    body.update(overrides)
    return body


def board_row(rank: int, name: str, **overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "rank": rank,
        "display_name": name,
        "section": "A",
        "submission_id": 100 + rank,
        "gap": 1e-12 * rank,
        "expected_running_time": 46.125,
        "solved_fraction": 1.0,
        "final_f": -1.8370869680701547,
        "evaluations": 500,
        "submitted_at": "2026-12-01T03:04:05+00:00",
    }
    row.update(overrides)
    return row


def cell_end(line: str, cell: str) -> int:
    """Return the terminal column just after ``cell`` in ``line``."""
    return display_width(line[: line.index(cell) + len(cell)])


def test_display_width_hangul():
    assert display_width("김민지") == 6


def test_display_width_combining_mark():
    assert display_width("e\u0301") == 1


def test_clean_control_characters():
    assert clean("a\x1b[2Jb\rc") == "a\ufffd[2Jb\ufffdc"


def test_key_value_multiline_value():
    lines = key_value_lines([("detail", "first\nsecond"), ("verdict", "runtime_error")])

    assert lines == ["  detail   first", "           second", "  verdict  runtime_error"]


def test_result_public_rows():
    text = format_result(submission_body())

    assert text.startswith("Submission 12\n")
    assert "  evaluations                 1000 (budget spent)\n" in text
    assert "  evaluations to gap < 1e-06  never\n" in text
    assert "  gap (f - f*)                1.837e+00\n" in text
    assert "  scored on                   the last evaluated point" in text
    assert "  critical point              local minimum at (0, 3), f = 0\n" in text
    assert "  solved fraction, all cases  0.222 (2/9)\n" in text


def test_result_hidden_rows():
    text = format_result(submission_body())

    assert "\nHidden cases\n" in text
    assert "  expected running time to gap < 0.1    120.5\n" in text
    assert "  expected running time to gap < 1e-06  never\n" in text
    assert "  feedback kinds                        stopped at a critical point 6, converged 2\n" in text


def test_result_output_indented():
    text = format_result(submission_body())

    assert text.endswith("\nstdout\n  step 1\n  step 2\n\nstderr\n  (no output)\n")


def test_result_late():
    text = format_result(submission_body(late=True))

    assert "  submitted after the deadline  yes\n" in text


def test_result_queued():
    body = submission_body(status="queued", verdict=None, score=None, feedback=None, hidden=None)

    text = format_result(body)

    assert text == "Submission 12\n  lab      lab3\n  student  2026001\n  status   queued\n"


def test_result_local_title():
    text = format_result(submission_body(id=None, student_id=None, hidden=None, solved_fraction=1.0))

    assert text.startswith("Local run on the public case; hidden cases run only on the server\n")
    assert "  student" not in text
    assert "(1/1)" in text


def test_leaderboard_alignment_hangul():
    board = {
        "lab_id": "lab3",
        "board": "public",
        "rule": "best",
        "deadline": None,
        "rows": [board_row(1, "김민지"), board_row(2, "Ada Lovelace", expected_running_time=None)],
    }

    lines = format_leaderboard(board).splitlines()

    assert lines[0] == "lab3: public board, best accepted submission of each student"
    header, first, second = lines[2:]
    # The submission column is right-aligned, so its cells end at the same terminal cell in every row.
    assert cell_end(first, "101") == cell_end(header, "submission")
    assert cell_end(second, "102") == cell_end(header, "submission")
    assert "never" in second


def test_leaderboard_empty():
    board = {"lab_id": "lab3", "board": "private", "rule": "latest", "deadline": None, "rows": []}

    text = format_leaderboard(board)

    assert (
        text
        == "lab3: private board, latest accepted submission of each student\nNo ranked submissions yet.\n"
    )


def test_leaderboard_cleans_names():
    board = {
        "lab_id": "lab3",
        "board": "public",
        "rule": "best",
        "deadline": None,
        "rows": [board_row(1, "\x1b[31mred")],
    }

    text = format_leaderboard(board)

    assert "\x1b" not in text
