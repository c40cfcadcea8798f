"""The upload page in a real browser: Dropzone drops, the list of uploads, downloads and errors."""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Dialog, FilePayload, Page, Response, expect
from tests.conftest import Server, finished_files

MakeServer = Callable[..., Server]

CHUNK = 1_000_000


# --- helpers --------------------------------------------------------------------------------------


def a_file(name: str, data: bytes, mime: str = "application/octet-stream") -> FilePayload:
    return {"name": name, "mimeType": mime, "buffer": data}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def drop(page: Page, *files: FilePayload) -> None:
    page.set_input_files("input.dz-hidden-input", files=list(files))


def wait_finished(page: Page, count: int) -> None:
    """Wait until `count` previews are complete and none failed."""
    page.wait_for_function(
        "n => document.querySelectorAll('.dz-preview.dz-complete').length >= n", arg=count
    )
    assert page.locator(".dz-error .dz-error-message").all_text_contents() == []
    expect(page.locator(".dz-preview.dz-success")).to_have_count(count)


def upload(page: Page, *files: FilePayload) -> None:
    """Drop files on the page and wait until all of them are complete and listed."""
    before = page.locator("#uploaded li").count()
    drop(page, *files)
    wait_finished(page, len(files))
    expect(page.locator("#uploaded li")).to_have_count(before + len(files))


def listed(page: Page) -> list[dict[str, Any]]:
    """The rows of #uploaded: the name's text and tag, the link, and the SHA-256 in the tooltip."""
    rows: list[dict[str, Any]] = page.eval_on_selector_all(
        "#uploaded li",
        """rows => rows.map(row => {
            const name = row.querySelector('.name');
            return {name: name.textContent, tag: name.tagName.toLowerCase(),
                    href: name.getAttribute('href'), download: name.getAttribute('download'),
                    sha256: (row.querySelector('.meta').title || '').replace('SHA-256 ', '')};
        })""",
    )
    return rows


def row_named(page: Page, name: str) -> dict[str, Any]:
    rows = [row for row in listed(page) if row["name"] == name]
    assert len(rows) == 1, f"{name!r} is listed {len(rows)} times in {listed(page)}"
    return rows[0]


def check_download(page: Page, name: str, data: bytes) -> None:
    """Follow the listed link for `name`: the bytes and the shown SHA-256 match what was dropped."""
    row = row_named(page, name)
    assert row["tag"] == "a" and row["href"], row
    assert row["download"] == name
    response = page.request.get(row["href"])
    assert response.status == 200, response.text()
    body = response.body()
    assert len(body) == len(data)
    assert sha256(body) == sha256(data) == row["sha256"]
    assert body == data


def posts_to_upload(page: Page) -> list[str]:
    """Collects the URL of every POST the page sends to /upload from now on."""
    sent: list[str] = []
    page.on(
        "request",
        lambda r: sent.append(r.url) if r.method == "POST" and "/upload" in r.url else None,
    )
    return sent


# --- tests ----------------------------------------------------------------------------------------


def test_multi_chunk_file_downloads_identical(page: Page, make_server: MakeServer) -> None:
    """A 3.5 MB file goes up in 4 chunks, is listed with a link, and downloads byte for byte."""
    server = make_server("-a", "--chunk-size", str(CHUNK))
    data = os.urandom(3_500_000)
    page.goto(server.url)
    expect(page.locator("#downloads-off")).to_be_hidden()
    sent = posts_to_upload(page)

    upload(page, a_file("big.bin", data))

    assert len(sent) == 4  # ceil(3.5 MB / 1 MB) chunk requests, none retried
    check_download(page, "big.bin", data)
    stored = finished_files(server.storage)
    assert [p.read_bytes() for p in stored] == [data]


def test_several_files_at_once(page: Page, make_server: MakeServer) -> None:
    """Three files dropped together, one smaller than a chunk, all complete with the right bytes."""
    server = make_server("-a", "--chunk-size", str(CHUNK))
    files = {
        "two-and-a-half.bin": os.urandom(2_500_000),
        "exactly-one-chunk.bin": os.urandom(CHUNK),
        "small.txt": b"smaller than one chunk\n",
    }
    page.goto(server.url)

    upload(page, *(a_file(name, data) for name, data in files.items()))

    assert sorted(row["name"] for row in listed(page)) == sorted(files)
    for name, data in files.items():
        check_download(page, name, data)


def test_empty_file(page: Page, server: Server) -> None:
    """A 0-byte file completes, is listed, and its link returns 0 bytes."""
    page.goto(server.url)
    upload(page, a_file("empty.txt", b"", "text/plain"))
    check_download(page, "empty.txt", b"")
    assert page.locator("#uploaded li .meta").text_content() == "0 B"


def test_html_in_file_name_is_shown_as_text(page: Page, server: Server) -> None:
    """A file name full of markup is listed as literal text; nothing in it is parsed or run."""
    name = "<img src=x onerror=alert(1)>.txt"
    dialogs: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.goto(server.url)

    upload(page, a_file(name, b"harmless", "text/plain"))

    row = page.locator("#uploaded li")
    assert row.locator(".name").text_content() == name
    assert page.locator("#uploaded img").count() == 0
    assert page.locator("img[src='x']").count() == 0
    check_download(page, name, b"harmless")
    page.reload()  # the list is rebuilt from localStorage: still text
    assert page.locator("#uploaded li .name").text_content() == name
    assert page.locator("#uploaded img").count() == 0
    assert dialogs == []


def test_list_survives_reload_and_clear_empties_it(page: Page, server: Server) -> None:
    """The list is kept across reloads; Clear empties it, and it stays empty after a reload."""
    page.goto(server.url)
    upload(page, a_file("one.txt", b"first\n"), a_file("two.txt", b"second\n"))
    before = listed(page)
    assert sorted(row["name"] for row in before) == ["one.txt", "two.txt"]

    page.reload()
    assert listed(page) == before
    check_download(page, "two.txt", b"second\n")

    page.click("#clear")
    expect(page.locator("#uploaded li")).to_have_count(0)
    page.reload()
    expect(page.locator("#uploaded")).to_be_attached()
    assert page.locator("#uploaded li").count() == 0


def test_show_all_brings_back_what_clear_and_a_wiped_storage_lost(
    page: Page, server: Server
) -> None:
    """The server keeps which uploads this browser made: Show all lists them again."""
    page.goto(server.url)
    upload(page, a_file("one.txt", b"first\n"), a_file("two.txt", b"second\n"))
    before = listed(page)
    page.click("#clear")
    page.evaluate("localStorage.clear()")
    page.reload()
    expect(page.locator("#uploaded li")).to_have_count(0)
    page.get_by_role("button", name="Show every finished upload").click()
    expect(page.locator("#uploaded li")).to_have_count(2)
    assert sorted(listed(page), key=str) == sorted(before, key=str)
    check_download(page, "one.txt", b"first\n")
    page.reload()  # what Show all found is the page's list again
    expect(page.locator("#uploaded li")).to_have_count(2)


def test_downloads_off_lists_name_without_link(page: Page, make_server: MakeServer) -> None:
    """Without -a the file still uploads, but the list shows its name with no link."""
    server = make_server("--chunk-size", str(CHUNK))
    page.goto(server.url)
    expect(page.locator("#downloads-off")).to_be_visible()

    upload(page, a_file("private.bin", os.urandom(1_500_000)))

    row = row_named(page, "private.bin")
    assert row["tag"] == "span" and row["href"] is None
    assert page.locator("#uploaded a").count() == 0


def test_server_refusal_is_shown_next_to_the_file(page: Page, make_server: MakeServer) -> None:
    """A chunk above --max-chunk-size gets a 413; its message is shown, in view, on the file."""
    server = make_server("--chunk-size", str(CHUNK), "--max-chunk-size", str(CHUNK))
    page.goto(server.url)
    statuses: list[int] = []

    def on_response(response: Response) -> None:
        if response.request.method == "POST":
            statuses.append(response.status)

    page.on("response", on_response)
    page.evaluate("Dropzone.instances[0].options.chunkSize = 2000000")

    drop(page, a_file("too-big-chunks.bin", os.urandom(3_000_000)))

    message = page.locator(".dz-preview.dz-error .dz-error-message")
    expect(message).to_contain_text("Chunks of 2000000 bytes are too large")
    expect(message).to_contain_text("the limit is 1000000")
    # in view without hovering (Dropzone's own CSS shows it only on hover)
    assert message.evaluate("e => getComputedStyle(e).opacity") == "1"
    assert statuses and set(statuses) == {413}
    expect(page.locator(".dz-preview.dz-success")).to_have_count(0)
    assert page.locator("#uploaded li").count() == 0
    assert finished_files(server.storage) == []


def test_dropzone5_from_a_cdn(page: Page, make_server: MakeServer, fake_cdn: str) -> None:
    """With --dz-cdn/--dz-version 5.9.3 the page runs Dropzone 5; chunked and empty files work."""
    server = make_server(
        "-a", "--chunk-size", str(CHUNK), "--dz-cdn", fake_cdn, "--dz-version", "5.9.3"
    )
    page.goto(server.url)
    assert page.evaluate("Dropzone.version") == "5.9.3"
    assert page.locator("script[src]").first.get_attribute("src") == (
        f"{fake_cdn}/5.9.3/min/dropzone.min.js"
    )
    assert page.evaluate("Dropzone.instances.length") == 1  # autoDiscover did not attach twice
    data = os.urandom(2_500_000)

    upload(page, a_file("dz5.bin", data), a_file("dz5-empty.txt", b"", "text/plain"))

    check_download(page, "dz5.bin", data)
    check_download(page, "dz5-empty.txt", b"")


@pytest.mark.parametrize("dropzone", ["6 (raw chunks)", "5 (forms)"])
def test_the_uploader_chooses_a_shorter_life_never_a_longer_one(
    dropzone: str, page: Page, make_server: MakeServer, request: pytest.FixtureRequest
) -> None:
    cdn = []
    if dropzone.startswith("5"):
        cdn = ["--dz-cdn", request.getfixturevalue("fake_cdn"), "--dz-version", "5.9.3"]
    server = make_server("-a", "--chunk-size", str(CHUNK), "--expire", "7d", *cdn)
    page.goto(server.url)
    choices = page.eval_on_selector_all("#expire option", "os => os.map(o => o.value)")
    assert choices == ["", "1h", "1d"], "nothing as long as the limit or longer"
    assert "7d" in page.locator("#expire option").first.text_content()  # type: ignore[operator]
    page.select_option("#expire", "1h")
    upload(page, a_file("short.bin", os.urandom(CHUNK + 10)))
    page.select_option("#expire", "")
    drop(page, a_file("long.bin", b"x"))
    wait_finished(page, 2)
    with sqlite3.connect(server.storage / "pyfiledrop.sqlite3") as db:
        lives = dict(db.execute("SELECT filename, lifetime FROM uploads").fetchall())
    assert lives == {"short.bin": 3600, "long.bin": 7 * 86400}
    expect(page.locator("#uploaded li .meta").first).to_contain_text("until")


def test_a_file_finished_with_its_last_chunk_needs_no_status_call(
    page: Page, make_server: MakeServer
) -> None:
    """The server answers the chunk that completes a small file with the file finished: the page
    takes its link from that answer. A larger file may still ask (its finish can take longer)."""
    server = make_server("-a", "--chunk-size", str(CHUNK))
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "wait=" in r.url else None)
    page.goto(server.url)
    small, larger = os.urandom(1000), os.urandom(2 * CHUNK + 7)
    upload(page, a_file("small.bin", small), a_file("larger.bin", larger))
    check_download(page, "small.bin", small)
    check_download(page, "larger.bin", larger)
    assert asked == [], f"status calls after the last chunk said complete: {asked}"
