"""The CLI against servers that fail, stall or are not gradedescent: clear errors, no hang, no retry storm."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from client import api
from client.api import Api, InvalidResponse, ServerUnavailable
from client.waiting import is_server_failure
from tests.client.conftest import Canned, canned_server, run_cli, write_solution

SOLUTION = "def solution(func, start_point):\n    return start_point\n"


def test_trickling_reply_times_out(monkeypatch: pytest.MonkeyPatch):
    # httpx's timeout is per read, so a byte every 0.3 s would never trip it.
    monkeypatch.setattr(api, "TIMEOUT_SECONDS", 1.0)
    body = b'{"status": "queued", "padding": "' + b"x" * 100 + b'"}'
    with canned_server(Canned(200, body, trickle_seconds=0.3)) as server:
        started = time.monotonic()
        with Api(server.url, "token") as client, pytest.raises(ServerUnavailable) as caught:
            client.submission(1)
        waited = time.monotonic() - started

    assert "the reply took longer than 1 s" in caught.value.message
    assert waited < 5


def test_long_detail_shortened_and_cleaned(cli_env: dict[str, str]):
    detail = "\x1b[31mred\x1b[0m " + "x" * 1_000_000
    body = ('{"detail": "' + detail.replace("\x1b", "\\u001b") + '"}').encode()
    with canned_server(Canned(404, body)) as server:
        result = run_cli(
            "status", "1", env={**cli_env, "GRADEDESCENT_URL": server.url, "GRADEDESCENT_TOKEN": "t"}
        )

    assert result.returncode == 2
    assert "\x1b" not in result.stderr
    assert "\ufffd[31mred" in result.stderr
    assert len(result.stderr) < 1000


def test_not_json_is_not_resent(cli_env: dict[str, str], tmp_path: Path):
    solution = write_solution(tmp_path, SOLUTION)
    with canned_server(Canned(200, b"<html>a web page</html>")) as server:
        environ = {**cli_env, "GRADEDESCENT_URL": server.url, "GRADEDESCENT_TOKEN": "t"}
        result = run_cli("submit", "lab1", solution, env=environ)

    assert result.returncode == 3
    assert "the reply is not JSON, it starts with '<html>a web page</html>'" in result.stderr
    assert server.requests == ["POST /api/labs/lab1/submissions"]


def test_redirect_elsewhere_suggests_nothing(cli_env: dict[str, str]):
    sign_in = Canned(302, headers={"Location": "https://sso.example.edu/login?next=/api/me"})
    with canned_server(sign_in) as server:
        result = run_cli("login", server.url, env=cli_env, stdin="the-token\n")

    assert result.returncode == 2
    assert "which is not a gradedescent address: check the server URL" in result.stderr
    assert "try https://sso" not in result.stderr


def test_done_without_verdict_is_server_error(cli_env: dict[str, str]):
    with canned_server(Canned(200, b'{"status": "done", "id": 1}')) as server:
        result = run_cli(
            "status", "1", env={**cli_env, "GRADEDESCENT_URL": server.url, "GRADEDESCENT_TOKEN": "t"}
        )

    assert result.returncode == 3


def test_login_ta_check_failing_saves(cli_env: dict[str, str]):
    # /api/me returns 403 (not a student's token), then the TA route fails: the server is at fault, not the token.
    routes = {
        "/api/me": Canned(403, b'{"detail": "this route is for students"}'),
        "/api/ta/students": Canned(500, b'{"detail": "database is down"}'),
    }
    with canned_server(Canned(404), routes) as server:
        result = run_cli("login", server.url, env=cli_env, stdin="the-token\n")

    assert result.returncode == 0, result.stderr
    assert "could not be reached or failed: 500: database is down" in result.stderr
    assert (Path(cli_env["HOME"]) / ".config" / "gradedescent" / "config.toml").exists()


def test_oversized_reply_is_invalid(monkeypatch: pytest.MonkeyPatch):
    # Not the network's fault, so the CLI must not send the request again.
    monkeypatch.setattr(api, "MAX_BODY_BYTES", 1000)
    with canned_server(Canned(200, b'{"padding": "' + b"x" * 5000 + b'"}')) as server:
        with Api(server.url, "token") as client, pytest.raises(InvalidResponse) as caught:
            client.submission(1)

    assert "the reply is larger than 0 MiB" in caught.value.message
    assert not is_server_failure(caught.value)


def test_relative_redirect_suggests_url(cli_env: dict[str, str]):
    with canned_server(Canned(308, headers={"Location": "/gradedescent/api/me"})) as server:
        result = run_cli("login", server.url, env=cli_env, stdin="the-token\n")

    assert result.returncode == 2
    assert f"try {server.url}/gradedescent as the server URL" in result.stderr


def test_malformed_result_is_server_error(cli_env: dict[str, str]):
    body = b'{"id": 1, "status": "done", "verdict": "accepted", "score": {"final_point": [0.0]}}'
    with canned_server(Canned(200, body)) as server:
        result = run_cli(
            "status", "1", env={**cli_env, "GRADEDESCENT_URL": server.url, "GRADEDESCENT_TOKEN": "t"}
        )

    assert result.returncode == 3
    assert "not gradedescent JSON (KeyError: " in result.stderr
    assert "Traceback" not in result.stderr


def test_control_characters_in_status_replaced(cli_env: dict[str, str]):
    with canned_server(Canned(200, b'{"id": 1, "status": "\\u001b[2Jwiped"}')) as server:
        result = run_cli(
            "status", "1", env={**cli_env, "GRADEDESCENT_URL": server.url, "GRADEDESCENT_TOKEN": "t"}
        )

    assert result.returncode == 4
    assert "\x1b" not in result.stdout + result.stderr
    assert "\ufffd[2Jwiped" in result.stderr


def test_login_rate_limited_saves(cli_env: dict[str, str]):
    with canned_server(Canned(429, b'{"detail": "too many requests, try again in 60 s"}')) as server:
        result = run_cli("login", server.url, env=cli_env, stdin="the-token\n")

    assert result.returncode == 0, result.stderr
    assert "could not be reached or failed: too many requests, try again in 60 s" in result.stderr
