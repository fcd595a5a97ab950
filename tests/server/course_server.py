"""An in-process uvicorn server whose request clock a test sets.

Tests of deadlines and daily quotas need the server's "now" on either side of
a boundary. ``course_server`` runs the real app under a real uvicorn server
on a loopback port, in a thread of the test process, with ``server.clock.get_now``
overridden by a ``Clock`` the test moves. Grading workers keep the real clock.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import uvicorn
from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from server.app import create_app
from server.clock import get_now
from server.config import Settings
from server.db import make_engine, make_session_factory
from server.migrate import upgrade
from tests.conftest import SANDBOX_MODE, TA_TOKEN, free_port

SEOUL = dt.timezone(dt.timedelta(hours=9))
DEFAULT_NOW = dt.datetime(2026, 12, 10, 12, 0, tzinfo=SEOUL)
ORDINARY = "def solution(func, start_point):\n    func(start_point)\n    return start_point\n"


@dataclass
class Clock:
    """The time that ``get_now`` returns to every request; tests assign ``now``."""

    now: dt.datetime = DEFAULT_NOW

    def __call__(self) -> dt.datetime:
        return self.now.astimezone(dt.UTC)


@dataclass
class CourseServer:
    url: str
    clock: Clock
    factory: sessionmaker[Session]
    app: FastAPI

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)

    def ta(self) -> httpx.Client:
        return self.client(TA_TOKEN)

    def add_student(self, student_id: str, name: str = "Test Student", section: str = "A") -> str:
        with self.ta() as client:
            response = client.post(
                "/api/ta/students", json={"student_id": student_id, "name": name, "section": section}
            )
        assert response.status_code == 201, response.text
        return str(response.json()["token"])

    def set_lab(self, lab_id: str, **settings: object) -> dict[str, object]:
        with self.ta() as client:
            response = client.patch(f"/api/ta/labs/{lab_id}", json=settings)
        assert response.status_code == 200, response.text
        return dict(response.json())


@contextmanager
def course_server(
    data_dir: Path, workers: int = 0, time_zone: str = "Asia/Seoul", ta_token: str = TA_TOKEN
) -> Iterator[CourseServer]:
    """Serve the app on a free loopback port until the block ends."""
    settings = Settings(
        data_dir=data_dir,
        ta_token=ta_token,  # type: ignore[arg-type]
        workers=workers,
        sandbox=SANDBOX_MODE,
        time_zone=time_zone,
    )
    data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.resolved_database_url)
    app = create_app(settings)
    clock = Clock()
    app.dependency_overrides[get_now] = clock
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on"))
    thread = threading.Thread(target=server.run, name="course-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the in-process server did not start; see the log above")
        time.sleep(0.05)
    engine = make_engine(settings.resolved_database_url)
    try:
        yield CourseServer(f"http://127.0.0.1:{port}", clock, make_session_factory(engine), app)
    finally:
        server.should_exit = True
        thread.join(60)
        engine.dispose()


def wait_done(client: httpx.Client, submission_id: int, timeout: float = 120) -> dict[str, object]:
    """Poll a submission until it is done and return its body."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(f"/api/submissions/{submission_id}").json()
        if body["status"] == "done":
            return dict(body)
        time.sleep(0.1)
    raise AssertionError(f"submission {submission_id} was not graded within {timeout} s")
