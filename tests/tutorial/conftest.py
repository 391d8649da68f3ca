"""Fixtures for browser tests: one tutorial server and one headless Debian chromium per session.

Chromium is Debian's /usr/bin/chromium driven by Playwright for Python (no
browser is downloaded).  Every request that leaves loopback is recorded and
aborted, so the tests prove the tutorial works offline.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from servers import start_tutorial

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"


@pytest.fixture(scope="session")
def tutorial_server(tmp_path_factory):
    """A running ``numdl tutorial`` and the base URL it prints."""
    home = tmp_path_factory.mktemp("browser-home")
    server = start_tutorial(home)
    yield SimpleServer(base=server.url.split("?", 1)[0], home=home)
    server.stop()


class SimpleServer:
    def __init__(self, base: str, home: Path) -> None:
        self.base = base
        self.home = home

    def url(self, slug: str) -> str:
        return f"{self.base}?file={slug}.py"


# Offline by construction: every host name but loopback fails to resolve in this chromium.
# (Playwright's request routing would do it too, but routing turns off the HTTP cache, and
# marimo's frontend is several MB of scripts that every page would then fetch again.)
OFFLINE_ARGS = ["--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1 , EXCLUDE localhost"]


@pytest.fixture(scope="session")
def browser():
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs it (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS + OFFLINE_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="session")
def browser_context(browser):
    """One context for the session, so that its HTTP cache holds marimo's frontend."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    yield context
    context.close()


def _off_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return not url.startswith(("data:", "blob:")) and host not in ("127.0.0.1", "localhost", "::1")


@pytest.fixture
def page(browser_context):
    """A fresh page (its own marimo session); the requests it made off loopback, which cannot
    resolve, are listed in ``page.external``."""
    pg = browser_context.new_page()
    pg.set_viewport_size({"width": 1280, "height": 900})
    pg.external = []
    pg.on("request", lambda r: pg.external.append(r.url) if _off_loopback(r.url) else None)
    yield pg
    pg.close()


# Screenshots are for people to look at (`make screenshots`), not assertions: a full-length
# capture of a chapter costs 1-3 s, so the plain test run takes none.
SCREENSHOTS = os.environ.get("NUMDL_SCREENSHOTS", "") not in ("", "0")


@pytest.fixture
def screenshot():
    """Save a screenshot of a page under artifacts/screenshots/ when NUMDL_SCREENSHOTS=1."""
    return save_screenshot if SCREENSHOTS else (lambda page, name: None)


def save_screenshot(page, name: str) -> Path:
    """Save a full-length screenshot (marimo scrolls inside the page, so grow the viewport)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    height = page.evaluate("() => Math.max(document.body.scrollHeight, "
                           "document.querySelector('#App')?.scrollHeight || 0)")
    page.set_viewport_size({"width": 1280, "height": min(max(int(height) + 100, 900), 16000)})
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
