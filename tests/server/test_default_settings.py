"""The service on its embedded defaults, as `make run` starts it: data in ./var, a generated TA token."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import free_port, wait_for_result

LAB1 = """
def solution(func, start_point):
    x = start_point
    for _ in range(50):
        x = x - 2000.0 * 0.0002 * x
    return x
"""


def test_defaults_grade_a_submission(tmp_path: Path):
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("GRADEDESCENT_")}
    env.update({"HOST": "127.0.0.1", "PORT": str(port), "GRADEDESCENT_WORKERS": "1"})
    with open(tmp_path / "server.log", "wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "server"], cwd=tmp_path, env=env, stdout=log, stderr=log
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "var" / "ta_token").exists() or not _healthy(url):
            assert server.poll() is None, (tmp_path / "server.log").read_text()
            assert time.monotonic() < deadline, "the server did not start within 60 s"
            time.sleep(0.1)
        ta_token = (tmp_path / "var" / "ta_token").read_text().strip()
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {ta_token}"}) as ta:
            student = ta.post("/api/ta/students", json={"student_id": "s1", "name": "Kim", "section": "A"})
            token = student.json()["token"]
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
            submitted = client.post("/api/labs/lab1/submissions", json={"code": LAB1})
            result = wait_for_result(client, submitted.json()["url"])
    finally:
        server.terminate()
        server.wait(60)

    assert (tmp_path / "var" / "gradedescent.db").exists()
    assert result["verdict"] == "accepted", result
    assert ta_token in (tmp_path / "server.log").read_text()


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False
