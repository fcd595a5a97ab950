"""Helpers for the CLI tests: the installed ``gradedescent`` script, a clean environment and solutions."""

from __future__ import annotations

import contextlib
import http.server
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import SANDBOX_MODE

GRADEDESCENT = Path(sys.executable).with_name("gradedescent")
"""The console script that ``pip install -e .`` put beside the test interpreter."""

# Central differences with h = 1 are exact on a quadratic; the step 4000 shrinks x by 0.8 per step.
LAB1_DESCENT = """\
def solution(func, start_point):
    x = start_point
    for _ in range(100):
        slope = (func(x + 1.0) - func(x - 1.0)) / 2.0
        x -= 4000.0 * slope
    return x
"""

# Step 0.01 slides from (0, 1.948) into the outer local minimum at (0, 3).
LAB3_DESCENT = """\
def solution(func, start_point):
    x, y = start_point
    h = 1e-6
    for _ in range(250):
        gx = (func([x + h, y]) - func([x - h, y])) / (2 * h)
        gy = (func([x, y + h]) - func([x, y - h])) / (2 * h)
        x, y = x - 0.01 * gx, y - 0.01 * gy
    print("descent finished")
    return x, y
"""

LAB3_NESTEROV = """\
import torch

def solution(func, start_point):
    x = torch.tensor(start_point, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.SGD([x], lr=0.1, momentum=0.9, nesterov=True)
    for _ in range(500):
        optimizer.zero_grad()
        func(x).backward()
        optimizer.step()
    return x.detach()
"""

RUNTIME_ERROR = """\
def solution(func, start_point):
    func(start_point)
    raise RuntimeError("no idea where the minimum is")
"""

SYNTAX_ERROR = "def solution(func, start_point)\n    return start_point\n"


@dataclass
class Canned:
    """One response that a stand-in HTTP server sends."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    trickle_seconds: float = 0.0
    """Seconds between the body's bytes; zero sends the body at once."""


@dataclass
class CannedServer:
    """A stand-in for a server that is not gradedescent, or a failing one, on a loopback port."""

    url: str
    requests: list[str]
    """``METHOD path`` of every request received, in order."""


@contextlib.contextmanager
def canned_server(default: Canned, routes: dict[str, Canned] | None = None) -> Iterator[CannedServer]:
    """Serve ``routes[path]`` for a request's path, or ``default``, on a free loopback port."""
    received: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.reply()

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.reply()

        def reply(self) -> None:
            received.append(f"{self.command} {self.path}")
            canned = (routes or {}).get(self.path.split("?")[0], default)
            self.send_response(canned.status)
            for name, value in canned.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(canned.body)))
            self.end_headers()
            if not canned.trickle_seconds:
                self.wfile.write(canned.body)
                return
            for byte in canned.body:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(canned.trickle_seconds)

        def log_message(self, format: str, *args: object) -> None:
            pass  # Keeps the test's output clean.

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield CannedServer(f"http://127.0.0.1:{server.server_address[1]}", received)
    finally:
        server.shutdown()
        server.server_close()


def unique_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def write_solution(directory: Path, code: str, name: str = "solution.py") -> Path:
    path = directory / name
    path.write_text(code, encoding="utf-8")
    return path


def clean_env(home: Path) -> dict[str, str]:
    """Return this process's environment with ``home`` as HOME and none of the CLI's variables set."""
    home.mkdir(exist_ok=True)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("GRADEDESCENT_") and key != "XDG_CONFIG_HOME"
    }
    env["HOME"] = str(home)
    env["GRADEDESCENT_SANDBOX"] = SANDBOX_MODE.value
    return env


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    """An environment with an empty home directory and none of the CLI's variables set."""
    return clean_env(tmp_path / "home")


def run_cli(
    *arguments: str | Path, env: dict[str, str], stdin: str | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run the installed ``gradedescent`` script as students do and capture its output."""
    return subprocess.run(
        [str(GRADEDESCENT), *map(str, arguments)],
        env=env,
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
