"""Grading through Celery workers, a Redis broker and PostgreSQL, all real processes on loopback ports."""

from __future__ import annotations

import datetime as dt
import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from grader.dispatch import TASK_NAME, Dispatcher, Watchdog, make_celery
from grader.queue import take_undispatched
from server.db import make_engine, make_session_factory
from server.lab_settings import DEFAULT_HIDDEN_CASES
from server.models import CaseResult, Status, Submission, utc_now
from tests.conftest import TA_TOKEN, add_student, free_port, start_server, stop_server, wait_for_result
from tests.integration.conftest import start_worker, stop_worker, wait_until
from tests.server.conftest import add_student as add_student_row

ORDINARY = "def solution(func, start_point):\n    func(start_point)\n    return start_point\n"
CASES = 1 + DEFAULT_HIDDEN_CASES


def slow(seconds: float) -> str:
    """Return code that sleeps ``seconds`` in its first case only, so a run lasts long enough to interrupt."""
    return (
        "import time\n"
        "slept = False\n\n"
        "def solution(func, start_point):\n"
        "    global slept\n"
        "    if not slept:\n"
        "        slept = True\n"
        f"        time.sleep({seconds})\n"
        "    func(start_point)\n"
        "    return start_point\n"
    )


@pytest.fixture
def factory(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(database_url)
    yield make_session_factory(engine)
    engine.dispose()


def insert_submission(factory: sessionmaker[Session], student_pk: int, code: str, **values: object) -> int:
    with factory() as session:
        submission = Submission(student_pk=student_pk, lab_id="lab1", code=code, **values)
        session.add(submission)
        session.commit()
        return submission.id


def read(factory: sessionmaker[Session], submission_id: int) -> Submission:
    with factory() as session:
        submission = session.get(Submission, submission_id)
        assert submission is not None
        return submission


def case_indices(factory: sessionmaker[Session], submission_id: int) -> list[int]:
    with factory() as session:
        return list(
            session.scalars(
                select(CaseResult.case_index)
                .where(CaseResult.submission_id == submission_id)
                .order_by(CaseResult.case_index)
            )
        )


def wait_for_status(
    factory: sessionmaker[Session], submission_id: int, status: str, timeout: float = 120
) -> None:
    wait_until(
        lambda: read(factory, submission_id).status == status, f"submission {submission_id} {status}", timeout
    )


def log_events(log: str, submission_id: int) -> list[str]:
    """Return the ``event`` fields of the JSON log lines about one submission, in order."""
    events = []
    for line in log.splitlines():
        if not line.startswith("{"):
            continue
        record = json.loads(line)
        if record.get("submission_id") == submission_id:
            events.append(record.get("event"))
    return events


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Return every sample of a Prometheus text page, keyed by name and sorted labels."""
    text = httpx.get(url, timeout=10).text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_api_and_worker_grade_once(tmp_path: Path, database_url: str, broker_url: str, factory):
    server = start_server(
        tmp_path / "api",
        {
            "GRADEDESCENT_DATABASE_URL": database_url,
            "GRADEDESCENT_BROKER_URL": broker_url,
            "GRADEDESCENT_LOG_FORMAT": "json",
        },
    )
    worker = start_worker(
        tmp_path / "worker",
        database_url,
        broker_url,
        "w1",
        {"GRADEDESCENT_WORKERS": "2", "GRADEDESCENT_WATCHDOG_SECONDS": "0.5"},
    )
    try:
        token = add_student(server, "celery-student")
        ids = []
        with server.client(token) as client:
            for lab_id in ("lab1", "lab2", "lab3"):
                response = client.post(f"/api/labs/{lab_id}/submissions", json={"code": ORDINARY})
                assert response.status_code == 202, response.text
                ids.append(int(response.json()["id"]))
        # A row committed by an API that died before sending its task: only the watchdog can send one.
        with factory() as session:
            student_pk = session.scalar(select(Submission.student_pk).where(Submission.id == ids[0]))
        assert student_pk is not None
        orphan = insert_submission(
            factory, student_pk, ORDINARY, created_at=utc_now() - dt.timedelta(minutes=1)
        )
        with server.client(TA_TOKEN) as client:
            results = {id_: wait_for_result(client, f"/api/submissions/{id_}") for id_ in [*ids, orphan]}

        # A second task for a graded submission claims nothing and changes nothing.
        celery = make_celery(broker_url)
        celery.send_task(TASK_NAME, args=[ids[0]])
        wait_until(lambda: "skipped" in log_events(worker.log(), ids[0]), "the duplicate task being skipped")
        celery.close()

        worker_metrics = scrape(worker.metrics_url)
        api_metrics = scrape(f"{server.url}/metrics")
    finally:
        stop_worker(worker)
        stop_server(server)

    for id_, result in results.items():
        assert result["verdict"] == "accepted", f"submission {id_}: {result['detail']}"
        stored = read(factory, id_)
        assert stored.attempts == 1, f"submission {id_}"
        assert stored.lease_token is None, f"submission {id_}"
        assert stored.dispatched_at is not None, f"submission {id_}"
        assert case_indices(factory, id_) == list(range(CASES)), f"submission {id_}"
    assert log_events(server.log(), orphan) == []  # The API never saw it.
    for id_ in ids:
        assert log_events(server.log(), id_) == ["queued", "dispatched"]
    for id_ in [*ids, orphan]:
        assert log_events(worker.log(), id_).count("done") == 1, f"submission {id_}"
    assert "running" in log_events(worker.log(), orphan)
    assert "no local pool" in server.log()

    assert worker_metrics[("gradedescent_graded_total", (("verdict", "accepted"),))] == 4
    # Each pool process forks its runs from one warm sandbox, started on its first task.
    assert 1 <= worker_metrics[("gradedescent_sandbox_starts_total", ())] <= 4
    assert worker_metrics[("gradedescent_grading_latency_seconds_count", ())] == 4
    assert worker_metrics[("gradedescent_run_wall_seconds_count", ())] == 4
    assert api_metrics[("gradedescent_queue_depth", ())] == 0
    assert api_metrics[("gradedescent_running_submissions", ())] == 0
    assert api_metrics[("gradedescent_submissions_by_verdict", (("verdict", "accepted"),))] == 4


def test_killed_worker_regraded_once(tmp_path: Path, database_url: str, broker_url: str, factory):
    student_pk = add_student_row(factory, "kill-student")
    submission_id = insert_submission(factory, student_pk, slow(4))
    celery = make_celery(broker_url)
    assert Dispatcher(celery, factory).send(submission_id)
    celery.close()
    lease = {"GRADEDESCENT_LEASE_SECONDS": "2", "GRADEDESCENT_WATCHDOG_SECONDS": "0.5"}

    first = start_worker(tmp_path / "first", database_url, broker_url, "first", lease)
    try:
        wait_for_status(factory, submission_id, Status.RUNNING.value)
        time.sleep(1.0)  # Into the 4 s sleep of the run, past the sandbox's start.
        first_lease = read(factory, submission_id).lease_token
        first.kill()
    finally:
        stop_worker(first)
    running = read(factory, submission_id)
    assert running.status == Status.RUNNING.value
    assert running.lease_token == first_lease
    assert case_indices(factory, submission_id) == []

    second = start_worker(tmp_path / "second", database_url, broker_url, "second", lease)
    try:
        wait_for_status(factory, submission_id, Status.DONE.value)
    finally:
        stop_worker(second)

    done = read(factory, submission_id)
    assert done.verdict == "accepted", done.detail
    assert done.attempts == 2
    assert done.lease_token is None
    assert case_indices(factory, submission_id) == list(range(CASES))
    assert log_events(first.log(), submission_id) == ["running"]
    second_events = log_events(second.log(), submission_id)
    assert second_events.count("requeued") == 1
    assert second_events.count("running") == 1
    assert second_events.count("done") == 1


def test_sigterm_finishes_running_grade(tmp_path: Path, database_url: str, broker_url: str, factory):
    student_pk = add_student_row(factory, "sigterm-student")
    running_id = insert_submission(factory, student_pk, slow(3))
    waiting_id = insert_submission(factory, student_pk, ORDINARY)
    celery = make_celery(broker_url)
    dispatcher = Dispatcher(celery, factory)
    # A long lease and redispatch time: only the broker can hand the waiting task to the next worker.
    settings = {"GRADEDESCENT_LEASE_SECONDS": "60", "GRADEDESCENT_REDISPATCH_SECONDS": "3600"}

    first = start_worker(tmp_path / "first", database_url, broker_url, "first", settings)
    try:
        assert dispatcher.send(running_id)
        wait_for_status(factory, running_id, Status.RUNNING.value)
        assert dispatcher.send(waiting_id)
        first.process.send_signal(signal.SIGTERM)
        assert first.process.wait(60) == 0
    finally:
        stop_worker(first)
        celery.close()
    finished = read(factory, running_id)
    assert finished.status == Status.DONE.value
    assert finished.verdict == "accepted", finished.detail
    assert finished.attempts == 1
    assert read(factory, waiting_id).status == Status.QUEUED.value

    second = start_worker(tmp_path / "second", database_url, broker_url, "second", settings)
    try:
        wait_for_status(factory, waiting_id, Status.DONE.value)
    finally:
        stop_worker(second)
    assert read(factory, waiting_id).attempts == 1
    assert log_events(second.log(), running_id) == []


def test_dispatch_without_broker(factory, caplog: pytest.LogCaptureFixture):
    student_pk = add_student_row(factory, "no-broker-student")
    submission_id = insert_submission(factory, student_pk, ORDINARY)
    celery = make_celery(f"redis://127.0.0.1:{free_port()}/0")  # Nothing listens there.

    sent = Dispatcher(celery, factory).send(submission_id)
    celery.close()

    assert sent is False
    assert read(factory, submission_id).dispatched_at is None
    assert f"submission {submission_id}: could not send its grading task" in caplog.text


def test_watchdog_requeues_and_sends(database_url: str, broker_url: str, factory):
    student_pk = add_student_row(factory, "watchdog-student")
    hour_ago = utc_now() - dt.timedelta(hours=1)
    expired = insert_submission(
        factory,
        student_pk,
        ORDINARY,
        status=Status.RUNNING.value,
        lease_token="dead-worker",
        lease_expires_at=hour_ago,
        attempts=1,
    )
    unsent = insert_submission(factory, student_pk, ORDINARY, created_at=hour_ago)
    covered = insert_submission(factory, student_pk, ORDINARY, created_at=hour_ago, dispatched_at=utc_now())
    fresh = insert_submission(factory, student_pk, ORDINARY)
    celery = make_celery(broker_url)

    sent = Watchdog(Dispatcher(celery, factory), interval=60, redispatch_seconds=300).run_once()
    celery.close()

    assert sent == [expired, unsent]
    assert read(factory, expired).status == Status.QUEUED.value
    assert read(factory, expired).dispatched_at is not None
    assert read(factory, covered).dispatched_at is not None
    assert read(factory, fresh).dispatched_at is None
    assert take_undispatched(factory, 10, 300) == []
    with factory() as session:
        session.execute(update(Submission).where(Submission.id == covered).values(dispatched_at=hour_ago))
        session.commit()
    assert take_undispatched(factory, 10, 300) == [covered]
