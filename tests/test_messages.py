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
