"""Real Redis and PostgreSQL servers on free loopback ports, and Celery worker processes.

``make test`` installs redis-server and PostgreSQL (scripts/install-system-packages
--test). Without them these tests skip on a developer's machine and fail under
CI (``CI`` set), so CI never passes without running them.

PostgreSQL refuses to run as root, so as root the server runs as the
``postgres`` account that the Debian package creates (or ``nobody``) through
``setpriv``, with its data directory in a fresh directory under /tmp.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
import redis

from server.migrate import upgrade
from tests.conftest import REPOSITORY, SANDBOX_MODE, free_port

STARTUP_TIMEOUT = 60.0


def require(path: str | None, binary: str, package: str) -> str:
    """Return ``path``, or skip (fail under CI) when the binary is not installed."""
    if path is not None:
        return path
    message = (
        f"{binary} is not installed: run scripts/install-system-packages --test, "
        f"which installs the Debian package {package}"
    )
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def postgres_bin_dir() -> Path | None:
    """Return the bin directory of the newest PostgreSQL under /usr/lib/postgresql, if any."""
    found = [path.parent for path in Path("/usr/lib/postgresql").glob("*/bin/postgres")]
    versions = [(int(re.sub(r"\D", "", path.parent.name) or 0), path) for path in found]
    return max(versions)[1] if versions else None


def wait_until(check: Callable[[], bool], event: str, timeout: float = STARTUP_TIMEOUT) -> None:
    """Poll ``check`` until it returns True; fail naming ``event`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"{event} did not happen within {timeout:g} s")


def stop_process(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 30) -> None:
    if process.poll() is None:
        process.send_signal(sig)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass
class RedisServer:
    port: int
    process: subprocess.Popen[bytes]

    def url(self, database: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{database}"


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    binary = require(shutil.which("redis-server"), "redis-server", "redis-server")
    directory = tmp_path_factory.mktemp("redis")
    port = free_port()
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    command += ["--dir", str(directory), "--logfile", str(directory / "redis.log")]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    server = RedisServer(port, process)
    client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=1)

    def answers() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"redis-server exited with {process.returncode}")
        try:
            return bool(client.ping())
        except redis.ConnectionError:
            return False

    wait_until(answers, "redis-server answering PING")
    yield server
    client.close()
    stop_process(process)


@pytest.fixture
def broker_url(redis_server: RedisServer) -> str:
    """An empty Redis database for one test, so no task of an earlier test is delivered."""
    url = redis_server.url()
    with redis.Redis.from_url(url) as client:
        client.flushall()
    return url


@dataclass
class PostgresServer:
    port: int
    process: subprocess.Popen[bytes]
    databases: list[str] = field(default_factory=list)

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """Create an empty, migrated database and return its URL."""
        name = f"test_{len(self.databases) + 1}"
        with psycopg.connect(self.url("postgres").replace("+psycopg", ""), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        self.databases.append(name)
        url = self.url(name)
        upgrade(url)
        return url


def _as_database_user() -> tuple[list[str], int, int]:
    """Return the command prefix that drops root, with the uid and gid it switches to."""
    if os.geteuid() != 0:
        return [], os.getuid(), os.getgid()
    try:
        account = pwd.getpwnam("postgres")
    except KeyError:
        account = pwd.getpwnam("nobody")
    prefix = ["setpriv", f"--reuid={account.pw_uid}", f"--regid={account.pw_gid}", "--clear-groups", "--"]
    return prefix, account.pw_uid, account.pw_gid


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    bin_dir = postgres_bin_dir()
    require(str(bin_dir) if bin_dir else None, "PostgreSQL (postgres, initdb)", "postgresql")
    assert bin_dir is not None
    prefix, uid, gid = _as_database_user()
    # Not under pytest's tmp_path: its parents are private to root, and postgres runs as another user.
    base = Path(tempfile.mkdtemp(prefix="gradedescent-pg-"))
    os.chown(base, uid, gid)
    data = base / "data"
    subprocess.run(
        [*prefix, str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust"]
        + ["--no-sync", "-E", "UTF8", "--locale=C"],
        cwd=base,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    port = free_port()
    settings = {
        "listen_addresses": "127.0.0.1",
        "unix_socket_directories": str(base),
        "max_connections": "200",
        # A test server: durability across a crash of the machine is not needed.
        "fsync": "off",
        "synchronous_commit": "off",
        "full_page_writes": "off",
    }
    options = [item for name, value in settings.items() for item in ("-c", f"{name}={value}")]
    with open(base / "postgres.log", "ab") as log:
        process = subprocess.Popen(
            [*prefix, str(bin_dir / "postgres"), "-D", str(data), "-p", str(port), *options],
            cwd=base,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = PostgresServer(port, process)

    def answers() -> bool:
        if process.poll() is not None:
            log_text = (base / "postgres.log").read_text(errors="replace")
            raise RuntimeError(f"postgres exited with {process.returncode}:\n{log_text}")
        try:
            with psycopg.connect(server.url("postgres").replace("+psycopg", ""), connect_timeout=1):
                return True
        except psycopg.OperationalError:
            return False

    wait_until(answers, "PostgreSQL accepting connections")
    yield server
    stop_process(process, signal.SIGINT)  # SIGINT is PostgreSQL's fast shutdown.
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def database_url(postgres_server: PostgresServer) -> str:
    """A fresh, migrated PostgreSQL database for one test."""
    return postgres_server.create_database()


@dataclass
class Worker:
    """A ``python -m grader.celery_worker`` process in a process group of its own."""

    process: subprocess.Popen[bytes]
    log_path: Path
    metrics_url: str

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL the main process and its pool processes at once, as a crash of the machine would."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


def start_worker(
    data_dir: Path, database_url: str, broker_url: str, name: str, extra_env: dict[str, str] | None = None
) -> Worker:
    """Start a Celery worker and wait until its watchdog runs, which Celery starts once the worker is ready."""
    metrics_port = free_port()
    env = {
        **os.environ,
        "GRADEDESCENT_DATA_DIR": str(data_dir),
        "GRADEDESCENT_DATABASE_URL": database_url,
        "GRADEDESCENT_BROKER_URL": broker_url,
        "GRADEDESCENT_SANDBOX": SANDBOX_MODE.value,
        "GRADEDESCENT_WORKERS": "1",
        "GRADEDESCENT_LOG_FORMAT": "json",
        "GRADEDESCENT_METRICS_PORT": str(metrics_port),
        **(extra_env or {}),
    }
    env["PROMETHEUS_MULTIPROC_DIR"] = str(data_dir / f"{name}-metrics")
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / f"{name}.log"
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "grader.celery_worker", f"--hostname={name}@%h"],
            cwd=REPOSITORY,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    worker = Worker(process, log_path, f"http://127.0.0.1:{metrics_port}/metrics")

    def ready() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"the worker exited with {process.returncode}:\n{worker.log()}")
        return "watchdog started" in worker.log()

    try:
        wait_until(ready, f"worker {name} starting")
    except BaseException:
        stop_worker(worker)
        raise
    return worker


def stop_worker(worker: Worker) -> None:
    """Stop a worker as an orchestrator does: SIGTERM (Celery's warm shutdown), then SIGKILL after 60 s."""
    stop_process(worker.process, signal.SIGTERM, timeout=60)
    try:
        os.killpg(worker.process.pid, signal.SIGKILL)  # Pool processes left behind, if any.
    except ProcessLookupError:
        pass
