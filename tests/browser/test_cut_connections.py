"""The page in Chromium through the fault proxy: chunks cut mid-body, delayed and trickled are
sent again by the page, and the file ends complete with the right bytes and SHA-256."""

from __future__ import annotations

import hashlib
import os
import random
import sqlite3
from collections.abc import Callable

import httpx
from playwright.sync_api import Page
from tests.browser.test_page import a_file, upload
from tests.conftest import Server
from tests.faults.proxy import Proxy, Rule

MakeServer = Callable[..., Server]


def test_page_finishes_a_file_through_cut_delayed_and_trickled_connections(
    page: Page, make_server: MakeServer
) -> None:
    """Each connection is cut once it carried 0.2 to 1.2 MB (so mid-chunk: chunks are 1 MB), three
    cuts in all; some connections are delayed or trickled too. The page retries a chunk up to 3
    times, and no more than three cuts can land on one chunk, so the page must finish."""
    server = make_server("-a", "--chunk-size", "1000000")
    data = os.urandom(12_000_000 + 333)
    rng = random.Random(11)

    def plan(number: int) -> Rule:
        cut = rng.randint(200_000, 1_200_000)
        return Rule(cut_after=cut, trickle=3_000_000) if number % 2 else Rule(cut, delay=0.01)

    with Proxy(server.port) as proxy:
        proxy.cut_budget = 3
        proxy.set_plan(plan)
        page.goto(proxy.url)
        upload(page, a_file("through cuts.bin", data))
        assert proxy.cuts == 3, f"only {proxy.cuts} cut(s) landed"
    with httpx.Client(base_url=server.url) as client:
        rows = [r for r in server_rows(server) if r["state"] == "complete"]
        assert len(rows) == 1
        assert rows[0]["sha256"] == hashlib.sha256(data).hexdigest()
        assert client.get(f"/download/{rows[0]['download_token']}").content == data


def server_rows(server: Server) -> list[dict[str, object]]:
    db = sqlite3.connect(server.storage / "pyfiledrop.sqlite3")
    db.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in db.execute("SELECT * FROM uploads")]
    finally:
        db.close()
