"""Daily quotas: what is charged, the refund of internal errors, the day boundary and the 429 response."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from grader import queue
from grader.verdicts import Verdict
from server import quota
from server.models import Submission
from tests.server.conftest import add_student
from tests.server.course_server import ORDINARY, SEOUL, CourseServer, course_server

ZONE = ZoneInfo("Asia/Seoul")
LAST_SECOND = dt.datetime(2026, 12, 10, 23, 59, 59, tzinfo=SEOUL)
MIDNIGHT = dt.datetime(2026, 12, 11, 0, 0, 0, tzinfo=SEOUL)


def add_submission(factory, student_pk: int, created_at: dt.datetime, verdict: str | None = None) -> None:
    with factory() as session:
        session.add(
            Submission(
                student_pk=student_pk,
                lab_id="lab1",
                code=ORDINARY,
                created_at=created_at,
                status="done" if verdict else "queued",
                verdict=verdict,
            )
        )
        session.commit()


def used(factory, student_pk: int, now: dt.datetime) -> int:
    with factory() as session:
        return quota.status(session, student_pk, "lab1", 5, now, ZONE).used


def test_charged_counts_queued_and_graded(session_factory):
    student = add_student(session_factory, "q-count")
    add_submission(session_factory, student, LAST_SECOND)
    add_submission(session_factory, student, LAST_SECOND, Verdict.ACCEPTED.value)
    add_submission(session_factory, student, LAST_SECOND, Verdict.SYNTAX_ERROR.value)

    assert used(session_factory, student, LAST_SECOND) == 3


def test_charged_refunds_internal_error(session_factory):
    student = add_student(session_factory, "q-refund")
    add_submission(session_factory, student, LAST_SECOND, Verdict.ACCEPTED.value)
    add_submission(session_factory, student, LAST_SECOND, Verdict.INTERNAL_ERROR.value)

    assert used(session_factory, student, LAST_SECOND) == 1


def test_charged_resets_at_local_midnight(session_factory):
    student = add_student(session_factory, "q-day")
    add_submission(session_factory, student, LAST_SECOND)

    assert used(session_factory, student, LAST_SECOND) == 1
    assert used(session_factory, student, MIDNIGHT) == 0
    assert used(session_factory, student, MIDNIGHT - dt.timedelta(microseconds=1)) == 1


def test_charged_day_is_course_day_not_utc_day(session_factory):
    # 08:59:59 in Seoul is still the UTC day before; 09:00 in Seoul is not a new course day.
    student = add_student(session_factory, "q-utc")
    add_submission(session_factory, student, dt.datetime(2026, 12, 10, 8, 59, 59, tzinfo=SEOUL))

    assert used(session_factory, student, dt.datetime(2026, 12, 10, 9, 0, tzinfo=SEOUL)) == 1


def test_charged_other_lab_and_student_apart(session_factory):
    student = add_student(session_factory, "q-mine")
    other = add_student(session_factory, "q-other")
    add_submission(session_factory, other, LAST_SECOND)
    with session_factory() as session:
        session.add(Submission(student_pk=student, lab_id="lab2", code=ORDINARY, created_at=LAST_SECOND))
        session.commit()

    assert used(session_factory, student, LAST_SECOND) == 0


def test_headers_format():
    status = quota.QuotaStatus("lab1", 5, 2, MIDNIGHT - dt.timedelta(days=1), MIDNIGHT)

    fields = quota.headers(status, LAST_SECOND)

    assert fields["RateLimit-Policy"] == '"daily";q=5;w=86400'
    assert fields["RateLimit"] == '"daily";r=3;t=1'


def test_headers_absent_without_quota():
    status = quota.QuotaStatus("lab1", None, 2, MIDNIGHT - dt.timedelta(days=1), MIDNIGHT)

    assert quota.headers(status, LAST_SECOND) == {}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[CourseServer]:
    with course_server(tmp_path / "data") as running:
        running.set_lab("lab1", daily_quota=2)
        yield running


def submit(client, code: str = ORDINARY):
    return client.post("/api/labs/lab1/submissions", json={"code": code})


def test_quota_reported_on_every_response(server: CourseServer):
    token = server.add_student("q-report")
    server.clock.now = LAST_SECOND
    with server.client(token) as client:
        first = submit(client)
        rejected = submit(client, "")
        second = submit(client, ORDINARY + "# again\n")

    assert first.status_code == 202
    assert first.headers["RateLimit"] == '"daily";r=1;t=1'
    assert first.headers["RateLimit-Policy"] == '"daily";q=2;w=86400'
    assert first.json()["quota"]["remaining"] == 1
    assert rejected.status_code == 422
    assert rejected.headers["RateLimit"] == '"daily";r=1;t=1'
    assert second.json()["quota"]["remaining"] == 0


def test_quota_exceeded_429(server: CourseServer):
    token = server.add_student("q-429")
    server.clock.now = MIDNIGHT - dt.timedelta(hours=3, minutes=12)
    with server.client(token) as client:
        assert submit(client).status_code == 202
        assert submit(client).status_code == 202
        over = submit(client)
        own = client.get("/api/me/submissions").json()

    assert over.status_code == 429
    assert over.headers["Retry-After"] == str(3 * 3600 + 12 * 60)
    assert over.headers["RateLimit"] == '"daily";r=0;t=11520'
    message = over.json()["detail"]
    assert "all 2 submissions for lab1 today" in message
    assert "2026-12-11 00:00:00 KST (Asia/Seoul)" in message
    assert "in 3 h 12 min" in message
    assert len(own) == 2


def test_quota_resets_at_midnight(server: CourseServer):
    token = server.add_student("q-midnight")
    server.clock.now = LAST_SECOND
    with server.client(token) as client:
        submit(client)
        submit(client)
        refused = submit(client)
        server.clock.now = MIDNIGHT
        accepted = submit(client)

    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "1"
    assert accepted.status_code == 202
    assert accepted.json()["quota"]["used"] == 1


def test_quota_refunds_internal_error(server: CourseServer):
    token = server.add_student("q-internal")
    with server.client(token) as client:
        failed_id = submit(client).json()["id"]
        submit(client)
        refused = submit(client)

        # The grader fails on the first submission twice, as a worker records it: requeued, then final.
        for _ in range(queue.MAX_ATTEMPTS):
            claim = queue.claim_next(server.factory, lease_seconds=30)
            assert claim is not None
            assert claim.submission_id == failed_id
            queue.fail_internal(server.factory, claim, "sandbox did not start")
        refunded = client.get("/api/labs/lab1/quota").json()["quota"]
        accepted = submit(client)
        verdict = client.get(f"/api/submissions/{failed_id}").json()["verdict"]

    assert refused.status_code == 429
    assert verdict == "internal_error"
    assert refunded["used"] == 1
    assert refunded["remaining"] == 1
    assert accepted.status_code == 202


def test_quota_route_reports_schedule(server: CourseServer):
    deadline = "2026-12-11T23:59:00+09:00"
    server.set_lab("lab1", deadline=deadline, late_policy="reject")
    token = server.add_student("q-route")
    with server.client(token) as client:
        body = client.get("/api/labs/lab1/quota").json()

    assert body["quota"]["limit"] == 2
    assert body["quota"]["resets_at"] == "2026-12-10T15:00:00Z"
    assert body["quota"]["resets_at_local"] == "2026-12-11 00:00:00 KST (Asia/Seoul)"
    assert body["deadline"] == "2026-12-11T14:59:00Z"
    assert body["late_policy"] == "reject"
    assert body["time_zone"] == "Asia/Seoul"


def test_quota_null_means_unlimited(server: CourseServer):
    server.set_lab("lab1", daily_quota=None)
    token = server.add_student("q-none")
    with server.client(token) as client:
        responses = [submit(client) for _ in range(3)]

    assert [r.status_code for r in responses] == [202, 202, 202]
    assert "RateLimit" not in responses[-1].headers
    assert responses[-1].json()["quota"]["limit"] is None
