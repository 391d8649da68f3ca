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
LOOPBACK = ("127.0.0.1", "localhost", "[::1]")


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


@pytest.fixture(scope="session")
def browser():
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs it (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    """A fresh page whose off-loopback requests are aborted and listed in ``page.external``."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    external: list[str] = []

    def route(r):
        host = urlsplit(r.request.url).hostname or ""
        if r.request.url.startswith(("data:", "blob:")) or host in ("127.0.0.1", "localhost", "::1"):
            r.continue_()
        else:
            external.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    pg = context.new_page()
    pg.external = external
    yield pg
    context.close()


@pytest.fixture
def screenshot():
    """Save a screenshot of a page under artifacts/screenshots/ (a test artifact)."""
    return save_screenshot


def save_screenshot(page, name: str) -> Path:
    """Save a full-length screenshot (marimo scrolls inside the page, so grow the viewport)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    height = page.evaluate("() => Math.max(document.body.scrollHeight, "
                           "document.querySelector('#App')?.scrollHeight || 0)")
    page.set_viewport_size({"width": 1280, "height": min(max(int(height) + 100, 900), 16000)})
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
