"""Every user-facing string of the command line, wrapped for translation with gettext.

Messages are looked up in the ``gradedescent`` gettext domain under
``client/locale``. ``gettext.translation`` picks the language from
``LANGUAGE``, ``LC_ALL``, ``LC_MESSAGES`` and ``LANG``, in that order, so a
Korean catalogue at ``client/locale/ko/LC_MESSAGES/gradedescent.mo`` is used
under ``LANG=ko_KR.UTF-8``; without a catalogue for the language every message
is the English text below. ``scripts/messages.py`` extracts, updates and
compiles the catalogue (``make messages``). Placeholders are ``str.format`` fields, filled in after
translation.

Log records are not translated, because they are for debugging.
"""

from __future__ import annotations

import gettext
from pathlib import Path

LOCALE_DIR = Path(__file__).with_name("locale")
DOMAIN = "gradedescent"

_translation = gettext.translation(DOMAIN, LOCALE_DIR, fallback=True)
_ = _translation.gettext

LANGUAGE = _translation.info().get("language", "en")
"""The language of the messages shown, sent to the server as Accept-Language so its errors and feedback match."""

# Help text.
DESCRIPTION = _("Submit lab solutions to a gradedescent server, read results and grade locally.")
EPILOG = _(
    "Exit codes: 0 accepted (or the command succeeded), 1 the submission failed, "
    "2 usage, configuration or a request the server rejected, 3 server, network or grader failure, "
    "4 not graded yet, 130 interrupted."
)
HELP_VERBOSE = _("log HTTP requests, retries and local grading steps to stderr")
HELP_SUBMIT = _("submit a solution file and wait for its result")
HELP_STATUS = _("show a submission's status and result")
HELP_LEADERBOARD = _("show a lab's leaderboard")
HELP_TRY = _("grade a solution on the lab's public case locally, with the server's rules")
HELP_LOGIN = _("save the server URL and your token to the config file")
HELP_LAB = _("lab identifier, e.g. lab3")
HELP_FILE = _("Python file that defines solution(func, start_point)")
HELP_ID = _("submission number, as printed by submit")
HELP_NO_WAIT = _("print the submission number and exit without waiting for the result")
HELP_WAIT = _("wait until the submission is graded")
HELP_TIMEOUT = _("seconds to wait for the result before giving up (default: %(default)s)")
HELP_PRIVATE = _("show the private board (hidden cases); students see it once the deadline has passed")
INVALID_ID = _("invalid submission number {value!r}: expected a positive integer, as printed by submit")
INVALID_SECONDS = _("invalid number of seconds {value!r}: expected a number of at least 0, e.g. 600")
HELP_URL = _("server URL, e.g. https://gradedescent.example.edu")

ERROR = _("gradedescent: error: {message}")

# Configuration.
CONFIG_UNREADABLE = _("cannot read the config file {path}: {error}")
CONFIG_INVALID_TOML = _(
    "the config file {path} is not valid TOML ({error}): fix it, or write it again with 'gradedescent login URL'"
)
CONFIG_NOT_STRING = _('{key!r} in {path} is a {kind}, not a string: write it as {key} = "..."')
MISSING_URL = _("no server URL: set GRADEDESCENT_URL, or run 'gradedescent login URL' to write {path}")
MISSING_TOKEN = _("no token: set GRADEDESCENT_TOKEN, or run 'gradedescent login URL' to write {path}")
INVALID_URL = _(
    "invalid server URL {url!r} from {source}: expected http:// or https:// and a host, "
    "e.g. https://gradedescent.example.edu"
)
INVALID_TOKEN = _(
    "invalid token from {source}: a token is printable ASCII without spaces; copy it again from the TA's message"
)
EMPTY_TOKEN = _("the token is empty: paste the token a TA gave you")
TOKEN_PROMPT = _("Token (input is hidden): ")
CONFIG_SAVED = _("Saved the server URL and token to {path}, readable only by you.")
LOGIN_CHECKED = _("The server at {url} accepted the token for student {student_id}.")
LOGIN_CHECKED_TA = _("The server at {url} accepted the token, which is a TA's and cannot submit.")
LOGIN_REJECTED = _("the token was not saved, because the server at {url} rejected it: {detail}")
LOGIN_FAILED = _("the token was not saved: {error}")
LOGIN_UNCHECKED = _(
    "warning: the token was saved but not checked, because the server at {url} could not be reached "
    "or failed: {reason}"
)
CONFIG_WRITE_FAILED = _("cannot write the config file {path}: {error}")

# Solution files.
FILE_NOT_FOUND = _("solution file not found: {path!r}: check the path")
FILE_UNREADABLE = _("cannot read the solution file {path!r}: {error}")
FILE_TOO_LARGE = _(
    "the file {path!r} is {size} bytes, over the {limit} KiB limit: "
    "a solution file should be a few KiB; remove data or generated code"
)
FILE_NOT_UTF8 = _(
    "the file {path!r} is not valid UTF-8 (byte {byte:#04x} at offset {offset}): save it as UTF-8"
)
FILE_EMPTY = _("the file {path!r} is empty: it must define solution(func, start_point)")

# Local grading.
UNKNOWN_LAB = _("unknown lab {lab!r}: expected one of {labs}")
INVALID_SANDBOX = _("invalid GRADEDESCENT_SANDBOX {value!r}: expected one of {modes}")
SANDBOX_UNAVAILABLE = _("cannot start the sandbox: {reason}")
SANDBOX_NONE_WARNING = _(
    "warning: GRADEDESCENT_SANDBOX=none runs your code without isolation, with access to your files"
)
LOCAL_RUNNING = _("Grading {path} on the public case of {lab} locally ({mode} sandbox)...")
GRADER_FAILED = _("the local grader failed, which is not your code's fault: {error}")

# Talking to the server.
SERVER_REJECTED = _("the server rejected the request ({status}): {detail}")
SERVER_FAILED = _("the server failed ({status}): {detail}. Try again later, or tell a TA if it persists")
SERVER_UNREACHABLE = _(
    "cannot reach the server at {url}: {error}. Check GRADEDESCENT_URL or the config file, and your network"
)
RETRYING = _("{error}. Trying again in {seconds:.0f} s ({retry} of {retries}).")
SERVER_REDIRECTED = _("the server at {url} redirects {path} to {location}: try {suggested} as the server URL")
SERVER_REDIRECTED_ELSEWHERE = _(
    "the server at {url} redirects {path} to {location}, which is not a gradedescent address: "
    "check the server URL"
)
NOT_JSON = _("the reply is not JSON, it starts with {start!r}")
NOT_OBJECT = _("the reply is a JSON {kind}, not an object")
REPLY_TOO_LARGE = _("the reply is larger than {mebibytes} MiB")
REPLY_TOO_SLOW = _("the reply took longer than {seconds:g} s")
SERVER_INVALID_RESPONSE = _(
    "the server at {url} sent a response that is not gradedescent JSON ({error}): "
    "check that the URL points at a gradedescent server"
)
SUBMITTED = _("Submitted {path} to {lab} as submission {id}.")
STATUS_LINE = _("submission {id}: {status} ({seconds:.0f} s)")
STILL_GRADING = _(
    "Submission {id} is still {status} after {seconds:.0f} s: check it later with 'gradedescent status {id}'."
)
NOT_DONE = _("Submission {id} is {status}: run 'gradedescent status {id} --wait' to wait for the result.")
INTERRUPTED = _(
    "Stopped waiting. Submission {id} is graded anyway; check it with 'gradedescent status {id}'."
)
INTERRUPTED_LOCAL = _("Interrupted.")

STATUS_NAMES = {
    "queued": _("queued"),
    "running": _("running"),
    "done": _("done"),
}

# The result table.
SECTION_SUBMISSION = _("Submission {id}")
SECTION_LOCAL = _("Local run on the public case; hidden cases run only on the server")
SECTION_PUBLIC = _("Public case")
SECTION_HIDDEN = _("Hidden cases")
SECTION_STDOUT = _("stdout")
SECTION_STDERR = _("stderr")
LABEL_LAB = _("lab")
LABEL_STUDENT = _("student")
LABEL_STATUS = _("status")
LABEL_VERDICT = _("verdict")
LABEL_DETAIL = _("detail")
LABEL_LATE = _("submitted after the deadline")
LABEL_FINAL_POINT = _("final point")
LABEL_FINAL_F = _("final f")
LABEL_GAP = _("gap (f - f*)")
LABEL_DISTANCE = _("distance to minimiser")
LABEL_EVALUATIONS = _("evaluations")
LABEL_SCORED_ON = _("scored on")
LABEL_TO_TARGET = _("evaluations to gap < {target}")
LABEL_REACHED = _("reached global minimum")
LABEL_FEEDBACK = _("feedback")
LABEL_CRITICAL_POINT = _("critical point")
LABEL_SOLVED = _("solved fraction, all cases")
LABEL_CASES = _("cases")
LABEL_HIDDEN_SOLVED = _("solved fraction")
LABEL_MEAN_GAP = _("mean gap")
LABEL_ERT = _("expected running time to gap < {target}")
LABEL_HIDDEN_FEEDBACK = _("feedback kinds")
CRITICAL_POINT_VALUE = _("{kind} at {point}, f = {value}")
CRITICAL_POINT_KINDS = {
    "global minimum": _("global minimum"),
    "local minimum": _("local minimum"),
    "local maximum": _("local maximum"),
    "saddle point": _("saddle point"),
}
FEEDBACK_KINDS = {
    "converged": _("converged"),
    "diverged": _("diverged"),
    "stopped_at_critical_point": _("stopped at a critical point"),
    "oscillating": _("oscillating"),
    "stalled": _("stalled"),
    "not_evaluated": _("not evaluated"),
    "unfinished": _("unfinished"),
}
EVALUATIONS_BUDGET_SPENT = _("{count} (budget spent)")
SCORED_ON_NAMES = {
    "returned_point": _("the returned point"),
    "last_evaluation": _("the last evaluated point, because solution raised after the budget"),
}
YES = _("yes")
NO = _("no")
NEVER = _("never")
NONE = _("none")
NO_OUTPUT = _("(no output)")

# The leaderboard.
BOARD_TITLE = _("{lab}: {board} board, {rule} accepted submission of each student")
BOARD_NAMES = {"public": _("public"), "private": _("private")}
RULE_NAMES = {"best": _("best"), "latest": _("latest")}
BOARD_DEADLINE = _("deadline: {deadline}")
BOARD_EMPTY = _("No ranked submissions yet.")
COLUMN_RANK = _("rank")
COLUMN_NAME = _("name")
COLUMN_SECTION = _("section")
COLUMN_SUBMISSION = _("submission")
COLUMN_GAP = _("gap")
COLUMN_ERT = _("ERT to 1e-6")
COLUMN_SOLVED = _("solved")
COLUMN_FINAL_F = _("final f")
COLUMN_EVALUATIONS = _("evaluations")
COLUMN_SUBMITTED = _("submitted")
