"""Hooks: every upload event POSTed, signed, to each `--hook-url`; retried with backoff; a slow or
dead receiver never slows an upload down, and what it cannot take is dropped with a log line."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import free_port
from tests.dz import DzFile
from tests.logged import LoggedServer, logged_servers  # noqa: F401  (fixture)
from tests.tus.helpers import TUS, metadata, new_upload, patch

SECRET = "s3cret-for-hooks"
README = Path(__file__).parent.parent / "README.md"


def readme_verify() -> Callable[[bytes, bytes, str], dict[str, Any]]:
    """The signature check the README's Hooks section gives receivers, as written there."""
    section = README.read_text().split("\n## Hooks\n")[1]
    code = section.split("```python\n")[1].split("```")[0]
    found: dict[str, Any] = {}
    exec(code, found)
    return found["verify"]  # type: ignore[no-any-return]


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    at: float

    @property
    def json(self) -> dict[str, Any]:
        found: dict[str, Any] = json.loads(self.body)
        return found


@dataclass
class Receiver:
    """A hook receiver on 127.0.0.1 that checks the signature with the README's code: 401 when
    it is wrong or old; `failures` more answers of 503 first; `hold` makes it hang until
    released."""

    secret: str | None = SECRET
    failures: int = 0
    hold: bool = False
    refuse: str | None = None  # names ending in this are refused: 403 with a JSON message
    got: list[Received] = field(default_factory=list)
    released: threading.Event = field(default_factory=threading.Event)

    def start(self) -> Receiver:
        receiver = self
        verify = readme_verify()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802  (the name http.server calls)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.got.append(Received(dict(self.headers), body, time.monotonic()))
                if receiver.hold:
                    receiver.released.wait(30)
                if receiver.secret is not None:
                    given = self.headers.get("X-Pyfiledrop-Signature", "")
                    try:
                        verify(receiver.secret.encode(), body, given)
                    except ValueError:
                        self.send_response(401)
                        self.end_headers()
                        return
                name = json.loads(body)["upload"].get("name") or ""
                if receiver.refuse and name.endswith(receiver.refuse):
                    answer = json.dumps({"message": f"No {receiver.refuse} files, please."})
                    self.send_response(403)
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer.encode())
                    return
                if receiver.failures > 0:
                    receiver.failures -= 1
                    self.send_response(503)
                    self.end_headers()
                    return
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.http.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}/hooks/pyfiledrop"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.released.set()
        self.http.shutdown()
        self.http.server_close()

    def events(self) -> list[str]:
        return [received.json["event"] for received in self.got]

    def wait_for(self, count: int, seconds: float = 10) -> list[Received]:
        deadline = time.monotonic() + seconds
        while len(self.got) < count:
            assert time.monotonic() < deadline, f"{len(self.got)} hooks of {count}: {self.events()}"
            time.sleep(0.02)
        return self.got


@pytest.fixture
def receivers() -> Iterator[type[Receiver]]:
    started: list[Receiver] = []

    def make(**options: Any) -> Receiver:
        receiver = Receiver(**options).start()
        started.append(receiver)
        return receiver

    yield make  # type: ignore[misc]
    for receiver in started:
        receiver.stop()


def test_each_event_is_posted_signed_to_every_hook_url(
    logged: type[LoggedServer], receivers: type[Receiver], tmp_path: Path
) -> None:
    first, second = receivers(), receivers()
    (tmp_path / "secret").write_text(SECRET + "\n")
    server = logged(
        "-a", "--public-url", "https://files.example.org", "--hook-url", first.url,
        "--hook-url", second.url, "--hook-secret-file", str(tmp_path / "secret"),
    )  # fmt: skip
    f = DzFile(os.urandom(300_000), 100_000, name="plans.pdf")
    with server.client() as client:
        f.send_all(client)
        link = str(f.wait_complete(client)["download_url"])
        public = new_upload(client, 5000, Upload_Metadata=metadata(filename="tus.bin"))
        url = public.replace("https://files.example.org", server.url)
        assert patch(client, url, 0, b"t" * 5000).status_code == 204
        first.wait_for(4)
        assert client.delete(url, headers=TUS).status_code == 204
    expected = ["upload-created", "upload-completed"] * 2 + ["upload-deleted"]
    for receiver in (first, second):
        receiver.wait_for(5)
        assert receiver.events() == expected
    server.stop()
    assert "hook attempt failed" not in server.text(), "every signature was right"

    created, completed = (received.json for received in first.got[:2])
    assert created["upload"]["id"] == completed["upload"]["id"]
    assert created["upload"]["name"] == "plans.pdf" and created["upload"]["size"] == 300_000
    assert created["upload"]["client"] == "127.0.0.1"
    upload_fields = completed["upload"]
    assert upload_fields["sha256"] == f.sha256 and upload_fields["state"] == "complete"
    assert upload_fields["link"] == link.replace(server.url, "https://files.example.org")
    assert len(upload_fields["owner"]) == 64, "the owner id (a digest), never the cookie"
    assert abs(completed["time"] - time.time()) < 60
    headers = first.got[1].headers
    assert headers["X-Pyfiledrop-Event"] == "upload-completed"
    assert headers["X-Pyfiledrop-Delivery"] == completed["delivery"]
    assert headers["Content-Type"] == "application/json"
    assert first.got[1].body == second.got[1].body, "one body, signed once, for every URL"
    deleted = first.got[4].json["upload"]
    assert deleted["name"] == "tus.bin" and deleted["freed_bytes"] == 5000


def test_a_failing_receiver_gets_the_same_delivery_again_after_a_growing_wait(
    logged: type[LoggedServer], receivers: type[Receiver]
) -> None:
    flaky = receivers(failures=2)
    server = logged("--hook-url", flaky.url, "--hook-secret", SECRET)
    with server.client() as client:
        assert client.post("/upload", params={"filename": "a.txt"}, content=b"a").status_code == 200
    attempts = flaky.wait_for(4)  # created: 503, 503, 204; then completed: 204
    server.stop()
    created = attempts[:3]
    assert {a.json["delivery"] for a in created} == {created[0].json["delivery"]}
    assert [a.json["event"] for a in attempts] == ["upload-created"] * 3 + ["upload-completed"]
    assert created[1].at - created[0].at >= 0.45 and created[2].at - created[1].at >= 0.95
    log = server.text()
    assert log.count("hook attempt failed") == 2 and "outcome=503" in log
    assert "hook delivered" in log and "attempt=3" in log


def test_a_dead_receiver_drops_what_its_queue_cannot_hold_and_slows_no_upload(
    logged: type[LoggedServer], receivers: type[Receiver]
) -> None:
    dead = f"http://127.0.0.1:{free_port()}/gone"
    live = receivers()
    server = logged("--hook-url", dead, "--hook-url", live.url, "--hook-secret", SECRET,
                    "--hook-queue", "2")  # fmt: skip
    with server.client() as client:
        for n in range(4):
            started = time.monotonic()
            reply = client.post("/upload", params={"filename": f"{n}.txt"}, content=b"x" * 1000)
            assert reply.status_code == 200 and reply.json()["state"] == "complete"
            assert time.monotonic() - started < 5, "retries take 15 s: the upload waits on none"
            # the live queue holds 2 too: drain it before the next upload, so only the dead fills
            assert len(live.wait_for(2 * (n + 1))) == 2 * (n + 1), "each URL has its own queue"
    server.stop()
    log = server.text()
    assert log.count("hook dropped: queue full") >= 4, "8 events, 2 queued, 1 being retried"
    dropped = [line for line in log.splitlines() if "hook dropped" in line]
    assert all(f"url={dead} " in line for line in dropped), "only the dead URL's queue drops"
    assert f"url={dead} " in log and "queued=2" in log


def test_a_receiver_that_hangs_slows_neither_uploads_nor_the_shutdown(
    logged: type[LoggedServer], receivers: type[Receiver]
) -> None:
    hanging = receivers(hold=True)
    server = logged("--hook-url", hanging.url, "--hook-queue", "1", "--hook-secret", SECRET)
    f = DzFile(os.urandom(200_000), 100_000)
    with server.client() as client:
        started = time.monotonic()
        f.send_all(client)
        assert f.wait_complete(client)["state"] == "complete"
        with httpx.Client(base_url=server.url) as other:
            assert other.post("/upload", params={"filename": "b"}, content=b"b").status_code == 200
        assert time.monotonic() - started < 5
    hanging.wait_for(1)
    assert server.proc is not None
    stopping = time.monotonic()
    server.stop()
    assert server.proc.returncode is not None and time.monotonic() - stopping < 9
    log = server.text()
    assert "hook dropped: queue full" in log
    assert "hooks not delivered at shutdown" in log


def test_the_readmes_check_refuses_a_wrong_or_replayed_signature() -> None:
    verify = readme_verify()
    body = json.dumps({"event": "upload-created", "time": time.time()}).encode()
    good = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert verify(SECRET.encode(), body, good)["event"] == "upload-created"
    with pytest.raises(ValueError, match="wrong signature"):
        verify(b"another secret", body, good)
    old = json.dumps({"event": "upload-created", "time": time.time() - 3600}).encode()
    signed = "sha256=" + hmac.new(SECRET.encode(), old, hashlib.sha256).hexdigest()
    with pytest.raises(ValueError, match="too old"):
        verify(SECRET.encode(), old, signed)


def test_with_workers_each_process_logs_and_sends_its_own_events(
    logged: type[LoggedServer], receivers: type[Receiver]
) -> None:
    receiver = receivers()
    server = logged("--workers", "2", "--log-format", "json", "--hook-url", receiver.url,
                    "--hook-secret", SECRET)  # fmt: skip
    with server.client() as client:
        for n in range(4):
            assert (
                client.post("/upload", params={"filename": f"{n}"}, content=b"w").status_code == 200
            )
    receiver.wait_for(8)
    server.stop()
    assert sorted(receiver.events()) == ["upload-completed"] * 4 + ["upload-created"] * 4
    assert len({r.json["delivery"] for r in receiver.got}) == 8, "each event sent once"
    started = server.find("server started")
    assert len({record["pid"] for record in started}) == 2, "one start line per worker"
    delivered = server.find("hook delivered")
    assert len(delivered) == 8


def uploads_recorded(server: LoggedServer) -> int:
    with sqlite3.connect(server.storage / "pyfiledrop.sqlite3") as db:
        return int(db.execute("SELECT count(*) FROM uploads").fetchone()[0])


def test_with_may_refuse_the_receiver_decides_before_anything_is_stored(
    logged: type[LoggedServer], receivers: type[Receiver]
) -> None:
    judge = receivers(refuse=".exe")
    server = logged("--hook-url", judge.url, "--hook-secret", SECRET, "--hook-may-refuse", "-a")
    with server.client() as client:
        chunk = DzFile(os.urandom(200_000), 100_000, name="setup.exe").send(client, 0)
        assert chunk.status_code == 403
        assert chunk.json() == {"error": "No .exe files, please.", "code": "refused"}
        plain = client.post("/upload", params={"filename": "b.exe"}, content=b"MZ")
        assert plain.status_code == 403
        tus = client.post(
            "/files/",
            headers={**TUS, "Upload-Length": "2", "Upload-Metadata": metadata(filename="c.exe")},
        )
        assert tus.status_code == 403 and tus.text == "No .exe files, please."
        assert uploads_recorded(server) == 0 and list(server.chunks.iterdir()) == []

        fine = DzFile(os.urandom(200_000), 100_000, name="notes.txt")
        fine.send_all(client)
        assert fine.wait_complete(client)["state"] == "complete"
    judge.wait_for(5)
    server.stop()
    assert judge.events() == ["upload-created"] * 4 + ["upload-completed"], "created once each"
    log = server.text()
    assert log.count("hook refused the upload") == 3 and "hook admitted the upload" in log


def test_with_may_refuse_no_answer_refuses_for_now(logged: type[LoggedServer]) -> None:
    dead = f"http://127.0.0.1:{free_port()}/gone"
    server = logged("--hook-url", dead, "--hook-may-refuse")
    with server.client() as client:
        reply = client.post("/upload", params={"filename": "a.txt"}, content=b"a")
        assert reply.status_code == 503 and reply.json()["code"] == "hook_unavailable"
    assert uploads_recorded(server) == 0
