"""Playwright fixtures for the `browser` tests: Debian's Chromium, headless, one per session.

Playwright's own browser download needs a network the project's machines lack, so the
system Chromium is launched instead (scripts/test.sh installs it).
"""

import os
import shutil
from pathlib import Path

import pytest

from bench.common import CHROMIUM_ARGS

# Playwright's sync API runs an event loop in the test's thread; the ORM calls the tests
# make there to set up data are still plain synchronous calls.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def chromium_path() -> str:
    path = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        pytest.fail(
            f"Chromium is missing at {path}: the browser tests need Debian's chromium "
            "(apt-get install chromium; `make test` installs it), or set CHROMIUM_PATH.",
            pytrace=False,
        )
    return path


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path(), args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


@pytest.fixture
def screenshot():
    """Save a screenshot when SCREENSHOT_DIR is set (for looking at the pages by eye)."""
    folder = os.environ.get("SCREENSHOT_DIR")

    def take(page, name: str) -> None:
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)

    return take
