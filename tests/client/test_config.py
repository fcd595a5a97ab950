"""The config file, ``gradedescent login`` and the environment's precedence over the file."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from client.config import Config, config_path, load_config, write_config
from client.errors import CliError, ExitCode
from tests.client.conftest import LAB1_DESCENT, Canned, canned_server, run_cli, unique_id, write_solution
from tests.conftest import TA_TOKEN, LiveServer, add_student, free_port


def write_file(home: Path, text: str) -> Path:
    path = home / ".config" / "gradedescent" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_config_path_home():
    assert config_path({"HOME": "/home/kim"}) == Path("/home/kim/.config/gradedescent/config.toml")


def test_config_path_xdg():
    environ = {"HOME": "/home/kim", "XDG_CONFIG_HOME": "/srv/config"}

    assert config_path(environ) == Path("/srv/config/gradedescent/config.toml")


def test_config_path_relative_xdg_ignored():
    environ = {"HOME": "/home/kim", "XDG_CONFIG_HOME": "config"}

    assert config_path(environ) == Path("/home/kim/.config/gradedescent/config.toml")


def test_load_config_from_file(tmp_path: Path):
    write_file(tmp_path, 'url = "https://grader.example.edu/"\ntoken = "file-token"\n')

    config = load_config({"HOME": str(tmp_path)})

    assert config.url == "https://grader.example.edu"
    assert config.token == "file-token"


def test_load_config_environment_wins(tmp_path: Path):
    write_file(tmp_path, 'url = "https://file.example.edu"\ntoken = "file-token"\n')
    environ = {
        "HOME": str(tmp_path),
        "GRADEDESCENT_URL": "http://127.0.0.1:8000",
        "GRADEDESCENT_TOKEN": "env-token",
    }

    config = load_config(environ)

    assert config.url == "http://127.0.0.1:8000"
    assert config.token == "env-token"


def test_load_config_mixes_sources(tmp_path: Path):
    write_file(tmp_path, 'url = "https://file.example.edu"\ntoken = "file-token"\n')

    config = load_config({"HOME": str(tmp_path), "GRADEDESCENT_TOKEN": "env-token"})

    assert config.url == "https://file.example.edu"
    assert config.token == "env-token"


def test_load_config_without_file(tmp_path: Path):
    config = load_config({"HOME": str(tmp_path)})

    assert config.url is None
    assert config.token is None


def test_config_repr_hides_token():
    config = Config(url="http://127.0.0.1:8000", token="secret-token", path=Path("config.toml"))

    assert "secret-token" not in repr(config)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('url = "https://grader.example.edu\n', "is not valid TOML"),
        ("url = 8000\n", "'url' in "),
        ('token = ["a"]\n', "'token' in "),
        ('url = "grader.example.edu"\n', "invalid server URL 'grader.example.edu'"),
        ('url = "ftp://grader.example.edu"\n', "expected http:// or https://"),
    ],
)
def test_load_config_rejects(tmp_path: Path, text: str, expected: str):
    path = write_file(tmp_path, text)

    with pytest.raises(CliError) as caught:
        load_config({"HOME": str(tmp_path)})

    assert expected in caught.value.message
    assert str(path) in caught.value.message
    assert caught.value.exit_code is ExitCode.USAGE


def test_invalid_url_names_variable(tmp_path: Path):
    with pytest.raises(CliError) as caught:
        load_config({"HOME": str(tmp_path), "GRADEDESCENT_URL": "localhost:8000"})

    assert "from GRADEDESCENT_URL" in caught.value.message


@pytest.mark.parametrize("token", ["naïve-token", "two words", "tab\there"])
def test_invalid_token_rejected(tmp_path: Path, token: str):
    with pytest.raises(CliError) as caught:
        load_config({"HOME": str(tmp_path), "GRADEDESCENT_TOKEN": token})

    assert "invalid token from GRADEDESCENT_TOKEN" in caught.value.message
    assert token not in caught.value.message


def test_token_whitespace_stripped(tmp_path: Path):
    write_file(tmp_path, 'token = "  file-token\\n"\n')

    assert load_config({"HOME": str(tmp_path)}).token == "file-token"


def test_login_non_ascii_token(cli_env: dict[str, str]):
    result = run_cli("login", "http://127.0.0.1:8000", env=cli_env, stdin="토큰\n")

    assert result.returncode == 2
    assert "invalid token from the input" in result.stderr


def test_missing_url_message(tmp_path: Path):
    config = load_config({"HOME": str(tmp_path)})

    with pytest.raises(CliError) as caught:
        config.require_url()

    assert "set GRADEDESCENT_URL, or run 'gradedescent login URL'" in caught.value.message
    assert str(tmp_path / ".config" / "gradedescent" / "config.toml") in caught.value.message


def test_write_config_mode(tmp_path: Path):
    path = tmp_path / "gradedescent" / "config.toml"

    write_config(path, "https://grader.example.edu", 'to"ken\\')

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert load_config({"HOME": "/nonexistent", "XDG_CONFIG_HOME": str(tmp_path)}).token == 'to"ken\\'


def test_write_config_replaces_wide_mode(tmp_path: Path):
    path = tmp_path / "config.toml"
    path.write_text('url = "http://old.example.edu"\n')
    path.chmod(0o644)

    write_config(path, "https://grader.example.edu", "token")

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert list(tmp_path.iterdir()) == [path]


def test_login_writes_config(cli_env: dict[str, str]):
    # No server listens on the port, so the token is saved unchecked.
    home = Path(cli_env["HOME"])
    port = free_port()

    result = run_cli("login", f"http://127.0.0.1:{port}/", env=cli_env, stdin="the-token\n")

    path = home / ".config" / "gradedescent" / "config.toml"
    assert result.returncode == 0, result.stderr
    assert str(path) in result.stdout
    assert "the-token" not in result.stdout
    assert (
        f"warning: the token was saved but not checked, because the server at http://127.0.0.1:{port} "
        "could not be reached or failed: " in result.stderr
    )
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text() == f'url = "http://127.0.0.1:{port}"\ntoken = "the-token"\n'


def test_login_checks_token(cli_env: dict[str, str], live_server: LiveServer):
    student_id = unique_id("cli-login")
    token = add_student(live_server, student_id)

    result = run_cli("login", live_server.url, env=cli_env, stdin=token + "\n")

    assert result.returncode == 0, result.stderr
    assert f"accepted the token for student {student_id}" in result.stdout
    assert result.stderr == ""


def test_login_ta_token(cli_env: dict[str, str], live_server: LiveServer):
    # A TA's token reads the private board from the CLI, so it is saved although /api/me is for students.
    result = run_cli("login", live_server.url, env=cli_env, stdin=TA_TOKEN + "\n")

    assert result.returncode == 0, result.stderr
    assert "accepted the token, which is a TA's and cannot submit" in result.stdout
    assert (Path(cli_env["HOME"]) / ".config" / "gradedescent" / "config.toml").exists()


def test_login_rejected_token(cli_env: dict[str, str], live_server: LiveServer):
    result = run_cli("login", live_server.url, env=cli_env, stdin="not-a-token\n")

    assert result.returncode == 2
    assert (
        f"the token was not saved, because the server at {live_server.url} rejected it: "
        "unknown bearer token: check the token you were given, or ask a TA for a new one\n"
    ) in result.stderr
    assert not (Path(cli_env["HOME"]) / ".config").exists()


def test_login_rejected_korean(cli_env: dict[str, str], live_server: LiveServer):
    korean = {**cli_env, "LANG": "ko_KR.UTF-8"}

    result = run_cli("login", live_server.url, env=korean, stdin="not-a-token\n")

    assert result.returncode == 2
    assert "서버가 토큰을 거부하여 저장하지 않았습니다" in result.stderr


def test_login_empty_token(cli_env: dict[str, str]):
    result = run_cli("login", "http://127.0.0.1:8000", env=cli_env, stdin="\n")

    assert result.returncode == 2
    assert "the token is empty" in result.stderr
    assert not (Path(cli_env["HOME"]) / ".config").exists()


def test_login_invalid_url(cli_env: dict[str, str]):
    result = run_cli("login", "127.0.0.1:8000", env=cli_env, stdin="token\n")

    assert result.returncode == 2
    assert "invalid server URL '127.0.0.1:8000' from the command line" in result.stderr


def test_config_file_end_to_end(tmp_path: Path, cli_env: dict[str, str], live_server: LiveServer):
    token = add_student(live_server, unique_id("cli-config"))
    solution = write_solution(tmp_path, LAB1_DESCENT)

    login = run_cli("login", live_server.url, env=cli_env, stdin=token + "\n")
    submitted = run_cli("submit", "lab1", solution, env=cli_env)

    assert login.returncode == 0, login.stderr
    assert submitted.returncode == 0, submitted.stderr
    assert "  verdict  accepted\n" in submitted.stdout


def test_environment_overrides_file_end_to_end(
    tmp_path: Path, cli_env: dict[str, str], live_server: LiveServer
):
    token = add_student(live_server, unique_id("cli-override"))
    solution = write_solution(tmp_path, LAB1_DESCENT)
    write_file(Path(cli_env["HOME"]), f'url = "{live_server.url}"\ntoken = "stale-token"\n')

    with_file_token = run_cli("submit", "lab1", solution, "--no-wait", env=cli_env)
    with_env_token = run_cli(
        "submit", "lab1", solution, "--no-wait", env={**cli_env, "GRADEDESCENT_TOKEN": token}
    )
    closed_url = f"http://127.0.0.1:{free_port()}"
    with_env_url = run_cli(
        "submit",
        "lab1",
        solution,
        env={**cli_env, "GRADEDESCENT_TOKEN": token, "GRADEDESCENT_URL": closed_url},
    )

    assert with_file_token.returncode == 2
    assert "unknown bearer token" in with_file_token.stderr
    assert with_env_token.returncode == 0, with_env_token.stderr
    assert with_env_url.returncode == 3
    assert closed_url in with_env_url.stderr


def test_xdg_config_home_end_to_end(tmp_path: Path, cli_env: dict[str, str]):
    xdg = tmp_path / "xdg"
    env = {**cli_env, "XDG_CONFIG_HOME": str(xdg)}

    result = run_cli("login", "http://127.0.0.1:8000", env=env, stdin="token\n")

    assert result.returncode == 0, result.stderr
    assert (xdg / "gradedescent" / "config.toml").is_file()


@pytest.mark.parametrize(
    ("canned", "message", "exit_code"),
    [
        (
            Canned(301, headers={"Location": "https://grader.example.edu/api/me"}),
            "redirects /api/me to https://grader.example.edu/api/me: try https://grader.example.edu as the server URL",
            2,
        ),
        (
            Canned(200, b'{"name": "not gradedescent"}', {"Content-Type": "application/json"}),
            "no student_id in the reply to GET /api/me",
            3,
        ),
        (Canned(200, b"<html>a web page</html>"), "not gradedescent JSON", 3),
        (Canned(404, b'{"detail": "Not Found"}'), "the server rejected the request (404): Not Found", 2),
        (Canned(403, b"<html>Forbidden by a proxy</html>"), "(403): <html>Forbidden by a proxy</html>", 2),
    ],
    ids=["redirect", "json_without_student", "html", "not_found", "proxy_forbidden"],
)
def test_login_unusable_server(cli_env: dict[str, str], canned: Canned, message: str, exit_code: int):
    with canned_server(canned) as server:
        result = run_cli("login", server.url, env=cli_env, stdin="the-token\n")

    assert result.returncode == exit_code, result.stderr
    assert result.stderr.startswith("gradedescent: error: the token was not saved: ")
    assert message in result.stderr
    assert not (Path(cli_env["HOME"]) / ".config").exists()


def test_login_failing_server_saves(cli_env: dict[str, str]):
    with canned_server(Canned(503, b'{"detail": "database is down"}')) as server:
        result = run_cli("login", server.url, env=cli_env, stdin="the-token\n")

    assert result.returncode == 0, result.stderr
    assert "could not be reached or failed: 503: database is down" in result.stderr
    assert (Path(cli_env["HOME"]) / ".config" / "gradedescent" / "config.toml").exists()


def test_login_unwritable_config_warns_nothing(cli_env: dict[str, str], tmp_path: Path):
    # The warning states that the token was saved, so it must not appear when the save fails.
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    environ = {**cli_env, "XDG_CONFIG_HOME": str(blocker)}

    result = run_cli("login", f"http://127.0.0.1:{free_port()}", env=environ, stdin="the-token\n")

    assert result.returncode == 2
    assert "cannot write the config file" in result.stderr
    assert "saved" not in result.stderr
