"""Property: whatever fields, headers and bodies a client sends to any route, the server answers
with less than 500, logs no traceback, and creates no file outside its storage and chunks folders.

One server serves every example (it is checked after each); it already holds a finished and an
unfinished upload of each protocol, so examples reach the code behind the ownership and state
checks too. Limits are small (2 MiB files, 256 KiB chunks, 5 s per request) so bodies hit them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.dz import BOUNDARY, DzFile, multipart
from tests.faults.servers import FaultServer

DZ_FIELDS = ("dzuuid", "dzchunkindex", "dztotalfilesize", "dzchunksize", "dztotalchunkcount",
             "dzchunkbyteoffset")  # fmt: skip
TUS_HEADERS = ("Tus-Resumable", "Upload-Length", "Upload-Offset", "Upload-Metadata",
               "Upload-Defer-Length", "Upload-Concat", "Upload-Checksum", "Content-Type",
               "X-HTTP-Method-Override", "Origin", "Access-Control-Request-Method")  # fmt: skip
NASTY = [
    "", " ", "-1", "0", "1", "-0", "+5", "1e3", "0x10", " 7 ", "9" * 19, "9" * 30, str(2**63),
    str(2**64), "NaN", "inf", "²", "٣", "１", "1.5", "../../etc/passwd", "..", "/", "\\", "%00",
    "%2e%2e%2f", "\u202e", "😀" * 10, "a" * 5000, "null", "[]", "{}", "1.0.0", "sha256 AAAA",
    "final;/files/x /files/../../y", "partial", "bytes=0-0", "bytes=-5", "bytes=5-2",
    "bytes=0-" + "9" * 25, "bytes=" + ",".join(["0-1"] * 300), "filename Li4vLi4vZXRj,x",
    "multipart/form-data; boundary=", "multipart/form-data; boundary=" + "b" * 300,
    "application/offset+octet-stream", "*/*", "<script>", "'; DROP TABLE uploads; --",
]  # fmt: skip
OWNER = "pyfiledrop_client"
SETTINGS = settings(
    max_examples=120, deadline=None, suppress_health_check=list(HealthCheck), database=None
)

nasty = st.one_of(
    st.sampled_from(NASTY),
    st.text(max_size=40),
    # digits Python's str.isdigit() accepts but int() may not: superscripts, circled, other scripts
    st.text(st.characters(categories=("Nd", "No")), min_size=1, max_size=3),
    st.integers(-(2**70), 2**70).map(str),
)
header_value = st.one_of(nasty, st.just("x" * 12_000)).map(
    lambda v: "".join(c for c in v if ord(c) >= 0x20 and ord(c) != 0x7F).strip(" \t").encode()
)  # what an HTTP client can send at all: no control characters, no surrounding blanks
bodies = st.one_of(st.binary(max_size=4096), st.integers(0, 300_000).map(os.urandom))


@dataclass
class Known:
    """Uploads the server already holds, so examples can aim at real ids."""

    dz_complete: str
    dz_unfinished: str
    token: str
    tus_complete: str
    tus_unfinished: str


@dataclass
class Target:
    server: FaultServer
    client: httpx.Client  # holds the cookie that owns the known uploads
    known: Known
    baseline: set[str]
    log_seen: int = 0
    owner_cookie: str = ""
    last_request: str = ""

    def __repr__(self) -> str:
        return f"Target({self.server.url})"


def tree(root: Path, skip: set[Path]) -> set[str]:
    found = set()
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        dirs[:] = [d for d in dirs if here / d not in skip]
        found.update(str(here / f) for f in files if here / f not in skip)
        found.update(str(here / d) for d in dirs)
    return found


def outside(target: Target) -> set[str]:
    server = target.server
    return tree(server.root.parent, {server.storage, server.chunks, server.log})


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    root = tmp_path_factory.mktemp("routes") / "server"
    server = FaultServer(root, "-a", "--max-size", "2", "--max-chunk-size", "262144",
                         "--chunk-size", "262144", "--timeout", "5000").start()  # fmt: skip
    client = httpx.Client(base_url=server.url, timeout=30)
    try:
        client.get("/")
        done, half = DzFile(os.urandom(300_000), 100_000), DzFile(os.urandom(300_000), 100_000)
        done.send_all(client, raw=True)
        status = done.wait_complete(client)
        half.send(client, 1)
        tus = {"Tus-Resumable": "1.0.0"}
        full = client.post(
            "/files/",
            headers={
                **tus,
                "Upload-Length": "10",
                "Content-Type": "application/offset+octet-stream",
            },
            content=b"0123456789",
        )
        part = client.post("/files/", headers={**tus, "Upload-Length": "100"})
        known = Known(done.uuid, half.uuid, str(status["download_url"]).rsplit("/", 1)[1],
                      full.headers["location"].rsplit("/", 1)[1],
                      part.headers["location"].rsplit("/", 1)[1])  # fmt: skip
        made = Target(server, client, known, set(), owner_cookie=client.cookies[OWNER])
        made.baseline = outside(made)
        made.log_seen = len(server.log_text())
        yield made
    finally:
        client.close()
        server.stop()


def new_log(target: Target) -> str:
    log = target.server.log_text()
    fresh, target.log_seen = log[target.log_seen :], len(log)
    return fresh


def send(target: Target, method: str, path: str, *, cookie: bool, **kwargs: object) -> None:
    """One request, then the three promises. A traceback may reach the log just after its
    answer, so one found before a request is blamed on the request before it."""
    late = new_log(target)
    assert "Traceback" not in late, f"a traceback after {target.last_request}:\n{late}"
    target.last_request = f"{method} {path[:200]} {kwargs}"[:2000]
    client = target.client if cookie else httpx.Client(base_url=target.server.url, timeout=30)
    if cookie:  # always as the owner of the known uploads, whatever cookie an answer set
        client.cookies.clear()
        client.cookies.set(OWNER, target.owner_cookie)
        kwargs["headers"] = {k: v for k, v in dict(kwargs.get("headers") or {}).items()
                             if k.lower() != "cookie"}  # fmt: skip
    try:
        reply = client.request(method, path, **kwargs)  # type: ignore[arg-type]
        status = reply.status_code
    except httpx.TransportError as exc:
        status = None
        error = f"{type(exc).__name__}: {exc}"
    finally:
        if not cookie:
            client.close()
    fresh = new_log(target)
    if status is None or status >= 500:  # its traceback may still be on its way to the log
        time.sleep(0.3)
        fresh += new_log(target)
    assert status is not None, f"{method} {path[:200]}: the connection broke ({error})"
    assert status < 500, f"{method} {path[:200]}: HTTP {status} {reply.text[:300]!r}"
    assert "Traceback" not in fresh, f"{method} {path[:200]}: a traceback in the log:\n{fresh}"
    created = outside(target) - target.baseline
    assert not created, f"{method} {path[:200]} created files outside storage: {created}"


def segment(text: str) -> str:
    return quote(text, safe="") or "x"


@st.composite
def headers(draw: st.DrawFn, names: tuple[str, ...] = ()) -> dict[str, bytes]:
    chosen = draw(st.lists(st.sampled_from(names), unique=True)) if names else []
    found = {name: draw(header_value) for name in chosen}
    extra = draw(st.lists(st.sampled_from(["Range", "If-None-Match", "If-Range", "Cookie",
                                           "Accept", "Content-Type", "Transfer-Encoding-X",
                                           "X-Forwarded-Host", "Host-X", "Accept-Encoding"]),
                          unique=True, max_size=3))  # fmt: skip
    found.update({name: draw(header_value) for name in extra})
    return found


@given(data=st.data())
@SETTINGS
def test_page_and_static_files(target: Target, data: st.DataObject) -> None:
    path = data.draw(st.one_of(
        st.just("/"), st.just("/favicon.ico"),
        nasty.map(lambda t: "/static/" + segment(t)),
        st.lists(st.sampled_from(["..", "%2e%2e", "vendor", "dropzone", "app.js", "%00", "."]),
                 max_size=6).map(lambda parts: "/static/" + "/".join(parts)),
    ))  # fmt: skip
    method = data.draw(st.sampled_from(["GET", "HEAD", "POST", "OPTIONS"]))
    send(target, method, path, cookie=data.draw(st.booleans()), headers=data.draw(headers()))


@given(data=st.data())
@SETTINGS
def test_upload_as_a_multipart_form(target: Target, data: st.DataObject) -> None:
    names = data.draw(st.lists(st.sampled_from(DZ_FIELDS), unique=True))
    fields = {name: data.draw(st.one_of(nasty, st.integers(0, 400_000).map(str))) for name in names}
    if "dzuuid" in fields and data.draw(st.booleans()):
        fields["dzuuid"] = data.draw(st.sampled_from([target.known.dz_unfinished,
                                                      target.known.dz_complete]))  # fmt: skip
    body = multipart(fields, data.draw(nasty), data.draw(bodies), data.draw(st.booleans()))
    body = body[: data.draw(st.integers(0, len(body)))] if data.draw(st.booleans()) else body
    kind = data.draw(st.sampled_from([f"multipart/form-data; boundary={BOUNDARY}",
                                      f'multipart/form-data; boundary="{BOUNDARY}"',
                                      "multipart/form-data", "text/plain"]))  # fmt: skip
    send(target, "POST", "/upload", cookie=data.draw(st.booleans()), content=body,
         headers={**data.draw(headers()), "Content-Type": kind})  # fmt: skip


@given(data=st.data())
@SETTINGS
def test_upload_as_a_raw_body(target: Target, data: st.DataObject) -> None:
    names = data.draw(st.lists(st.sampled_from((*DZ_FIELDS, "filename")), unique=True,
                               min_size=1))  # fmt: skip
    query = {name: data.draw(st.one_of(nasty, st.integers(0, 400_000).map(str))) for name in names}
    if "dzuuid" in query and data.draw(st.booleans()):
        query["dzuuid"] = target.known.dz_unfinished
    send(target, "POST", "/upload", cookie=data.draw(st.booleans()), params=query,
         content=data.draw(bodies), headers=data.draw(headers(("Content-Type",))))  # fmt: skip


def holds_open(wait: str) -> bool:
    """Whether `?wait=` would hold the answer for an unfinished upload (the test avoids those)."""
    try:
        return wait.strip().isdigit() and int(wait) > 0
    except ValueError:
        return False


@given(which=st.sampled_from(["complete", "unfinished", "other"]), upload_id=nasty, wait=nasty,
       sent=headers())  # fmt: skip
@example(which="complete", upload_id="", wait="²", sent={})  # a digit to isdigit(), not to int()
@SETTINGS
def test_upload_status(
    target: Target, which: str, upload_id: str, wait: str, sent: dict[str, bytes]
) -> None:
    """Asked by the owner (the cookie that made the known uploads) unless the id is random."""
    if which == "complete":
        upload_id = target.known.dz_complete
    elif which == "unfinished":
        upload_id = target.known.dz_unfinished
        wait = "0" if holds_open(wait) else wait
    send(target, "GET", "/upload/" + segment(upload_id), params={"wait": wait},
         cookie=which != "other", headers=sent)  # fmt: skip


@given(data=st.data())
@SETTINGS
def test_tus(target: Target, data: st.DataObject) -> None:
    method = data.draw(st.sampled_from(["OPTIONS", "POST", "HEAD", "PATCH", "DELETE", "GET"]))
    which = data.draw(st.sampled_from(["", target.known.tus_complete,
                                       target.known.tus_unfinished, "other"]))  # fmt: skip
    path = "/files/" + (segment(data.draw(nasty)) if which == "other" else which)
    body = data.draw(bodies) if method in ("POST", "PATCH") else None
    send(target, method, path, cookie=False, content=body,
         headers=data.draw(headers(TUS_HEADERS)))  # fmt: skip


@given(data=st.data())
@SETTINGS
def test_downloads(target: Target, data: st.DataObject) -> None:
    token = data.draw(st.one_of(st.just(target.known.token), nasty))
    method = data.draw(st.sampled_from(["GET", "HEAD"]))
    sent = data.draw(headers(("Range", "If-Range")))
    send(
        target, method, "/download/" + segment(token), cookie=data.draw(st.booleans()), headers=sent
    )
