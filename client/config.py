"""The server URL and token: from the environment or the config file.

The config file is TOML at ``$XDG_CONFIG_HOME/gradedescent/config.toml``, or
``~/.config/gradedescent/config.toml`` when ``XDG_CONFIG_HOME`` is unset or
not absolute::

    url = "https://gradedescent.example.edu"
    token = "the token a TA gave you"

``GRADEDESCENT_URL`` and ``GRADEDESCENT_TOKEN`` override the file's values one
by one, so a variable set for one shell wins over the file. ``gradedescent
login`` writes the file with mode 0600, because the token is a password.
"""

from __future__ import annotations

import os
import tempfile
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import tomli_w

from client import messages
from client.errors import CliError, ExitCode

URL_VARIABLE = "GRADEDESCENT_URL"
TOKEN_VARIABLE = "GRADEDESCENT_TOKEN"


@dataclass(frozen=True)
class Config:
    """The server's URL and the caller's token, each None when not configured, and the config file's path."""

    url: str | None
    token: str | None = field(repr=False)
    path: Path

    def require_url(self) -> str:
        if not self.url:
            raise CliError(messages.MISSING_URL.format(path=self.path), ExitCode.USAGE)
        return self.url

    def require_token(self) -> str:
        if not self.token:
            raise CliError(messages.MISSING_TOKEN.format(path=self.path), ExitCode.USAGE)
        return self.token


def config_path(environ: Mapping[str, str]) -> Path:
    """Return the config file's path under the XDG base directory rules."""
    base = environ.get("XDG_CONFIG_HOME", "")
    if not os.path.isabs(base):
        # The XDG base directory specification requires ignoring a relative value.
        home = environ.get("HOME") or str(Path.home())
        base = os.path.join(home, ".config")
    return Path(base) / "gradedescent" / "config.toml"


def load_config(environ: Mapping[str, str]) -> Config:
    """Read the config file, if there is one, and apply the environment's overrides.

    Raises
    ------
    CliError
        With ``ExitCode.USAGE`` if the file cannot be read or parsed, a value
        is not a string, the URL is not an http(s) URL, or the token is not
        printable ASCII.
    """
    path = config_path(environ)
    stored = _read_file(path)
    url = environ.get(URL_VARIABLE) or stored.get("url")
    token = environ.get(TOKEN_VARIABLE) or stored.get("token")
    if url:
        source = URL_VARIABLE if environ.get(URL_VARIABLE) else str(path)
        url = validate_url(url, source)
    if token:
        source = TOKEN_VARIABLE if environ.get(TOKEN_VARIABLE) else str(path)
        token = validate_token(token, source)
    return Config(url=url, token=token or None, path=path)


def _read_file(path: Path) -> dict[str, str]:
    try:
        with open(path, "rb") as file:
            data: dict[str, Any] = tomllib.load(file)
    except FileNotFoundError:
        return {}
    except OSError as error:
        raise CliError(messages.CONFIG_UNREADABLE.format(path=path, error=error), ExitCode.USAGE) from None
    except tomllib.TOMLDecodeError as error:
        raise CliError(messages.CONFIG_INVALID_TOML.format(path=path, error=error), ExitCode.USAGE) from None

    values: dict[str, str] = {}
    for key in ("url", "token"):
        if key not in data:
            continue
        value = data[key]
        if not isinstance(value, str):
            message = messages.CONFIG_NOT_STRING.format(key=key, path=path, kind=type(value).__name__)
            raise CliError(message, ExitCode.USAGE)
        values[key] = value
    return values


def validate_url(url: str, source: str) -> str:
    """Return ``url`` without a trailing slash, or raise ``CliError`` unless it is http(s) with a host."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise CliError(messages.INVALID_URL.format(url=url, source=source), ExitCode.USAGE)
    return url.strip().rstrip("/")


def validate_token(token: str, source: str) -> str:
    """Return ``token`` without surrounding whitespace, or raise ``CliError`` unless it is printable ASCII.

    An HTTP header carries only ASCII, and the server's tokens are URL-safe
    base64, so any other character means the token was copied wrongly.
    """
    token = token.strip()
    if not all("!" <= character <= "~" for character in token):
        raise CliError(messages.INVALID_TOKEN.format(source=source), ExitCode.USAGE)
    return token


def write_config(path: Path, url: str, token: str) -> None:
    """Write the URL and token to ``path``, readable and writable by the owner only.

    The file is written to a temporary file in the same directory and renamed,
    so a reader never sees half a file and the token is never in a file with
    a wider mode.
    """
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(prefix=".config-", suffix=".toml", dir=path.parent)
        try:
            # mkstemp creates the file with mode 0600 already.
            with os.fdopen(descriptor, "wb") as file:
                tomli_w.dump({"url": url, "token": token}, file)
            os.replace(temporary, path)
        except BaseException:
            os.unlink(temporary)
            raise
    except OSError as error:
        raise CliError(messages.CONFIG_WRITE_FAILED.format(path=path, error=error), ExitCode.USAGE) from None
