"""Opening times, deadlines and late policies, one second on each side of each boundary."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from tests.server.course_server import ORDINARY, SEOUL, CourseServer, course_server

OPENS = dt.datetime(2026, 12, 1, 9, 0, tzinfo=SEOUL)
DEADLINE = dt.datetime(2026, 12, 11, 23, 59, 0, tzinfo=SEOUL)
SECOND = dt.timedelta(seconds=1)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CourseServer]:
    with course_server(tmp_path_factory.mktemp("schedule")) as running:
        running.set_lab("lab1", opens_at=OPENS.isoformat(), deadline=DEADLINE.isoformat(), daily_quota=None)
        yield running


def submit_at(server: CourseServer, student_id: str, moment: dt.datetime, late_policy: str):
    server.set_lab("lab1", late_policy=late_policy)
    token = server.add_student(student_id)
    server.clock.now = moment
    with server.client(token) as client:
        return client.post("/api/labs/lab1/submissions", json={"code": ORDINARY})


@pytest.mark.parametrize("policy", ["reject", "mark_late"])
def test_second_before_deadline_on_time(server: CourseServer, policy: str):
    response = submit_at(server, f"s-before-{policy}", DEADLINE - SECOND, policy)

    assert response.status_code == 202
    assert response.json()["late"] is False


@pytest.mark.parametrize("policy", ["reject", "mark_late"])
def test_at_deadline_on_time(server: CourseServer, policy: str):
    response = submit_at(server, f"s-at-{policy}", DEADLINE, policy)

    assert response.status_code == 202
    assert response.json()["late"] is False


def test_second_after_deadline_rejected(server: CourseServer):
    response = submit_at(server, "s-after-reject", DEADLINE + SECOND, "reject")

    assert response.status_code == 403
    message = response.json()["detail"]
    assert "deadline for lab1 passed at 2026-12-11 23:59:00 KST (Asia/Seoul)" in message
    assert "late submissions are not accepted" in message


def test_second_after_deadline_marked_late(server: CourseServer):
    response = submit_at(server, "s-after-mark", DEADLINE + SECOND, "mark_late")

    assert response.status_code == 202
    assert response.json()["late"] is True
    with server.ta() as client:
        stored = client.get(response.json()["url"]).json()
        listed = client.get("/api/ta/submissions", params={"student_id": "s-after-mark", "late": True}).json()
    assert stored["late"] is True
    assert [item["id"] for item in listed["items"]] == [response.json()["id"]]


def test_deadline_in_another_offset(server: CourseServer):
    # The same instant written in UTC: 14:59:00Z is 23:59:00 in Seoul.
    server.set_lab("lab1", deadline="2026-12-11T14:59:00Z")
    try:
        on_time = submit_at(server, "s-utc-on-time", DEADLINE, "reject")
        late = submit_at(server, "s-utc-late", DEADLINE + SECOND, "reject")
    finally:
        server.set_lab("lab1", deadline=DEADLINE.isoformat())

    assert on_time.status_code == 202
    assert late.status_code == 403


def test_second_before_opening_rejected(server: CourseServer):
    response = submit_at(server, "s-early", OPENS - SECOND, "mark_late")

    assert response.status_code == 403
    assert "lab1 opens for submissions at 2026-12-01 09:00:00 KST (Asia/Seoul)" in response.json()["detail"]


def test_at_opening_accepted(server: CourseServer):
    response = submit_at(server, "s-opening", OPENS, "mark_late")

    assert response.status_code == 202


def test_settings_reject_naive_deadline(server: CourseServer):
    with server.ta() as client:
        response = client.patch("/api/ta/labs/lab1", json={"deadline": "2026-12-11T23:59:00"})

    assert response.status_code == 422
    assert "needs a time zone" in response.text


def test_settings_reject_opening_after_deadline(server: CourseServer):
    with server.ta() as client:
        response = client.patch("/api/ta/labs/lab1", json={"opens_at": "2026-12-12T00:00:00+09:00"})
        kept = client.get("/api/ta/labs/lab1").json()

    assert response.status_code == 422
    assert "is not before the deadline" in response.json()["detail"]
    assert kept["opens_at"] == "2026-12-01T00:00:00Z"


def test_settings_stored_in_utc(server: CourseServer):
    with server.ta() as client:
        body = client.get("/api/ta/labs/lab1").json()

    assert body["deadline"] == "2026-12-11T14:59:00Z"
    assert body["time_zone"] == "Asia/Seoul"


def test_settings_reject_unknown_policy(server: CourseServer):
    with server.ta() as client:
        response = client.patch("/api/ta/labs/lab1", json={"late_policy": "maybe"})

    assert response.status_code == 422
