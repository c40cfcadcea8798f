"""Headless Chromium driven by Playwright: the Debian browser, never a downloaded one."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
DROPZONE5_DIST = Path(__file__).resolve().parents[2] / "node_modules" / "dropzone5" / "dist"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser: Browser) -> Iterator[Callable[..., Page]]:
    """Opens pages, each in a fresh context: its own cookies and localStorage, so another browser
    as far as the server can tell; keyword arguments go to the context (`locale="de-DE"`).
    Uncaught errors in any of them fail the test."""
    contexts = []
    errors: list[str] = []

    def open_page(**options: Any) -> Page:
        context = browser.new_context(viewport={"width": 1000, "height": 800}, **options)
        context.set_default_timeout(20_000)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert errors == [], f"uncaught errors in the page: {errors}"


@pytest.fixture
def page(new_page: Callable[..., Page]) -> Page:
    """A page in a fresh context (own cookies and localStorage) per test."""
    return new_page()


@pytest.fixture
def fake_cdn(tmp_path: Path) -> Iterator[str]:
    """node_modules/dropzone5/dist laid out as a CDN: `<cdn>/5.9.3/min/dropzone.min.js`."""
    if not (DROPZONE5_DIST / "min" / "dropzone.min.js").is_file():
        pytest.skip("node_modules/dropzone5 is missing: run `npm install` in the repository")
    root = tmp_path / "cdn"
    root.mkdir()
    (root / "5.9.3").symlink_to(DROPZONE5_DIST, target_is_directory=True)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(root))
    )
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
