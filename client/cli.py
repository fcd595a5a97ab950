"""The ``gradedescent`` command: argument parsing and one function per subcommand.

Results go to stdout; progress, warnings and errors go to stderr. Each
command returns an ``ExitCode``; ``README.md`` documents the table.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import sys
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from client import messages
from client.api import Api, ConnectFailure, RequestRejected, ServerUnavailable, invalid_response
from client.config import config_path, load_config, validate_token, validate_url, write_config
from client.errors import CliError, ExitCode
from client.files import decode_solution, read_solution
from client.render import format_leaderboard, format_result, status_name
from client.waiting import StatusLine, call_with_retries, is_server_failure, wait_for_result
from grader.verdicts import Verdict

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT_SECONDS = 600.0
"""How long submit waits for a result: a run takes seconds, so this leaves room for a long queue."""

Command = Callable[[argparse.Namespace, Mapping[str, str]], ExitCode]


def verdict_exit_code(verdict: str | None) -> ExitCode:
    """Map a verdict to the exit code: only ``accepted`` succeeds, and ``internal_error`` is the server's.

    A finished submission without a verdict is the server's fault too.
    """
    if verdict == Verdict.ACCEPTED:
        return ExitCode.OK
    if verdict is None or verdict == Verdict.INTERNAL_ERROR:
        return ExitCode.SERVER
    return ExitCode.SUBMISSION_FAILED


def submit(args: argparse.Namespace, environ: Mapping[str, str]) -> ExitCode:
    path = Path(args.file)
    code = read_solution(path)  # The server applies its own size and encoding checks.
    config = load_config(environ)
    url, token = config.require_url(), config.require_token()

    key = str(uuid.uuid4())
    with Api(url, token) as api:
        created = call_with_retries(
            lambda: api.submit(args.lab, path.name, code, key),
            f"submitting {path} to {args.lab}",
            _may_resend,
        )
        submission_id = _submission_id(created, url)
        logger.info("submission %d created for lab %s", submission_id, args.lab)
        print(messages.SUBMITTED.format(path=path, lab=args.lab, id=submission_id), flush=True)
        if args.no_wait:
            return ExitCode.OK
        body = _wait(api, submission_id, args.timeout)

    sys.stdout.write(_rendered(format_result, body, url))
    return verdict_exit_code(body.get("verdict"))


def status(args: argparse.Namespace, environ: Mapping[str, str]) -> ExitCode:
    config = load_config(environ)
    url = config.require_url()
    with Api(url, config.require_token()) as api:
        body = _wait(api, args.id, args.timeout) if args.wait else api.submission(args.id)

    sys.stdout.write(_rendered(format_result, body, url))
    state = str(body.get("status"))
    if state != "done":
        print(
            messages.NOT_DONE.format(id=args.id, status=status_name(state)),
            file=sys.stderr,
        )
        return ExitCode.PENDING
    return verdict_exit_code(body.get("verdict"))


def leaderboard(args: argparse.Namespace, environ: Mapping[str, str]) -> ExitCode:
    config = load_config(environ)
    # The public board needs no token; a configured one lets a TA see the private board before the deadline.
    url = config.require_url()
    with Api(url, config.token) as api:
        board = api.leaderboard(args.lab, "private" if args.private else "public")
    sys.stdout.write(_rendered(format_leaderboard, board, url))
    return ExitCode.OK


def try_locally(args: argparse.Namespace, environ: Mapping[str, str]) -> ExitCode:
    # Imported here so the other commands start without loading the grader and NumPy.
    from client.local import find_lab, run_locally, sandbox_mode
    from grader.sandbox import SandboxMode

    lab = find_lab(args.lab)
    path = Path(args.file)
    code = decode_solution(path, read_solution(path))
    mode = sandbox_mode(environ)
    if mode is SandboxMode.NONE:
        print(messages.SANDBOX_NONE_WARNING, file=sys.stderr)
    print(
        messages.LOCAL_RUNNING.format(path=path, lab=lab.lab_id, mode=mode.value), file=sys.stderr, flush=True
    )

    body = run_locally(code, lab, mode)
    sys.stdout.write(format_result(body))
    return verdict_exit_code(body.get("verdict"))


def login(args: argparse.Namespace, environ: Mapping[str, str]) -> ExitCode:
    url = validate_url(args.url, "the command line")
    # The token is read from a prompt or stdin, never from argv, so it stays out of shell history and ps.
    if sys.stdin.isatty():
        token = getpass.getpass(messages.TOKEN_PROMPT)
    else:
        token = sys.stdin.readline()
    if not token.strip():
        raise CliError(messages.EMPTY_TOKEN, ExitCode.USAGE)
    token = validate_token(token, "the input")
    checked, warning = _check_token(url, token)

    path = config_path(environ)
    write_config(path, url, token)
    print(messages.CONFIG_SAVED.format(path=path))
    if checked:
        print(checked)
    if warning:
        print(warning, file=sys.stderr)
    return ExitCode.OK


def _check_token(url: str, token: str) -> tuple[str, str]:
    """Ask the server whose ``token`` it is; return the confirmation to print, or a warning that it could not.

    Raises ``CliError`` when the server rejects the token or does not reply
    as gradedescent does, so that the token is not saved. A server that
    cannot be reached, fails or is busy (429) earns only the warning, so
    that a student can log in before the server is up.
    """
    try:
        with Api(url, token) as api:
            try:
                student_id = api.profile().get("student_id")
            except RequestRejected as rejected:
                if rejected.status_code == 403 and _is_ta_token(api):
                    return messages.LOGIN_CHECKED_TA.format(url=url), ""
                raise
            if not isinstance(student_id, str) or not student_id:
                raise api.invalid_response("no student_id in the reply to GET /api/me")
    except ServerUnavailable as unavailable:
        return "", messages.LOGIN_UNCHECKED.format(url=url, reason=unavailable.reason)
    except RequestRejected as rejected:
        if rejected.status_code == 429:
            return "", messages.LOGIN_UNCHECKED.format(
                url=url, reason=rejected.detail
            )  # Busy, not a verdict on the token.
        if rejected.status_code == 401:
            raise CliError(
                messages.LOGIN_REJECTED.format(url=url, detail=rejected.detail), ExitCode.USAGE
            ) from None
        raise CliError(messages.LOGIN_FAILED.format(error=rejected.message), ExitCode.USAGE) from None
    except CliError as error:
        raise CliError(messages.LOGIN_FAILED.format(error=error.message), error.exit_code) from None
    return messages.LOGIN_CHECKED.format(url=url, student_id=student_id), ""


def _is_ta_token(api: Api) -> bool:
    """Return whether the TA routes accept the token, which /api/me rejects with 403 as not a student's.

    Raises ``ServerUnavailable`` when the server fails, so that the token is saved with a warning.
    """
    try:
        api.roster_page()
    except RequestRejected:
        return False
    return True


def _rendered(render: Callable[[dict[str, Any]], str], body: dict[str, Any], url: str) -> str:
    """Render a server's reply, or raise the server's error when a field is missing or of the wrong type."""
    try:
        return render(body)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        logger.debug("rendering the reply failed", exc_info=True)
        raise invalid_response(url, f"{type(error).__name__}: {error}") from None


def _may_resend(error: CliError) -> bool:
    """Resend a submission after a server failure, but not when no connection could be made at all.

    A refused connection usually means a wrong URL or a stopped server, which
    waiting does not fix, so the student hears about it at once.
    """
    return is_server_failure(error) and not isinstance(error, ConnectFailure)


def _wait(api: Api, submission_id: int, timeout: float) -> dict[str, Any]:
    status_line = StatusLine(sys.stderr, interactive=sys.stderr.isatty())
    try:
        return wait_for_result(api, submission_id, status_line, timeout)
    except KeyboardInterrupt:
        raise CliError(messages.INTERRUPTED.format(id=submission_id), ExitCode.INTERRUPTED) from None


def _submission_id(created: dict[str, Any], url: str) -> int:
    submission_id = created.get("id")
    if not isinstance(submission_id, int):
        raise invalid_response(url, f"no submission id in {sorted(created)!r}")
    return submission_id


def _submission_number(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(messages.INVALID_ID.format(value=text))
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:  # Also rejects NaN.
        raise argparse.ArgumentTypeError(messages.INVALID_SECONDS.format(value=text))
    return value


def _add_timeout(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--timeout",
        type=_seconds,
        default=DEFAULT_TIMEOUT_SECONDS,
        metavar="SECONDS",
        help=messages.HELP_TIMEOUT,
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gradedescent", description=messages.DESCRIPTION, epilog=messages.EPILOG
    )
    parser.add_argument("-v", "--verbose", action="store_true", help=messages.HELP_VERBOSE)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    command = commands.add_parser("submit", help=messages.HELP_SUBMIT, description=messages.HELP_SUBMIT)
    command.add_argument("lab", metavar="LAB", help=messages.HELP_LAB)
    command.add_argument("file", metavar="FILE", help=messages.HELP_FILE)
    command.add_argument("--no-wait", action="store_true", help=messages.HELP_NO_WAIT)
    _add_timeout(command)
    command.set_defaults(handler=submit)

    command = commands.add_parser("status", help=messages.HELP_STATUS, description=messages.HELP_STATUS)
    command.add_argument("id", metavar="ID", type=_submission_number, help=messages.HELP_ID)
    command.add_argument("--wait", action="store_true", help=messages.HELP_WAIT)
    _add_timeout(command)
    command.set_defaults(handler=status)

    command = commands.add_parser(
        "leaderboard", help=messages.HELP_LEADERBOARD, description=messages.HELP_LEADERBOARD
    )
    command.add_argument("lab", metavar="LAB", help=messages.HELP_LAB)
    command.add_argument("--private", action="store_true", help=messages.HELP_PRIVATE)
    command.set_defaults(handler=leaderboard)

    command = commands.add_parser("try", help=messages.HELP_TRY, description=messages.HELP_TRY)
    command.add_argument("lab", metavar="LAB", help=messages.HELP_LAB)
    command.add_argument("file", metavar="FILE", help=messages.HELP_FILE)
    command.set_defaults(handler=try_locally)

    command = commands.add_parser("login", help=messages.HELP_LOGIN, description=messages.HELP_LOGIN)
    command.add_argument("url", metavar="URL", help=messages.HELP_URL)
    command.set_defaults(handler=login)
    return parser


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Run one command and return its exit code; argparse exits with 2 itself on bad arguments."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    handler: Command = args.handler
    try:
        return int(handler(args, os.environ if environ is None else environ))
    except CliError as error:
        print(messages.ERROR.format(message=error.message), file=sys.stderr)
        return int(error.exit_code)
    except KeyboardInterrupt:
        print(messages.INTERRUPTED_LOCAL, file=sys.stderr)
        return int(ExitCode.INTERRUPTED)
