"""Dropzone 5 and 6, from npm, on a page of another site that uploads to pyfiledrop: chunks in
parallel, the owner bound by the Pyfiledrop-Owner header, the status call; and the same page on a
site that --cors-origins does not list, which the browser stops.

The other site is `embedder.test`, which Chromium resolves to 127.0.0.1: a different site, not
only a different port, so nothing passes for same-site that would not in a real deployment.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.conftest import Server

NODE_MODULES = Path(__file__).resolve().parents[2] / "node_modules"
DROPZONES = {
    "6": NODE_MODULES / "dropzone" / "dist" / "dropzone-min.js",
    "5": NODE_MODULES / "dropzone5" / "dist" / "min" / "dropzone.min.js",
}
CHUNK = 100_000

# The embedding site's page: its own secret for the owner header, Dropzone pointed at pyfiledrop,
# and, once a file is sent, the status call; what it learns goes to window.results.
PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><script src="dropzone.js"></script></head>
<body><form class="dropzone" id="drop"></form>
<script>
const SERVER = %(server)s;
const owner = Array.from(crypto.getRandomValues(new Uint8Array(32)),
                         (b) => b.toString(16).padStart(2, "0")).join("");  // 64 hex digits
window.results = [];
Dropzone.autoDiscover = false;
const dz = new Dropzone("#drop", {
  url: SERVER + "/upload", chunking: true, forceChunking: true, chunkSize: %(chunk)d,
  parallelChunkUploads: true, retryChunks: true, retryChunksLimit: 2,
  headers: {"Pyfiledrop-Owner": owner},
});
dz.on("success", async (file) => {
  const reply = await fetch(SERVER + "/upload/" + file.upload.uuid + "?wait=10",
                            {headers: {"Pyfiledrop-Owner": owner}});
  window.results.push(await reply.json());
});
dz.on("error", (file, message) => window.results.push({error: String(message)}));
</script></body></html>
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Chromium that resolves embedder.test to 127.0.0.1."""
    args = [*CHROMIUM_ARGS, "--host-resolver-rules=MAP embedder.test 127.0.0.1"]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=args)
        yield browser
        browser.close()


class Embedder:
    """The embedding site on embedder.test: its page written for a Dropzone and a server."""

    def __init__(self, folder: Path, port: int) -> None:
        self.folder = folder
        self.origin = f"http://embedder.test:{port}"

    def page_for(self, version: str, server: Server) -> str:
        """Writes the page for Dropzone `version` uploading to `server`; returns its URL."""
        if not DROPZONES[version].is_file():
            pytest.fail(f"{DROPZONES[version]} is missing: run `npm ci`", pytrace=False)
        (self.folder / "dropzone.js").write_bytes(DROPZONES[version].read_bytes())
        page = PAGE % {"server": json.dumps(server.url), "chunk": CHUNK}
        (self.folder / "index.html").write_text(page)
        return self.origin + "/index.html"


@pytest.fixture
def embedder(tmp_path: Path) -> Iterator[Embedder]:
    site = tmp_path / "site"
    site.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(site))
    )
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield Embedder(site, httpd.server_address[1])
    httpd.shutdown()
    httpd.server_close()


def uploads(server: Server) -> int:
    with sqlite3.connect(server.storage / "pyfiledrop.sqlite3") as db:
        return int(db.execute("SELECT count(*) FROM uploads").fetchone()[0])


def drop_and_wait(page: Page, data: bytes) -> dict[str, Any]:
    page.set_input_files(
        "input.dz-hidden-input",
        files=[{"name": "embedded.bin", "mimeType": "application/octet-stream", "buffer": data}],
    )
    page.wait_for_function("() => window.results.length > 0", timeout=30_000)
    result: dict[str, Any] = page.evaluate("() => window.results[0]")
    return result


@pytest.mark.parametrize("version", ["6", "5"])
def test_another_site_uploads_in_parallel_chunks(
    browser: Browser, embedder: Embedder, make_server: Any, version: str
) -> None:
    server = make_server("-a", "--cors-origins", embedder.origin)
    page = browser.new_page()
    page.goto(embedder.page_for(version, server))
    data = os.urandom(5 * CHUNK + 123)
    status = drop_and_wait(page, data)
    assert status.get("state") == "complete", status
    assert status["sha256"] == hashlib.sha256(data).hexdigest()
    assert status["size"] == len(data)
    page.close()


def test_a_site_not_listed_is_stopped_by_the_browser(
    browser: Browser, embedder: Embedder, make_server: Any
) -> None:
    server = make_server("-a", "--cors-origins", "https://somewhere-else.example")
    page = browser.new_page()
    page.goto(embedder.page_for("6", server))
    status = drop_and_wait(page, os.urandom(2 * CHUNK))
    assert "error" in status, status
    assert uploads(server) == 0  # the preflight stopped every chunk before it was sent
    page.close()
