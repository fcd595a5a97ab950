"""Headless Chromium for the browser tests: Debian's /usr/bin/chromium driven by Playwright.

Playwright's own browser download is never used: ``playwright install``
downloads a browser build, which fails on machines that reach only package registries. ``scripts/install-system-packages --test``
(run by ``make test``) installs Debian's chromium.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, Playwright, sync_playwright

from tests.conftest import REPOSITORY

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = REPOSITORY / "tests" / "artifacts"
"""Screenshots of the pages, kept after the run for people to look at (gitignored)."""


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: run scripts/install-system-packages --test (Debian package chromium)"
        )
    with sync_playwright() as driver:
        yield driver


ACCEPT_LANGUAGES = {"en-US": "en-US,en;q=0.9", "ko-KR": "ko-KR,ko;q=0.9,en-US;q=0.8,en;q=0.7"}
"""The Accept-Language header that a browser set to each locale sends."""


def launch(
    playwright: Playwright, user_data_dir: Path, javascript: bool = True, locale: str = "en-US"
) -> BrowserContext:
    """Start Chromium with a fresh profile in ``user_data_dir``, set to ``locale``."""
    return playwright.chromium.launch_persistent_context(
        str(user_data_dir),
        executable_path=str(CHROMIUM),
        headless=True,
        args=CHROMIUM_ARGS,
        java_script_enabled=javascript,
        viewport={"width": 1280, "height": 900},
        locale=locale,
        extra_http_headers={"Accept-Language": ACCEPT_LANGUAGES[locale]},
    )


@pytest.fixture(scope="module")
def browser(playwright: Playwright, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserContext]:
    """Chromium set to English."""
    context = launch(playwright, tmp_path_factory.mktemp("chromium-profile"))
    yield context
    context.close()


@pytest.fixture(scope="module")
def korean_browser(
    playwright: Playwright, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BrowserContext]:
    """Chromium set to Korean, as most of the course's students have it."""
    context = launch(playwright, tmp_path_factory.mktemp("chromium-profile-ko"), locale="ko-KR")
    yield context
    context.close()


def screenshot(page: Page, name: str) -> Path:
    """Save a full-page screenshot under tests/artifacts and return its path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
