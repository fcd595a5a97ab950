"""The message catalogues: complete, in step with the code, compiled, and picked up by the CLI."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import REPOSITORY

KOREAN = {**os.environ, "LANG": "ko_KR.UTF-8", "LANGUAGE": "", "LC_ALL": "", "LC_MESSAGES": ""}


def test_catalogues_complete():
    checked = subprocess.run(
        [sys.executable, "scripts/messages.py", "check"],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert checked.returncode == 0, checked.stderr


def test_cli_help_in_korean():
    completed = subprocess.run(
        [sys.executable, "-m", "client", "--help"], cwd=REPOSITORY, env=KOREAN, capture_output=True, text=True
    )

    assert completed.returncode == 0, completed.stderr
    assert "풀이 파일을 제출하고 결과를 기다립니다" in completed.stdout


def test_cli_asks_server_for_korean():
    completed = subprocess.run(
        [
            sys.executable,
            "-c",
            "from client.api import Api; print(Api('http://127.0.0.1:9')._client.headers['Accept-Language'])",
        ],
        cwd=REPOSITORY,
        env=KOREAN,
        capture_output=True,
        text=True,
    )

    assert completed.stdout.strip() == "ko", completed.stderr


def test_cli_asks_server_for_english():
    english = {**KOREAN, "LANG": "C.UTF-8"}
    completed = subprocess.run(
        [
            sys.executable,
            "-c",
            "from client.api import Api; print(Api('http://127.0.0.1:9')._client.headers['Accept-Language'])",
        ],
        cwd=REPOSITORY,
        env=english,
        capture_output=True,
        text=True,
    )

    assert completed.stdout.strip() == "en", completed.stderr


def test_cli_names_kinds_in_korean():
    # The server sends kinds, rules and critical points as identifiers; the CLI names them.
    script = """
from client.render import format_leaderboard, format_result
print(format_leaderboard({"lab_id": "lab3", "board": "public", "rule": "best", "rows": []}))
print(format_result({
    "id": 1, "status": "done", "verdict": "accepted", "detail": "", "stdout": "", "stderr": "",
    "score": {"final_point": [0.0, 3.0], "final_f": 0.45, "gap": 2.3, "evaluations": 500},
    "feedback": {"kind": "stopped_at_critical_point", "message": "...",
                 "critical_point": {"kind": "local minimum", "point": [0.0, 3.0], "value": 0.45}},
    "hidden": {"cases": 8, "solved_fraction": 0.5, "mean_gap": 1.0, "feedback": {"stalled": 8}},
}))
"""
    completed = subprocess.run(
        [sys.executable, "-c", script], cwd=REPOSITORY, env=KOREAN, capture_output=True, text=True
    )

    assert completed.returncode == 0, completed.stderr
    assert "학생마다 통과한 제출 중 가장 좋은 제출" in completed.stdout
    assert "국소 최솟값" in completed.stdout
    assert "(임계점에서 멈춤)" in completed.stdout
    assert "정체 8" in completed.stdout
    assert "stalled" not in completed.stdout
