"""Plain-text tables of a submission's result and of a leaderboard.

Both take the JSON bodies of the REST API (``SubmissionPublic`` and
``Leaderboard`` in ``server/schemas.py``); ``gradedescent try`` builds the
same body from a local run. Column widths count East Asian wide characters
as two terminal cells, so names and labels in Korean stay aligned.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Sequence
from typing import Any

from client import messages

INDENT = "  "
COLUMN_GAP = "  "


def display_width(text: str) -> int:
    """Return the number of terminal cells ``text`` takes: 2 for wide characters, 0 for combining marks."""
    width = 0
    for character in text:
        if unicodedata.combining(character):
            continue
        width += 2 if unicodedata.east_asian_width(character) in ("W", "F") else 1
    return width


def clean(text: str) -> str:
    """Replace control characters, so a value cannot move the cursor or recolour the terminal."""
    return "".join("\ufffd" if unicodedata.category(c) == "Cc" else c for c in text)


def status_name(status: object) -> str:
    """Name a submission's status in the student's language; an unknown one is shown cleaned."""
    text = str(status)
    return clean(messages.STATUS_NAMES.get(text, text))


def _joined(lines: list[str]) -> str:
    """Join output lines, with any control character that a server's value carried replaced."""
    return "".join(clean(line) + "\n" for line in lines)


def pad(text: str, width: int, right: bool = False) -> str:
    fill = " " * max(width - display_width(text), 0)
    return fill + text if right else text + fill


def format_number(value: float | None, spec: str = ".10g") -> str:
    return messages.NONE if value is None else format(value, spec)


def format_point(point: Sequence[float]) -> str:
    return "(" + ", ".join(format(coordinate, ".10g") for coordinate in point) + ")"


def key_value_lines(rows: list[tuple[str, str]]) -> list[str]:
    """Lay out label-value pairs in two columns; later lines of a multi-line value stay in the value column."""
    if not rows:
        return []
    label_width = max(display_width(label) for label, _ in rows)
    lines = []
    for label, value in rows:
        first, *rest = [clean(line) for line in value.splitlines()] or [""]
        lines.append(INDENT + pad(label, label_width) + COLUMN_GAP + first)
        continuation = INDENT + " " * label_width + COLUMN_GAP
        lines.extend(continuation + line for line in rest)
    return lines


def format_result(body: dict[str, Any]) -> str:
    """Format a submission (or a local run, whose ``id`` is None) as sections of label-value rows."""
    lines = []
    if body.get("id") is None:
        lines.append(messages.SECTION_LOCAL)
    else:
        lines.append(messages.SECTION_SUBMISSION.format(id=body["id"]))
    lines += key_value_lines(_header_rows(body))

    score = body.get("score")
    if score:
        lines += ["", messages.SECTION_PUBLIC]
        lines += key_value_lines(_score_rows(score, body))
    hidden = body.get("hidden")
    if hidden:
        lines += ["", messages.SECTION_HIDDEN]
        lines += key_value_lines(_hidden_rows(hidden))

    if body.get("status") == "done":
        for title, key in ((messages.SECTION_STDOUT, "stdout"), (messages.SECTION_STDERR, "stderr")):
            output = body.get(key) or ""
            lines += ["", title]
            # The student's own output, indented and without control characters.
            lines += [INDENT + clean(line) for line in output.splitlines()] or [INDENT + messages.NO_OUTPUT]
    return _joined(lines)


def _header_rows(body: dict[str, Any]) -> list[tuple[str, str]]:
    rows = [(messages.LABEL_LAB, str(body.get("lab_id", "")))]
    if body.get("student_id"):
        rows.append((messages.LABEL_STUDENT, str(body["student_id"])))
    status = str(body.get("status", ""))
    rows.append((messages.LABEL_STATUS, status_name(status)))
    if body.get("verdict"):
        rows.append((messages.LABEL_VERDICT, str(body["verdict"])))
    if body.get("late"):
        rows.append((messages.LABEL_LATE, messages.YES))
    if body.get("detail"):
        rows.append((messages.LABEL_DETAIL, str(body["detail"])))
    return rows


def _score_rows(score: dict[str, Any], body: dict[str, Any]) -> list[tuple[str, str]]:
    evaluations = str(score["evaluations"])
    if score.get("budget_spent"):
        evaluations = messages.EVALUATIONS_BUDGET_SPENT.format(count=evaluations)
    scored_on = str(score.get("scored_on", ""))
    rows = [
        (messages.LABEL_FINAL_POINT, format_point(score["final_point"])),
        (messages.LABEL_FINAL_F, format_number(score.get("final_f"))),
        (messages.LABEL_GAP, format_number(score.get("gap"), ".3e")),
        (messages.LABEL_DISTANCE, format_number(score.get("distance"), ".3e")),
        (messages.LABEL_EVALUATIONS, evaluations),
        (messages.LABEL_SCORED_ON, messages.SCORED_ON_NAMES.get(scored_on, scored_on)),
    ]
    for target, count in score.get("evaluations_to_target", {}).items():
        rows.append(
            (messages.LABEL_TO_TARGET.format(target=target), messages.NEVER if count is None else str(count))
        )
    rows.append((messages.LABEL_REACHED, messages.YES if score.get("reached_global") else messages.NO))

    feedback = body.get("feedback")
    if feedback:
        kind = str(feedback["kind"])
        rows.append(
            (messages.LABEL_FEEDBACK, f"{feedback['message']} ({messages.FEEDBACK_KINDS.get(kind, kind)})")
        )
        critical = feedback.get("critical_point")
        if critical:
            value = messages.CRITICAL_POINT_VALUE.format(
                kind=messages.CRITICAL_POINT_KINDS.get(str(critical["kind"]), str(critical["kind"])),
                point=format_point(critical["point"]),
                value=format(critical["value"], ".10g"),
            )
            rows.append((messages.LABEL_CRITICAL_POINT, value))
    solved = body.get("solved_fraction")
    if solved is not None:
        hidden = body.get("hidden")
        cases = 1 + (hidden["cases"] if hidden else 0)
        rows.append((messages.LABEL_SOLVED, f"{solved:.3f} ({round(solved * cases)}/{cases})"))
    return rows


def _hidden_rows(hidden: dict[str, Any]) -> list[tuple[str, str]]:
    rows = [
        (messages.LABEL_CASES, str(hidden["cases"])),
        (messages.LABEL_HIDDEN_SOLVED, f"{hidden['solved_fraction']:.3f}"),
        (messages.LABEL_MEAN_GAP, format_number(hidden.get("mean_gap"), ".3e")),
    ]
    for target, ert in hidden.get("expected_running_time", {}).items():
        rows.append(
            (messages.LABEL_ERT.format(target=target), messages.NEVER if ert is None else f"{ert:.1f}")
        )
    kinds = hidden.get("feedback") or {}
    counted = sorted(kinds.items(), key=lambda item: -item[1])
    summary = ", ".join(f"{messages.FEEDBACK_KINDS.get(kind, kind)} {count}" for kind, count in counted)
    rows.append((messages.LABEL_HIDDEN_FEEDBACK, summary or messages.NONE))
    return rows


def format_leaderboard(board: dict[str, Any]) -> str:
    """Format a leaderboard body as a title, the deadline if set, and one aligned row per entry."""
    name = str(board.get("board", ""))
    lines = [
        messages.BOARD_TITLE.format(
            lab=board.get("lab_id", ""),
            board=messages.BOARD_NAMES.get(name, name),
            rule=messages.RULE_NAMES.get(str(board.get("rule", "")), str(board.get("rule", ""))),
        )
    ]
    if board.get("deadline"):
        lines.append(messages.BOARD_DEADLINE.format(deadline=_local_time(board["deadline"])))
    rows = board.get("rows") or []
    if not rows:
        lines.append(messages.BOARD_EMPTY)
        return _joined(lines)

    header = [
        messages.COLUMN_RANK,
        messages.COLUMN_NAME,
        messages.COLUMN_SECTION,
        messages.COLUMN_SUBMISSION,
        messages.COLUMN_GAP,
        messages.COLUMN_ERT,
        messages.COLUMN_SOLVED,
        messages.COLUMN_FINAL_F,
        messages.COLUMN_EVALUATIONS,
        messages.COLUMN_SUBMITTED,
    ]
    numeric = [True, False, False, True, True, True, True, True, True, False]
    table = [header] + [_leaderboard_cells(row) for row in rows]
    widths = [max(display_width(cells[i]) for cells in table) for i in range(len(header))]
    lines.append("")
    for cells in table:
        padded = [pad(cell, width, right) for cell, width, right in zip(cells, widths, numeric, strict=True)]
        lines.append(COLUMN_GAP.join(padded).rstrip())
    return _joined(lines)


def _leaderboard_cells(row: dict[str, Any]) -> list[str]:
    ert = row.get("expected_running_time")
    solved = row.get("solved_fraction")
    evaluations = row.get("evaluations")
    return [
        str(row["rank"]),
        # Servers before display names sent the real name as student_name.
        clean(str(row.get("display_name", row.get("student_name", "")))),
        clean(str(row["section"])),
        str(row["submission_id"]),
        format(row["gap"], ".3e"),
        messages.NEVER if ert is None else f"{ert:.1f}",
        messages.NONE if solved is None else f"{solved:.3f}",
        format_number(row.get("final_f")),
        messages.NONE if evaluations is None else str(evaluations),
        _local_time(row["submitted_at"]),
    ]


def _local_time(value: str) -> str:
    """Show an ISO 8601 time from the server in the local time zone, to the minute."""
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return clean(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)  # The server stores UTC.
    return moment.astimezone().strftime("%Y-%m-%d %H:%M %Z").strip()
