"""The page under its Content-Security-Policy in Chromium: it uploads with nothing blocked, with
the bundled Dropzone and from a CDN, and no other site can frame it."""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Callable

from playwright.sync_api import Page
from tests.browser.test_page import a_file, upload
from tests.conftest import Server

MakeServer = Callable[..., Server]

WATCH_VIOLATIONS = """
window.violations = [];
document.addEventListener("securitypolicyviolation",
    e => window.violations.push(e.violatedDirective + " " + e.blockedURI));
"""


def png(width: int = 8, height: int = 8) -> bytes:
    """A small grey PNG, so Dropzone draws a thumbnail (a data: URL) for it."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )  # fmt: skip


def upload_watching_the_policy(page: Page, url: str) -> None:
    page.add_init_script(WATCH_VIOLATIONS)
    page.goto(url)
    assert page.evaluate("typeof Dropzone") == "function"
    upload(page, a_file("picture.png", png(), "image/png"), a_file("data.bin", os.urandom(3000)))
    page.locator(".dz-preview img[data-dz-thumbnail][src^='data:']").wait_for()
    assert page.evaluate("window.violations") == []


def test_the_page_uploads_under_its_policy(page: Page, server: Server) -> None:
    upload_watching_the_policy(page, server.url)


def test_the_page_uploads_under_its_policy_with_dropzone_from_a_cdn(
    page: Page, make_server: MakeServer, fake_cdn: str
) -> None:
    server = make_server("-a", "--dz-cdn", fake_cdn, "--dz-version", "5.9.3")
    upload_watching_the_policy(page, server.url)


def test_another_site_cannot_frame_the_page(page: Page, server: Server) -> None:
    page.set_content(f'<iframe src="{server.url}/"></iframe>', wait_until="load")
    framed = page.frames[1]
    assert framed.query_selector("#dropper") is None
