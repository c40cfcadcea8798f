"""The page's figures and buttons for uploads in progress: percent, speed and time left; pause and
resume; cancel, which removes what the server received; copy link.

Chunk requests are held with Playwright routes, so an upload stops part-way at a known point; the
server is asked through the status route and its chunks folder."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Error, Page, Request, Route, expect
from tests.browser.test_page import a_file, drop, wait_finished
from tests.browser.test_resume import Gate, chunk_of, is_chunk, is_upload_url, wait_received
from tests.conftest import Server

MakeServer = Callable[..., Server]

CHUNK = 1_000_000


def chunk_requests(page: Page) -> list[int]:
    """The index of every chunk request the page sends from now on, in order."""
    sent: list[int] = []

    def on_request(request: Request) -> None:
        if is_chunk(request):
            sent.append(chunk_of(request)[1])

    page.on("request", on_request)
    return sent


def wait_until(page: Page, check: Callable[[], bool], what: str) -> None:
    for _ in range(400):
        if check():
            return
        page.wait_for_timeout(25)
    raise AssertionError(f"timed out waiting until {what}")


def let_through(gate: Gate) -> None:
    """From now on chunk requests pass; held ones the page has not aborted go on to the server."""
    gate.opened = True
    for route in gate.held:
        try:
            route.continue_()
        except Error:
            pass  # the page aborted it: nothing is sent
    gate.held.clear()


def status_text(page: Page, scope: str = ".dz-preview") -> str:
    """The figures shown for the first file (or `scope`), spaces made plain."""
    text = page.locator(f"{scope} .status").first.text_content() or ""
    return text.replace("\u00a0", " ")


def server_status(page: Page, server: Server, uuid: str) -> tuple[int, dict[str, object]]:
    reply = page.request.get(f"{server.url}/upload/{uuid}")
    return reply.status, reply.json()


def partial_files(server: Server) -> list[str]:
    return sorted(p.name for p in server.chunks.glob("*.part"))


def test_percent_speed_and_time_left_from_acknowledged_chunks(
    page: Page, make_server: MakeServer
) -> None:
    """Chunks answered one at a time, four a second: the file's figures grow from 0 % with a
    speed and a time left, and end at 100 % and done, for the file and for all uploads."""
    server = make_server("-a", "--chunk-size", str(CHUNK))
    held: list[Route] = []
    page.route(is_upload_url, lambda r: held.append(r) if is_chunk(r.request) else r.continue_())
    page.goto(server.url)
    drop(page, a_file("twelve.bin", os.urandom(12 * CHUNK)))

    shown: list[str] = []
    while not page.locator(".dz-preview.dz-complete").count():
        if held:
            held.pop(0).continue_()
        shown.append(status_text(page))
        page.wait_for_timeout(250)

    percents = [int(m.group(1)) for m in map(re.compile(r"^(\d+)%").match, shown) if m]
    assert percents == sorted(percents) and percents[0] < 20, shown
    running = [s for s in shown if re.fullmatch(r"\d+% · [\d.]+ (KiB|MiB)/s · \d+ s left", s)]
    assert running, f"no speed and time left among {shown}"
    expect(page.locator(".dz-preview .status")).to_have_text("100% · done")
    expect(page.locator(".dz-preview .status")).to_have_attribute("aria-valuenow", "100")
    expect(page.locator("#overall-status")).to_have_text("1 file · 100% · done")


@pytest.mark.parametrize("dropzone", ["6", "5"])
def test_pause_stops_chunk_requests_and_resume_completes_the_file(
    page: Page, make_server: MakeServer, fake_cdn: str, dropzone: str
) -> None:
    """3 of 20 chunks reach the server and the rest are held in flight; Pause aborts those, and
    even with the way open nothing more is sent. Resume sends each missing chunk once and the
    server's SHA-256 is the file's. Dropzone 5 starts all 20 at once: Pause aborts all 17."""
    cdn = ["--dz-cdn", fake_cdn, "--dz-version", "5.9.3"] if dropzone == "5" else []
    server = make_server("-a", "--chunk-size", str(CHUNK), *cdn)
    data = os.urandom(20 * CHUNK - 999)
    page.goto(server.url)
    gate = Gate(page, allow=3)
    sent = chunk_requests(page)
    aborted: list[Request] = []
    page.on("requestfailed", lambda r: aborted.append(r) if is_chunk(r) else None)
    drop(page, a_file("paused.bin", data))
    in_flight = 17 if dropzone == "5" else 6
    wait_until(page, lambda: len(gate.held) == in_flight, f"{in_flight} chunks are held")
    uuid = chunk_of(gate.held[0].request)[0]
    received = wait_received(page, server, uuid, 3)
    expect(page.locator(".dz-preview .status")).to_have_text(re.compile("^15%"))  # answers read

    pause = page.get_by_role("button", name="Pause paused.bin")
    pause.click()
    expect(page.get_by_role("button", name="Resume paused.bin")).to_be_focused()
    expect(page.locator(".dz-preview .status")).to_have_text("15% · paused")
    let_through(gate)
    page.wait_for_timeout(1500)
    assert len(aborted) == in_flight
    assert len(sent) == 3 + in_flight  # nothing new
    assert server_status(page, server, uuid)[1]["received"] == received

    resumed = len(sent)
    page.get_by_role("button", name="Resume paused.bin").click()
    wait_finished(page, 1)
    missing = sorted(set(range(20)) - set(received))  # which 3 got through is up to the browser
    assert sorted(sent[resumed:]) == missing  # each missing chunk once
    code, found = server_status(page, server, uuid)
    assert code == 200 and found["sha256"] == hashlib.sha256(data).hexdigest()


def test_cancel_removes_the_partial_upload_on_the_server(
    page: Page, make_server: MakeServer
) -> None:
    """Cancel mid-upload: the held chunks are never sent, the file leaves the list, the status
    route answers 404, the partial file is gone and the page no longer offers to resume it."""
    server = make_server("-a", "--chunk-size", str(CHUNK))
    page.goto(server.url)
    gate = Gate(page, allow=4)
    sent = chunk_requests(page)
    drop(page, a_file("unwanted.bin", os.urandom(10 * CHUNK)))
    wait_until(page, lambda: len(gate.held) == 6, "6 chunks are held")
    uuid = chunk_of(gate.held[0].request)[0]
    wait_received(page, server, uuid, 4)
    assert len(partial_files(server)) == 1
    assert uuid in page.evaluate("localStorage.getItem('pyfiledrop.resume')")

    page.get_by_role("button", name="Cancel unwanted.bin").click()
    expect(page.locator(".dz-preview")).to_have_count(0)
    expect(page.locator(".dz-button")).to_be_focused()
    let_through(gate)
    wait_until(page, lambda: server_status(page, server, uuid)[0] == 404, "the upload is gone")
    assert partial_files(server) == []
    assert uuid not in page.evaluate("localStorage.getItem('pyfiledrop.resume') || ''")
    page.wait_for_timeout(500)
    assert len(sent) == 10
    expect(page.locator("#overall")).to_be_hidden()
    expect(page.locator("#notice")).to_be_hidden()


class FirstTwo:
    """Passes chunks 0 and 1 of every file and holds the others, unsent; `mode` "open" passes
    everything, "hold" holds everything."""

    def __init__(self, page: Page) -> None:
        self.mode = "first two"
        self.held: list[Route] = []
        page.route(is_upload_url, self.handle)

    def handle(self, route: Route) -> None:
        index = chunk_of(route.request)[1] if is_chunk(route.request) else None
        if index is None or self.mode == "open" or (self.mode == "first two" and index < 2):
            route.continue_()
        else:
            self.held.append(route)


def test_pause_all_resume_all_and_cancel_all(page: Page, make_server: MakeServer) -> None:
    """Three files with two chunks each on the server: Pause all pauses every one; one resumed
    alone finishes; Resume all lets the other two go on, and Cancel all removes them from the
    page and the server, leaving the finished one."""
    server = make_server("-a", "--chunk-size", str(CHUNK))
    page.goto(server.url)
    page.evaluate("Dropzone.instances[0].options.parallelUploads = 3")
    gate = FirstTwo(page)
    drop(page, *(a_file(f"f{i}.bin", os.urandom(8 * CHUNK)) for i in range(3)))
    wait_until(page, lambda: len(gate.held) == 18, "6 chunks of each file are held")
    uuids = {chunk_of(route.request)[0] for route in gate.held}
    for uuid in uuids:
        assert wait_received(page, server, uuid, 2) == [0, 1]

    page.get_by_role("button", name="Pause all").click()
    expect(page.get_by_role("button", name="Resume all")).to_be_focused()
    expect(page.locator(".dz-preview .status")).to_have_text(["25% · paused"] * 3)
    expect(page.locator("#overall-status")).to_have_text("3 files · 25% · paused")
    gate.held.clear()  # the page aborted them
    gate.mode = "open"
    page.get_by_role("button", name="Resume f0.bin").click()
    wait_finished(page, 1)
    gate.mode = "hold"
    page.get_by_role("button", name="Resume all").click()
    wait_until(page, lambda: len(gate.held) == 12, "the other two files send again")

    page.get_by_role("button", name="Cancel all").click()
    expect(page.locator(".dz-preview")).to_have_count(1)
    expect(page.locator(".dz-preview.dz-success")).to_have_count(1)

    def codes() -> list[int]:
        return sorted(server_status(page, server, uuid)[0] for uuid in uuids)

    wait_until(page, lambda: codes() == [200, 404, 404], "the two cancelled uploads are gone")
    assert partial_files(server) == []
    expect(page.locator("#overall-status")).to_have_text("1 file · 100% · done")


def test_copy_link_puts_the_download_url_on_the_clipboard(
    new_page: Callable[..., Page], server: Server
) -> None:
    """The finished file's Copy link button (on its tile and in the list) copies the link the
    status route gives, and that link downloads the file."""
    page = new_page(permissions=["clipboard-read", "clipboard-write"])
    page.goto(server.url)
    data = os.urandom(2 * CHUNK)
    drop(page, a_file("shared.bin", data))
    wait_finished(page, 1)
    (stored,) = page.evaluate("JSON.parse(localStorage.getItem('pyfiledrop.uploads'))")
    url = stored["url"]
    assert url.startswith(server.url + "/download/")

    for scope in (".dz-preview", "#uploaded"):
        page.evaluate("navigator.clipboard.writeText('')")
        copy = page.locator(scope).get_by_role("button", name="Copy link to shared.bin")
        copy.click()
        expect(copy).to_have_text("Copied")
        assert page.evaluate("navigator.clipboard.readText()") == url
    expect(page.locator("#announce")).to_have_text("Link to shared.bin copied.")
    assert page.request.get(url).body() == data
