"""The TA dashboard over REST, on a course of 200 students with real grading.

The module's server loads a 200-student roster, opens lab1 with a deadline,
a quota and two hidden cases, and takes three graded submissions at set
times. The tests then list, read, regrade, count and export them.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.server.course_server import ORDINARY, SEOUL, CourseServer, course_server, wait_done

CONVERGING = """
def solution(func, start_point):
    x = float(start_point)
    for _ in range(300):
        h = 1e-3 * max(1.0, abs(x))
        x -= 3000.0 * (func(x + h) - func(x - h)) / (2 * h)
    return x
"""
SYNTAX_ERROR = "def solution(func, start_point)\n    return start_point\n"
DEADLINE = dt.datetime(2026, 12, 11, 23, 59, tzinfo=SEOUL)
FORMULA_NAME = '=HYPERLINK("http://127.0.0.1/","x")'


@dataclass
class Course:
    server: CourseServer
    tokens: dict[str, str]
    ids: dict[str, int]


def roster_csv() -> bytes:
    lines = ["student_id,name,section"]
    for number in range(200):
        name = FORMULA_NAME if number == 2 else f"Student {number}"
        lines.append(
            f'2026{number:04d},"{name.replace(chr(34), chr(34) * 2)}",{"A" if number < 100 else "B"}'
        )
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Course]:
    with course_server(tmp_path_factory.mktemp("dashboard"), workers=1) as server:
        with server.ta() as ta:
            imported = ta.post("/api/ta/roster", content=roster_csv(), headers={"Content-Type": "text/csv"})
            assert imported.status_code == 200, imported.text
        tokens = {entry["student_id"]: entry["token"] for entry in imported.json()["created"]}
        server.set_lab(
            "lab1", deadline=DEADLINE.isoformat(), daily_quota=5, hidden_cases=2, late_policy="mark_late"
        )

        plan = [
            ("ordinary", "20260001", ORDINARY, dt.datetime(2026, 12, 11, 10, 15, tzinfo=SEOUL)),
            ("syntax", "20260150", SYNTAX_ERROR, dt.datetime(2026, 12, 11, 10, 40, tzinfo=SEOUL)),
            ("late", "20260002", CONVERGING, DEADLINE + dt.timedelta(hours=1, minutes=5)),
        ]
        ids = {}
        for label, student_id, code, moment in plan:
            server.clock.now = moment
            with server.client(tokens[student_id]) as client:
                response = client.post("/api/labs/lab1/submissions", json={"code": code})
            assert response.status_code == 202, response.text
            ids[label] = response.json()["id"]
        with server.ta() as ta:
            for submission_id in ids.values():
                wait_done(ta, submission_id)
        yield Course(server, tokens, ids)


@pytest.fixture
def ta(course: Course) -> Iterator[httpx.Client]:
    with course.server.ta() as client:
        yield client


def listed_ids(ta: httpx.Client, **params: object) -> list[int]:
    response = ta.get("/api/ta/submissions", params={"lab_id": "lab1", **params})
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


def test_list_filters(course: Course, ta: httpx.Client):
    ids = course.ids

    assert listed_ids(ta) == [ids["late"], ids["syntax"], ids["ordinary"]]
    assert listed_ids(ta, section="B") == [ids["syntax"]]
    assert listed_ids(ta, student_id="20260002") == [ids["late"]]
    assert listed_ids(ta, verdict="syntax_error") == [ids["syntax"]]
    assert listed_ids(ta, late=True) == [ids["late"]]
    assert listed_ids(ta, late=False) == [ids["syntax"], ids["ordinary"]]
    assert listed_ids(ta, since="2026-12-11T10:30:00+09:00", until="2026-12-11T11:00:00+09:00") == [
        ids["syntax"]
    ]
    assert listed_ids(ta, limit=1, offset=1) == [ids["syntax"]]


def test_list_rejects_naive_time(ta: httpx.Client):
    response = ta.get("/api/ta/submissions", params={"since": "2026-12-11T10:30:00"})

    assert response.status_code == 422
    assert "needs a time zone" in response.json()["detail"]


def test_read_submission_in_full(course: Course, ta: httpx.Client):
    body = ta.get(f"/api/ta/submissions/{course.ids['late']}", params={"trajectory": True}).json()

    assert body["code"] == CONVERGING
    assert body["student_name"] == FORMULA_NAME
    assert body["late"] is True
    assert body["verdict"] == "accepted"
    assert [case["hidden"] for case in body["cases"]] == [False, True, True]
    assert all(case["seed"] is not None for case in body["cases"][1:])
    assert all(case["reached_global"] for case in body["cases"])
    assert len(body["cases"][0]["trajectory"]) == body["cases"][0]["evaluations"]
    assert len(body["cases"][0]["trajectory"][0]) == 2


def test_read_submission_missing(ta: httpx.Client):
    assert ta.get("/api/ta/submissions/999999").status_code == 404


def test_student_sees_aggregates_only(course: Course):
    with course.server.client(course.tokens["20260002"]) as student:
        body = student.get(f"/api/submissions/{course.ids['late']}").json()

    assert "code" not in body
    assert "cases" not in body
    assert body["hidden"]["cases"] == 2
    assert body["late"] is True


def test_stats(course: Course, ta: httpx.Client):
    stats = ta.get("/api/ta/labs/lab1/stats", params={"until": "2026-12-12T00:00:00+09:00"}).json()

    assert stats["submissions"] == 2
    assert stats["students"] == 2
    assert stats["verdicts"] == {"accepted": 1, "syntax_error": 1}
    assert [(hour["hour"], hour["submissions"]) for hour in stats["per_hour"]] == [
        ("2026-12-11T10:00:00+09:00", 2)
    ]
    assert sum(bin_["count"] for bin_ in stats["solved_fraction"]) == 1


def test_stats_zero_fills_hours(course: Course, ta: httpx.Client):
    stats = ta.get("/api/ta/labs/lab1/stats").json()

    hours = stats["per_hour"]
    assert len(hours) == 16  # 10:00 on the 11th to 01:00 on the 12th, Seoul time.
    assert hours[0] == {"hour": "2026-12-11T10:00:00+09:00", "submissions": 2}
    assert hours[-1] == {"hour": "2026-12-12T01:00:00+09:00", "submissions": 1}
    assert sum(hour["submissions"] for hour in hours[1:-1]) == 0
    assert stats["late"] == 1
    assert stats["solved_fraction"][-1]["count"] == 1
    assert stats["solved_fraction"][0]["count"] == 1
    assert set(stats["public_gap_quantiles"]) == {"min", "p25", "median", "p75", "max"}


def read_gradebook(ta: httpx.Client, **params: object) -> dict[str, dict[str, str]]:
    response = ta.get("/api/ta/gradebook.csv", params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text, newline="")))
    return {row["student_id"]: row for row in rows}


def test_gradebook_rows(course: Course, ta: httpx.Client):
    rows = read_gradebook(ta)

    assert len(rows) == 200
    late = rows["20260002"]
    assert late["lab1_submission_id"] == str(course.ids["late"])
    assert float(late["lab1_solved_fraction"]) == 1.0
    assert late["lab1_late"] == "true"
    assert float(late["lab1_public_gap"]) < 1e-6
    ordinary = rows["20260001"]
    assert float(ordinary["lab1_solved_fraction"]) == 0.0
    assert ordinary["lab1_late"] == "false"
    assert float(ordinary["lab1_public_gap"]) == pytest.approx(250000.0)
    syntax = rows["20260150"]
    assert syntax["lab1_submission_id"] == ""
    assert syntax["lab1_submissions"] == "1"
    assert rows["20260099"]["lab1_submissions"] == "0"
    assert rows["20260150"]["section"] == "B"


def test_gradebook_escapes_formulas(ta: httpx.Client):
    rows = read_gradebook(ta)

    assert rows["20260002"]["name"] == "'" + FORMULA_NAME


def test_gradebook_on_time_only(ta: httpx.Client):
    rows = read_gradebook(ta, on_time_only=True)

    assert rows["20260002"]["lab1_submission_id"] == ""
    assert rows["20260001"]["lab1_late"] == "false"


def test_gradebook_section_and_bom(ta: httpx.Client):
    response = ta.get("/api/ta/gradebook.csv", params={"section": "B", "bom": True})

    assert response.content.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"), newline="")))
    assert len(rows) == 100
    assert {row["section"] for row in rows} == {"B"}
    assert list(rows[0])[:4] == ["student_id", "name", "section", "email"]


BUSY = """
import time

def solution(func, start_point):
    time.sleep(2)
    return start_point
"""


def occupy_worker(course: Course, ta: httpx.Client) -> int:
    """Submit a 2 s solution to lab2 and wait until the course's one worker runs it."""
    with course.server.client(course.tokens["20260199"]) as student:
        response = student.post("/api/labs/lab2/submissions", json={"code": BUSY})
    assert response.status_code == 202, response.text
    busy_id = int(response.json()["id"])
    deadline = time.monotonic() + 60
    while ta.get(f"/api/ta/submissions/{busy_id}").json()["status"] != "running":
        assert time.monotonic() < deadline, "the busy submission did not start within 60 s"
        time.sleep(0.02)
    return busy_id


def test_regrade_submission_replaces_results(course: Course, ta: httpx.Client):
    submission_id = course.ids["ordinary"]
    # With the only worker busy, the first regrade is still queued when the second arrives.
    busy_id = occupy_worker(course, ta)

    first = ta.post(f"/api/ta/submissions/{submission_id}/regrade").json()
    second = ta.post(f"/api/ta/submissions/{submission_id}/regrade").json()
    wait_done(ta, busy_id)
    regraded = wait_done(ta, submission_id)
    detail = ta.get(f"/api/ta/submissions/{submission_id}").json()

    assert first == {"queued": [submission_id], "skipped": []}
    assert second == {"queued": [], "skipped": [submission_id]}
    assert regraded["verdict"] == "accepted"
    assert [case["case_index"] for case in detail["cases"]] == [0, 1, 2]
    assert detail["attempts"] == 1


def test_regrade_lab_by_verdict(course: Course, ta: httpx.Client):
    response = ta.post("/api/ta/labs/lab1/regrade", params={"verdict": "syntax_error"}).json()
    wait_done(ta, course.ids["syntax"])

    assert response == {"queued": [course.ids["syntax"]], "skipped": []}


def test_regrade_missing_submission(ta: httpx.Client):
    assert ta.post("/api/ta/submissions/999999/regrade").status_code == 404


def test_regrade_keeps_quota(course: Course):
    with course.server.client(course.tokens["20260001"]) as student:
        course.server.clock.now = dt.datetime(2026, 12, 11, 18, 0, tzinfo=SEOUL)
        quota = student.get("/api/labs/lab1/quota").json()["quota"]

    assert quota["used"] == 1


def test_audit_log(ta: httpx.Client):
    entries = ta.get("/api/ta/audit", params={"limit": 500}).json()["items"]
    actions = [entry["action"] for entry in entries]

    assert "roster_import" in actions
    assert "lab_settings_update" in actions
    assert "gradebook_export" in actions
    assert {entry["ta_name"] for entry in entries} == {"bootstrap"}
    settings = next(entry for entry in entries if entry["action"] == "lab_settings_update")
    assert settings["details"]["daily_quota"] == 5
    assert settings["target"] == "lab1"
    assert [entry["id"] for entry in entries] == sorted((entry["id"] for entry in entries), reverse=True)
