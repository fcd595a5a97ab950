"""``submit``, ``status`` and ``leaderboard`` as subprocesses against real servers on loopback ports.

Most tests use the session's live server with students of their own. An idle
server of this module's own, with no workers, keeps submissions queued and
its lab settings untouched by other tests.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from client.cli import verdict_exit_code
from client.errors import ExitCode
from client.local import run_locally
from grader.verdicts import Verdict
from reference.labs import get_lab
from tests.client.conftest import (
    LAB1_DESCENT,
    LAB3_DESCENT,
    LAB3_NESTEROV,
    RUNTIME_ERROR,
    clean_env,
    run_cli,
    unique_id,
    write_solution,
)
from tests.conftest import (
    SANDBOX_MODE,
    TA_TOKEN,
    LiveServer,
    add_student,
    free_port,
    start_server,
    stop_server,
    wait_for_result,
)

SUBMITTED = re.compile(r"Submitted \S+ to (\w+) as submission (\d+)\.")


@dataclass
class Student:
    student_id: str
    name: str
    token: str
    env: dict[str, str]


def new_student(server: LiveServer, base_env: dict[str, str], prefix: str = "cli") -> Student:
    student_id = unique_id(prefix)
    name = f"Kim {student_id}"
    token = add_student(server, student_id, name=name)
    env = {**base_env, "GRADEDESCENT_URL": server.url, "GRADEDESCENT_TOKEN": token}
    return Student(student_id, name, token, env)


def submission_id(stdout: str) -> int:
    match = SUBMITTED.search(stdout)
    assert match is not None, stdout
    return int(match.group(2))


@pytest.fixture
def student(live_server: LiveServer, cli_env: dict[str, str]) -> Student:
    return new_student(live_server, cli_env)


@pytest.fixture(scope="module")
def idle_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server that grades nothing, so every submission stays queued."""
    server = start_server(tmp_path_factory.mktemp("idle"), {"GRADEDESCENT_WORKERS": "0"})
    yield server
    stop_server(server)


@dataclass
class Accepted:
    student: Student
    stdout: str
    stderr: str
    returncode: int


@pytest.fixture(scope="module")
def accepted(live_server: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> Accepted:
    """One Lab 3 submission graded accepted through ``gradedescent submit``, shared by several tests."""
    directory = tmp_path_factory.mktemp("accepted")
    student = new_student(live_server, clean_env(directory / "home"), "cli-nesterov")
    solution = write_solution(directory, LAB3_NESTEROV)

    result = run_cli("submit", "lab3", solution, env=student.env)
    return Accepted(student, result.stdout, result.stderr, result.returncode)


def test_submit_accepted_exit_code(accepted: Accepted):
    assert accepted.returncode == 0, accepted.stderr


def test_submit_accepted_table(accepted: Accepted):
    assert SUBMITTED.search(accepted.stdout) is not None
    assert "  verdict  accepted\n" in accepted.stdout
    assert f"  student  {accepted.student.student_id}\n" in accepted.stdout
    assert "final point                 (0, 0.1219616405)" in accepted.stdout
    assert "(converged)" in accepted.stdout
    assert "\nHidden cases\n" in accepted.stdout
    assert re.search(r"expected running time to gap < 1e-06 +\d+\.\d", accepted.stdout)


def test_submit_progress_lines(accepted: Accepted):
    # stderr is a pipe, so progress comes as plain lines without carriage returns.
    assert re.search(r"submission \d+: (queued|running) \(\d+ s\)\n", accepted.stderr)
    assert "\r" not in accepted.stderr


def test_status_done(accepted: Accepted):
    number = submission_id(accepted.stdout)

    result = run_cli("status", number, env=accepted.student.env)

    assert result.returncode == 0, result.stderr
    assert f"Submission {number}\n" in result.stdout
    assert "  verdict  accepted\n" in result.stdout


def test_leaderboard_lists_student(accepted: Accepted):
    number = submission_id(accepted.stdout)

    result = run_cli("leaderboard", "lab3", env=accepted.student.env)

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("lab3: public board, ")
    # Boards show display names, not real names, so the row is found by its submission id.
    assert re.search(rf"^ *\d+  .*  {number}  ", result.stdout, re.MULTILINE)


def test_leaderboard_without_token(accepted: Accepted):
    env = {key: value for key, value in accepted.student.env.items() if key != "GRADEDESCENT_TOKEN"}

    result = run_cli("leaderboard", "lab3", env=env)

    assert result.returncode == 0, result.stderr
    assert re.search(rf"  {submission_id(accepted.stdout)}  ", result.stdout)


def test_submit_failing_verdict(tmp_path: Path, student: Student):
    solution = write_solution(tmp_path, RUNTIME_ERROR)

    result = run_cli("submit", "lab1", solution, env=student.env)

    assert result.returncode == 1, result.stderr
    assert "  verdict  runtime_error\n" in result.stdout
    assert "RuntimeError: no idea where the minimum is" in result.stdout


def test_submit_no_wait_then_status_wait(tmp_path: Path, student: Student):
    solution = write_solution(tmp_path, LAB1_DESCENT)

    submitted = run_cli("submit", "lab1", solution, "--no-wait", env=student.env)
    number = submission_id(submitted.stdout)
    waited = run_cli("status", number, "--wait", env=student.env)

    assert submitted.returncode == 0, submitted.stderr
    assert "Public case" not in submitted.stdout
    assert waited.returncode == 0, waited.stderr
    assert "(converged)" in waited.stdout


def test_try_matches_server(tmp_path: Path, student: Student, live_server: LiveServer):
    """The local run scores the public case exactly as the server does."""
    local = run_locally(LAB3_DESCENT, get_lab("lab3"), SANDBOX_MODE)
    solution = write_solution(tmp_path, LAB3_DESCENT)
    submitted = run_cli("submit", "lab3", solution, "--no-wait", env=student.env)
    with live_server.client(student.token) as client:
        remote = wait_for_result(client, f"/api/submissions/{submission_id(submitted.stdout)}")

    assert remote["verdict"] == local["verdict"]
    assert remote["score"] == local["score"]
    assert remote["feedback"] == local["feedback"]
    assert remote["stdout"] == local["stdout"]


def test_status_other_student(accepted: Accepted, student: Student):
    number = submission_id(accepted.stdout)

    result = run_cli("status", number, env=student.env)

    assert result.returncode == 2
    assert f"(404): submission {number} not found" in result.stderr


def test_submit_unknown_lab(tmp_path: Path, student: Student):
    solution = write_solution(tmp_path, LAB1_DESCENT)

    result = run_cli("submit", "lab9", solution, env=student.env)

    assert result.returncode == 2
    assert "(404): unknown lab 'lab9': expected one of lab1, lab2, lab3" in result.stderr


def test_submit_unknown_token(tmp_path: Path, student: Student):
    solution = write_solution(tmp_path, LAB1_DESCENT)
    env = {**student.env, "GRADEDESCENT_TOKEN": "not-a-real-token"}

    result = run_cli("submit", "lab1", solution, env=env)

    assert result.returncode == 2
    assert "(401): unknown bearer token" in result.stderr
    assert "not-a-real-token" not in result.stderr


def test_submit_oversized_file(tmp_path: Path, student: Student):
    solution = tmp_path / "big.py"
    solution.write_bytes(b"#" * (64 * 1024 + 1))

    result = run_cli("submit", "lab1", solution, env=student.env)

    assert result.returncode == 2
    assert "(413): the code is over 64 KiB" in result.stderr


def test_submit_missing_file(tmp_path: Path, student: Student):
    result = run_cli("submit", "lab1", tmp_path / "nowhere.py", env=student.env)

    assert result.returncode == 2
    assert "solution file not found" in result.stderr


def test_unreachable_server(tmp_path: Path, cli_env: dict[str, str]):
    # free_port binds and closes a loopback port, so nothing listens there.
    url = f"http://127.0.0.1:{free_port()}"
    solution = write_solution(tmp_path, LAB1_DESCENT)
    env = {**cli_env, "GRADEDESCENT_URL": url, "GRADEDESCENT_TOKEN": "any-token"}

    submitted = run_cli("submit", "lab1", solution, env=env)
    board = run_cli("leaderboard", "lab3", env=env)

    assert submitted.returncode == 3
    assert f"cannot reach the server at {url}" in submitted.stderr
    assert "Trying again" not in submitted.stderr
    assert board.returncode == 3


def test_submit_timeout_pending(tmp_path: Path, idle_server: LiveServer, cli_env: dict[str, str]):
    student = new_student(idle_server, cli_env)
    solution = write_solution(tmp_path, LAB1_DESCENT)

    result = run_cli("submit", "lab1", solution, "--timeout", "0", env=student.env)

    assert result.returncode == 4
    number = submission_id(result.stdout)
    assert f"Submission {number} is still queued after 0 s" in result.stderr
    assert f"gradedescent status {number}" in result.stderr


def test_status_queued(tmp_path: Path, idle_server: LiveServer, cli_env: dict[str, str]):
    student = new_student(idle_server, cli_env)
    solution = write_solution(tmp_path, LAB1_DESCENT)
    number = submission_id(run_cli("submit", "lab1", solution, "--no-wait", env=student.env).stdout)

    result = run_cli("status", number, env=student.env)

    assert result.returncode == 4
    assert "  status   queued\n" in result.stdout
    assert "verdict" not in result.stdout
    assert f"Submission {number} is queued" in result.stderr


def test_leaderboard_private_closed(idle_server: LiveServer, cli_env: dict[str, str]):
    student = new_student(idle_server, cli_env)

    result = run_cli("leaderboard", "lab3", "--private", env=student.env)

    assert result.returncode == 2
    assert "(403): the private board opens at the deadline, which is not set yet" in result.stderr


def test_leaderboard_private_ta(idle_server: LiveServer, cli_env: dict[str, str]):
    env = {**cli_env, "GRADEDESCENT_URL": idle_server.url, "GRADEDESCENT_TOKEN": TA_TOKEN}

    result = run_cli("leaderboard", "lab3", "--private", env=env)

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("lab3: private board, best accepted submission of each student\n")
    assert "No ranked submissions yet." in result.stdout


def test_leaderboard_lab_without_board(idle_server: LiveServer, cli_env: dict[str, str]):
    env = {**cli_env, "GRADEDESCENT_URL": idle_server.url}

    result = run_cli("leaderboard", "lab1", env=env)

    assert result.returncode == 2
    assert "(404): 'lab1' has no leaderboard" in result.stderr


@pytest.mark.parametrize(
    ("verdict", "code"),
    [
        (Verdict.ACCEPTED, ExitCode.OK),
        (Verdict.INTERNAL_ERROR, ExitCode.SERVER),
        *[(verdict, ExitCode.SUBMISSION_FAILED) for verdict in Verdict if verdict.is_submission_failure],
    ],
)
def test_verdict_exit_code(verdict: Verdict, code: ExitCode):
    assert verdict_exit_code(verdict.value) is code
