"""``gradedescent try``: local grading through the real sandbox, run as a subprocess."""

from __future__ import annotations

from pathlib import Path

import pytest

from client.errors import CliError, ExitCode
from client.files import MAX_CODE_BYTES, decode_solution
from client.local import run_locally, sandbox_mode
from reference.labs import get_lab
from server.routes.submissions import MAX_CODE_BYTES as SERVER_MAX_CODE_BYTES
from tests.client.conftest import (
    LAB1_DESCENT,
    LAB3_DESCENT,
    LAB3_NESTEROV,
    RUNTIME_ERROR,
    SYNTAX_ERROR,
    run_cli,
    write_solution,
)
from tests.conftest import SANDBOX_MODE


def test_try_lab1_accepted(tmp_path: Path, cli_env: dict[str, str]):
    solution = write_solution(tmp_path, LAB1_DESCENT)

    result = run_cli("try", "lab1", solution, env=cli_env)

    assert result.returncode == 0, result.stderr
    assert "  verdict  accepted" in result.stdout
    assert "(converged)" in result.stdout
    assert "reached global minimum      yes" in result.stdout
    assert "Hidden cases" not in result.stdout
    assert f"({SANDBOX_MODE.value} sandbox)" in result.stderr


def test_try_lab3_nesterov(tmp_path: Path, cli_env: dict[str, str]):
    solution = write_solution(tmp_path, LAB3_NESTEROV)

    result = run_cli("try", "lab3", solution, env=cli_env)

    assert result.returncode == 0, result.stderr
    assert "final point                 (0, 0.1219616405)" in result.stdout
    assert "evaluations                 500" in result.stdout
    assert "(converged)" in result.stdout


def test_try_lab3_critical_point(tmp_path: Path, cli_env: dict[str, str]):
    solution = write_solution(tmp_path, LAB3_DESCENT)

    result = run_cli("try", "lab3", solution, env=cli_env)

    # Accepted: the run returned a valid point, however poor its score.
    assert result.returncode == 0, result.stderr
    assert "(stopped at a critical point)" in result.stdout
    assert "critical point              local minimum at (0, 3), f = 0" in result.stdout
    assert "evaluations to gap < 1e-06  never" in result.stdout
    assert "  descent finished" in result.stdout


@pytest.mark.parametrize(
    ("code", "verdict"),
    [(RUNTIME_ERROR, "runtime_error"), (SYNTAX_ERROR, "syntax_error"), ("x = 1\n", "missing_solution")],
)
def test_try_failing_verdict(tmp_path: Path, cli_env: dict[str, str], code: str, verdict: str):
    solution = write_solution(tmp_path, code)

    result = run_cli("try", "lab3", solution, env=cli_env)

    assert result.returncode == 1, result.stderr
    assert f"  verdict  {verdict}\n" in result.stdout
    assert "Public case" not in result.stdout


def test_try_detail_shows_traceback(tmp_path: Path, cli_env: dict[str, str]):
    solution = write_solution(tmp_path, RUNTIME_ERROR)

    result = run_cli("try", "lab1", solution, env=cli_env)

    assert result.returncode == 1
    assert "RuntimeError: no idea where the minimum is" in result.stdout


def test_try_unknown_lab(tmp_path: Path, cli_env: dict[str, str]):
    solution = write_solution(tmp_path, LAB1_DESCENT)

    result = run_cli("try", "lab9", solution, env=cli_env)

    assert result.returncode == 2
    assert "unknown lab 'lab9': expected one of lab1, lab2, lab3" in result.stderr
    assert result.stdout == ""


def test_try_missing_file(tmp_path: Path, cli_env: dict[str, str]):
    missing = tmp_path / "nowhere.py"

    result = run_cli("try", "lab1", missing, env=cli_env)

    assert result.returncode == 2
    assert f"solution file not found: {str(missing)!r}" in result.stderr


def test_try_without_bwrap(tmp_path: Path, cli_env: dict[str, str]):
    solution = write_solution(tmp_path, LAB1_DESCENT)
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    # The script's shebang names the venv's interpreter, so an empty PATH hides only the sandbox tools.
    env = {**cli_env, "PATH": str(empty_bin), "GRADEDESCENT_SANDBOX": "bwrap"}

    result = run_cli("try", "lab1", solution, env=env)

    assert result.returncode == 2
    assert "apt-get install bubblewrap" in result.stderr
    assert "GRADEDESCENT_SANDBOX=none" in result.stderr


def test_try_invalid_sandbox(tmp_path: Path, cli_env: dict[str, str]):
    solution = write_solution(tmp_path, LAB1_DESCENT)

    result = run_cli("try", "lab1", solution, env={**cli_env, "GRADEDESCENT_SANDBOX": "docker"})

    assert result.returncode == 2
    assert "invalid GRADEDESCENT_SANDBOX 'docker'" in result.stderr


def test_sandbox_mode_default_bwrap():
    if SANDBOX_MODE.value != "bwrap":
        pytest.skip("GRADEDESCENT_TEST_SANDBOX chose another sandbox")
    assert sandbox_mode({}).value == "bwrap"


def test_upload_limit_matches_server():
    assert MAX_CODE_BYTES == SERVER_MAX_CODE_BYTES


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"#" * (MAX_CODE_BYTES + 1), "over the 64 KiB limit"),
        (b"def solution(f, p):\n    return p  # \xff\n", "not valid UTF-8 (byte 0xff at offset 36)"),
        (b"  \n\t\n", "is empty"),
    ],
)
def test_decode_solution_rejects(raw: bytes, expected: str):
    with pytest.raises(CliError) as caught:
        decode_solution(Path("solution.py"), raw)

    assert expected in caught.value.message
    assert caught.value.exit_code is ExitCode.USAGE


def test_decode_solution_largest_allowed():
    raw = b"#" * (MAX_CODE_BYTES - 1) + b"\n"

    assert len(decode_solution(Path("solution.py"), raw)) == MAX_CODE_BYTES


def test_try_oversized_file_exit_code(tmp_path: Path, cli_env: dict[str, str]):
    solution = tmp_path / "big.py"
    solution.write_bytes(b"#" * (MAX_CODE_BYTES + 1))

    result = run_cli("try", "lab1", solution, env=cli_env)

    assert result.returncode == 2
    assert "over the 64 KiB limit" in result.stderr


def test_run_locally_lab1():
    body = run_locally(LAB1_DESCENT, get_lab("lab1"), SANDBOX_MODE)

    assert body["verdict"] == "accepted"
    assert body["score"]["evaluations"] == 200
    # Every evaluation is at x +- 1, where f >= 1e-4, so 1e-6 counts as reached at the end of the run.
    assert body["score"]["evaluations_to_target"] == {"0.1": 11, "0.001": 14, "1e-06": 200}
    assert body["feedback"]["kind"] == "converged"
    assert body["solved_fraction"] == 1.0
