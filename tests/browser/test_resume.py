"""Resuming in the page: a file dropped again sends only the chunks the server does not have.

Chunk requests are held or failed with Playwright routes, so each upload stops part-way at a known
point; every POST /upload the page sends is parsed for its dzuuid and dzchunkindex.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from playwright.sync_api import Page, Request, Route, expect
from tests.conftest import Server

MakeServer = Callable[..., Server]

CHUNK = 1_000_000
MTIME = 1_700_000_000  # seconds; the page sees it as the File's lastModified
RESUME_STORE = "pyfiledrop.resume"
_FIELD = re.compile(rb'name="(dzuuid|dzchunkindex)"\r\n\r\n([^\r]*)\r\n')


# --- helpers --------------------------------------------------------------------------------------


def a_file(folder: Path, name: str, size: int) -> tuple[Path, bytes]:
    """A real file, so the browser's File has its lastModified from the file's mtime."""
    data = os.urandom(size)
    path = folder / name
    path.write_bytes(data)
    os.utime(path, (MTIME, MTIME))
    return path, data


def chunk_of(request: Request) -> tuple[str, int]:
    """The dzuuid and dzchunkindex of a chunk request: in its query string (Dropzone 6 sends raw
    bodies) or in its multipart body (Dropzone 5)."""
    query = dict(parse_qsl(urlsplit(request.url).query))
    if "dzuuid" in query:
        return query["dzuuid"], int(query["dzchunkindex"])
    body = request.post_data_buffer
    assert body is not None, "the page sent a chunk without a body"
    fields = {name.decode(): value.decode() for name, value in _FIELD.findall(body)}
    return fields["dzuuid"], int(fields["dzchunkindex"])


def is_upload_url(url: str) -> bool:
    return urlsplit(url).path == "/upload"


def is_chunk(request: Request) -> bool:
    return request.method == "POST" and is_upload_url(request.url)


@dataclass
class Sent:
    """Every chunk request the page sends from now on, as (dzuuid, dzchunkindex), in order."""

    chunks: list[tuple[str, int]] = field(default_factory=list)

    @classmethod
    def watch(cls, page: Page) -> Sent:
        """Chromium shows a request's multipart body only to a route, so this is one; it passes
        each request on to the routes set before it (or to the network)."""
        sent = cls()

        def record(route: Route) -> None:
            if is_chunk(route.request):
                sent.chunks.append(chunk_of(route.request))
            route.fallback()

        page.route(is_upload_url, record)
        return sent

    def indexes(self) -> list[int]:
        return [index for _, index in self.chunks]

    def uuids(self) -> set[str]:
        return {uuid for uuid, _ in self.chunks}


class Gate:
    """Lets the first `allow` chunk requests through to the server and holds the rest, unsent,
    until `open()`; a held request dies with its page."""

    def __init__(self, page: Page, allow: int) -> None:
        self.allow = allow
        self.held: list[Route] = []
        self.opened = False
        page.route(is_upload_url, self.handle)

    def handle(self, route: Route) -> None:
        if not is_chunk(route.request) or self.opened or self.allow > 0:
            self.allow -= 1
            route.continue_()
        else:
            self.held.append(route)

    def open(self) -> None:
        self.opened = True
        for route in self.held:
            route.continue_()
        self.held.clear()


def drop(page: Page, path: Path) -> None:
    page.set_input_files("input.dz-hidden-input", str(path))


def status(page: Page, server: Server, uuid: str) -> dict[str, Any]:
    """The server's record of an upload, asked with this page's cookie."""
    reply = page.request.get(f"{server.url}/upload/{uuid}")
    assert reply.status == 200, reply.text()
    found: dict[str, Any] = reply.json()
    return found


def wait_received(page: Page, server: Server, uuid: str, count: int) -> list[int]:
    """Wait until the server holds `count` chunks of the upload; returns their indexes."""
    for _ in range(400):
        received: list[int] = status(page, server, uuid)["received"]
        if len(received) >= count:
            assert len(received) == count, received
            return sorted(received)
        page.wait_for_timeout(25)
    raise AssertionError(f"the server never held {count} chunks of {uuid}")


def wait_held(page: Page, gate: Gate, count: int) -> None:
    """Wait until `count` chunk requests are held, then make sure no more come."""
    for _ in range(400):
        if len(gate.held) >= count:
            page.wait_for_timeout(100)
            assert len(gate.held) == count
            return
        page.wait_for_timeout(25)
    raise AssertionError(f"{len(gate.held)} chunk requests were held, not {count}")


def wait_done(page: Page, successes: int = 1) -> None:
    """Wait until `successes` previews succeeded."""
    expect(page.locator(".dz-preview.dz-success")).to_have_count(successes)


def progress_shown(page: Page) -> float:
    """The width in percent of the last preview's progress bar."""
    width = page.locator(".dz-preview .dz-upload").last.evaluate("e => e.style.width")
    assert width.endswith("%"), width
    return float(width[:-1])


def resume_entries(page: Page) -> dict[str, Any]:
    entries: dict[str, Any] = json.loads(
        page.evaluate("k => localStorage.getItem(k) || '{}'", RESUME_STORE)
    )
    return entries


def check_download(page: Page, name: str, data: bytes) -> None:
    """Follow the list's link for `name`: the bytes are the dropped file's."""
    link = page.locator("#uploaded li a.name", has_text=name)
    expect(link).to_have_count(1)
    href = link.get_attribute("href")
    assert href
    response = page.request.get(href)
    assert response.status == 200, response.text()
    assert response.body() == data


def start_part_way(
    page: Page, server: Server, path: Path, count: int, allow: int, in_flight: int
) -> tuple[str, list[int]]:
    """Drop `path` and let only `allow` chunks reach the server; the rest stay held, unsent.

    Returns the upload's dzuuid and the indexes the server holds."""
    gate = Gate(page, allow)
    sent = Sent.watch(page)
    drop(page, path)
    wait_held(page, gate, min(in_flight, count - allow))
    (uuid,) = sent.uuids()
    received = wait_received(page, server, uuid, allow)
    held = {chunk_of(route.request)[1] for route in gate.held}
    assert received == sorted(set(sent.indexes()) - held)  # the server has what got through
    return uuid, received


def resume_after_reload(
    page: Page, server: Server, path: Path, data: bytes, count: int, in_flight: int
) -> None:
    """Part-way, reload, drop again: only the missing chunks are sent, `in_flight` at first."""
    uuid, received = start_part_way(page, server, path, count, allow=5, in_flight=in_flight)
    assert 0 < len(received) < count
    page.reload()  # before unrouting, which would let the held requests go
    page.unroute_all(behavior="ignoreErrors")
    assert status(page, server, uuid)["state"] == "receiving"
    assert sorted(status(page, server, uuid)["received"]) == received  # nothing more arrived

    gate = Gate(page, allow=0)  # hold the resumed chunks to see where the bar starts
    sent = Sent.watch(page)
    drop(page, path)
    missing = sorted(set(range(count)) - set(received))
    wait_held(page, gate, min(len(missing), in_flight))
    share = 100 * len(received) / count
    assert abs(progress_shown(page) - share) < 0.5, (progress_shown(page), share)
    gate.open()
    wait_done(page)

    assert sent.uuids() == {uuid}  # the same upload, continued
    assert sorted(sent.indexes()) == missing  # each missing chunk once, none the server had
    assert status(page, server, uuid)["state"] == "complete"
    check_download(page, path.name, data)
    assert resume_entries(page) == {}  # forgotten once complete


# --- tests ----------------------------------------------------------------------------------------


def test_resume_after_reload(page: Page, make_server: MakeServer, tmp_path: Path) -> None:
    """12 chunks, 5 reach the server, the page is reloaded, the same file is dropped again: the
    other 7 are sent once each under the same dzuuid and the bar starts at 5/12."""
    server = make_server("-a", "--chunk-size", str(CHUNK))
    path, data = a_file(tmp_path, "resume.bin", 12 * CHUNK - 12345)
    page.goto(server.url)
    resume_after_reload(page, server, path, data, count=12, in_flight=6)  # the page's limit


def test_resume_after_failure_without_reload(
    page: Page, make_server: MakeServer, tmp_path: Path
) -> None:
    """Chunk 5 fails until Dropzone gives up; dropped again, the file sends chunks 5..11 only."""
    server = make_server("-a", "--chunk-size", str(CHUNK), "--disable-parallel-chunks")
    path, data = a_file(tmp_path, "flaky.bin", 12 * CHUNK)
    page.goto(server.url)
    attempts: list[int] = []
    failing = True

    def flaky(route: Route) -> None:
        if is_chunk(route.request) and chunk_of(route.request)[1] == 5 and failing:
            attempts.append(5)
            route.fulfill(status=500, json={"error": "chunk 5 is broken today"})
        else:
            route.continue_()

    page.route(is_upload_url, flaky)
    first = Sent.watch(page)
    drop(page, path)
    expect(page.locator(".dz-preview.dz-error .dz-error-message")).to_contain_text(
        "chunk 5 is broken today"
    )
    assert len(attempts) == 4  # the first send and Dropzone's 3 retries
    (uuid,) = first.uuids()
    assert sorted(status(page, server, uuid)["received"]) == [0, 1, 2, 3, 4]

    failing = False
    second = Sent.watch(page)
    drop(page, path)
    wait_done(page)

    assert second.uuids() == {uuid}
    assert second.indexes() == list(range(5, 12))  # serial: in order, each once
    assert len(attempts) == 4
    check_download(page, "flaky.bin", data)
    assert resume_entries(page) == {}


def test_another_browser_starts_afresh(
    new_page: Callable[[], Page], make_server: MakeServer, tmp_path: Path
) -> None:
    """A second browser dropping the same file, even one given the first's resume entry, starts
    its own upload with all chunks; the first upload is untouched and can still finish."""
    server = make_server("-a", "--chunk-size", str(CHUNK))
    path, data = a_file(tmp_path, "shared.bin", 8 * CHUNK)
    first = new_page()
    first.goto(server.url)
    uuid, received = start_part_way(first, server, path, 8, allow=3, in_flight=6)
    entries = resume_entries(first)
    assert [entry["uuid"] for entry in entries.values()] == [uuid]

    other = new_page()
    other.goto(server.url)
    other.evaluate("([k, v]) => localStorage.setItem(k, v)", [RESUME_STORE, json.dumps(entries)])
    looked_up: list[int] = []
    other.on(
        "response",
        lambda r: looked_up.append(r.status) if r.url.endswith(f"/upload/{uuid}") else None,
    )
    sent = Sent.watch(other)
    drop(other, path)
    wait_done(other)

    assert looked_up == [403]  # it asked, and the server refused: the upload is not its own
    (other_uuid,) = sent.uuids()
    assert other_uuid != uuid
    assert sorted(sent.indexes()) == list(range(8))
    check_download(other, "shared.bin", data)
    assert other.request.get(f"{server.url}/upload/{uuid}").status == 403
    found = status(first, server, uuid)
    assert found["state"] == "receiving" and sorted(found["received"]) == received

    # the first browser's upload goes on where it was held
    first.reload()  # before unrouting, which would let the held requests go
    first.unroute_all(behavior="ignoreErrors")
    assert sorted(status(first, server, uuid)["received"]) == received
    resumed = Sent.watch(first)
    drop(first, path)
    wait_done(first)
    assert resumed.uuids() == {uuid}
    assert sorted(resumed.indexes()) == sorted(set(range(8)) - set(received))
    check_download(first, "shared.bin", data)


def test_resume_with_dropzone5(
    page: Page, make_server: MakeServer, fake_cdn: str, tmp_path: Path
) -> None:
    """The same skipping works with Dropzone 5.9.3, which starts every chunk at once."""
    server = make_server(
        "-a", "--chunk-size", str(CHUNK), "--dz-cdn", fake_cdn, "--dz-version", "5.9.3"
    )
    path, data = a_file(tmp_path, "dz5-resume.bin", 9 * CHUNK + 1)
    page.goto(server.url)
    assert page.evaluate("Dropzone.version") == "5.9.3"
    resume_after_reload(page, server, path, data, count=10, in_flight=10)
