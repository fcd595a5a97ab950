"""Polling, retries and API errors, against a scripted HTTP server on a loopback port.

The scripted server sends the next response of a list for each request, so
tests can make the real HTTP client meet 5xx statuses, error bodies and
non-JSON replies. Sleeps go to a fake clock, so the tests take no waiting.
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from client.api import Api
from client.cli import main
from client.errors import CliError, ExitCode
from client.waiting import MAX_RETRIES, POLL_SECONDS, StatusLine, wait_for_result

Reply = tuple[int, str]


class ScriptedServer:
    """An HTTP server that sends ``replies`` in order, repeating the last one, and records request paths."""

    def __init__(self, replies: list[Reply]) -> None:
        self.replies = list(replies)
        self.paths: list[str] = []
        self.authorizations: list[str | None] = []
        self.idempotency_keys: list[str | None] = []
        scripted = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (the name http.server dispatches to)
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                scripted.paths.append(self.path)
                scripted.authorizations.append(self.headers.get("Authorization"))
                scripted.idempotency_keys.append(self.headers.get("Idempotency-Key"))
                status, body = scripted.replies.pop(0) if len(scripted.replies) > 1 else scripted.replies[0]
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_POST = do_GET  # noqa: N815

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def scripted() -> Iterator[list[ScriptedServer]]:
    servers: list[ScriptedServer] = []
    yield servers
    for server in servers:
        server.close()


def serve(servers: list[ScriptedServer], replies: list[Reply]) -> ScriptedServer:
    server = ScriptedServer(replies)
    servers.append(server)
    return server


def submission(status: str, verdict: str | None = None) -> Reply:
    return 200, json.dumps({"id": 7, "lab_id": "lab1", "status": status, "verdict": verdict})


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def wait(server: ScriptedServer, clock: FakeClock, timeout: float = 600) -> dict[str, object]:
    status_line = StatusLine(io.StringIO(), interactive=False)
    with Api(server.url, "token") as api:
        return wait_for_result(api, 7, status_line, timeout, clock=clock.time, sleep=clock.sleep)


def test_wait_returns_done(scripted: list[ScriptedServer]):
    server = serve(scripted, [submission("queued"), submission("running"), submission("done", "accepted")])
    clock = FakeClock()

    body = wait(server, clock)

    assert body["verdict"] == "accepted"
    assert clock.sleeps == [POLL_SECONDS, POLL_SECONDS]
    assert server.paths == ["/api/submissions/7"] * 3
    assert server.authorizations == ["Bearer token"] * 3


def test_wait_retries_server_errors(scripted: list[ScriptedServer], capsys: pytest.CaptureFixture[str]):
    failure = (503, json.dumps({"detail": "the database is busy"}))
    server = serve(scripted, [failure, failure, submission("queued"), submission("done", "accepted")])
    clock = FakeClock()

    body = wait(server, clock)

    assert body["status"] == "done"
    assert clock.sleeps == [1.0, 2.0, POLL_SECONDS]
    notices = capsys.readouterr().err
    assert "the server failed (503): the database is busy. Try again later" in notices
    assert f"Trying again in 1 s (1 of {MAX_RETRIES})." in notices
    assert f"Trying again in 2 s (2 of {MAX_RETRIES})." in notices


def test_wait_gives_up_after_retries(scripted: list[ScriptedServer]):
    server = serve(scripted, [(500, json.dumps({"detail": "broken"}))])
    clock = FakeClock()

    with pytest.raises(CliError) as caught:
        wait(server, clock)

    assert caught.value.exit_code is ExitCode.SERVER
    assert "the server failed (500): broken" in caught.value.message
    assert clock.sleeps == [2.0**attempt for attempt in range(MAX_RETRIES)]
    assert len(server.paths) == MAX_RETRIES + 1


def test_wait_stops_on_client_error(scripted: list[ScriptedServer]):
    server = serve(scripted, [(404, json.dumps({"detail": "submission 7 not found"}))])
    clock = FakeClock()

    with pytest.raises(CliError) as caught:
        wait(server, clock)

    assert caught.value.exit_code is ExitCode.USAGE
    assert "(404): submission 7 not found" in caught.value.message
    assert clock.sleeps == []


def test_wait_timeout(scripted: list[ScriptedServer]):
    server = serve(scripted, [submission("queued")])
    clock = FakeClock()

    with pytest.raises(CliError) as caught:
        wait(server, clock, timeout=2.0)

    assert caught.value.exit_code is ExitCode.PENDING
    assert "Submission 7 is still queued after 2 s" in caught.value.message


def test_submit_resends_with_same_key(
    scripted: list[ScriptedServer], tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    created = (202, json.dumps({"id": 7, "url": "/api/submissions/7", "status": "queued"}))
    server = serve(scripted, [(502, "bad gateway"), created, submission("done", "accepted")])
    solution = tmp_path / "solution.py"
    solution.write_text("def solution(func, start_point):\n    return start_point\n")
    environ = {"HOME": str(tmp_path), "GRADEDESCENT_URL": server.url, "GRADEDESCENT_TOKEN": "token"}

    code = main(["submit", "lab1", str(solution)], environ)

    assert code == 0
    assert server.paths == ["/api/labs/lab1/submissions"] * 2 + ["/api/submissions/7"]
    first, second, _ = server.idempotency_keys
    assert first is not None
    assert first == second
    assert "Submitted" in capsys.readouterr().out


def test_submit_new_key_per_command(scripted: list[ScriptedServer], tmp_path: Path):
    created = (202, json.dumps({"id": 7, "url": "/api/submissions/7", "status": "queued"}))
    server = serve(scripted, [created])
    solution = tmp_path / "solution.py"
    solution.write_text("def solution(func, start_point):\n    return start_point\n")
    environ = {"HOME": str(tmp_path), "GRADEDESCENT_URL": server.url, "GRADEDESCENT_TOKEN": "token"}

    main(["submit", "lab1", str(solution), "--no-wait"], environ)
    main(["submit", "lab1", str(solution), "--no-wait"], environ)

    first, second = server.idempotency_keys
    assert first != second


def test_api_validation_detail(scripted: list[ScriptedServer]):
    detail = [{"loc": ["query", "board"], "msg": "Input should be 'public' or 'private'", "type": "enum"}]
    server = serve(scripted, [(422, json.dumps({"detail": detail}))])

    with Api(server.url) as api, pytest.raises(CliError) as caught:
        api.leaderboard("lab3", "public")

    assert "(422): query.board: Input should be 'public' or 'private'" in caught.value.message


def test_api_not_json(scripted: list[ScriptedServer]):
    server = serve(scripted, [(200, "<html>a proxy login page</html>")])

    with Api(server.url) as api, pytest.raises(CliError) as caught:
        api.submission(7)

    assert caught.value.exit_code is ExitCode.SERVER
    assert "not gradedescent JSON" in caught.value.message


def test_api_json_not_object(scripted: list[ScriptedServer]):
    server = serve(scripted, [(200, "[1, 2]")])

    with Api(server.url) as api, pytest.raises(CliError) as caught:
        api.submission(7)

    assert "a JSON list, not an object" in caught.value.message


def test_api_quotes_lab_id(scripted: list[ScriptedServer]):
    server = serve(scripted, [(200, json.dumps({"rows": []}))])

    with Api(server.url) as api:
        api.leaderboard("../ta/labs", "public")

    assert server.paths == ["/api/labs/..%2Fta%2Flabs/leaderboard?board=public"]


def test_api_without_token(scripted: list[ScriptedServer]):
    server = serve(scripted, [(200, json.dumps({"rows": []}))])

    with Api(server.url, None) as api:
        api.leaderboard("lab3", "public")

    assert server.authorizations == [None]


def test_status_line_plain():
    stream = io.StringIO()
    status_line = StatusLine(stream, interactive=False)

    status_line.show(7, "queued", 0.2)
    status_line.show(7, "queued", 0.7)
    status_line.show(7, "running", 1.2)
    status_line.clear()

    assert stream.getvalue() == "submission 7: queued (0 s)\nsubmission 7: running (1 s)\n"


def test_status_line_terminal():
    stream = io.StringIO()
    status_line = StatusLine(stream, interactive=True)

    status_line.show(7, "queued", 0.0)
    status_line.show(7, "running", 3.0)
    status_line.clear()

    assert stream.getvalue() == (
        "\r| submission 7: queued (0 s)\x1b[K\r/ submission 7: running (3 s)\x1b[K\r\x1b[K"
    )
