"""Several server processes on one database and one storage folder behave as one server.

Each test starts two `pyfiledrop serve` processes on the same folders (the `make_server` fixture
gives them the same temp root) and spreads one upload's requests over both.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
import time
from pathlib import Path

import httpx

from tests.conftest import Server, finished_files
from tests.dz import DzFile, start_chunk_and_stall
from tests.tus.helpers import TUS, half_patch, new_upload, offset_of, patch

CHUNK = 64 * 1024


def pair(make_server) -> tuple[Server, Server]:  # type: ignore[no-untyped-def]
    return make_server("-a"), make_server("-a")


def clients(a: Server, b: Server) -> tuple[httpx.Client, httpx.Client]:
    """One browser talking to both processes: the same owner cookie on each."""
    first, second = a.client(), b.client()
    first.get("/")
    second.cookies.set("pyfiledrop_client", first.cookies["pyfiledrop_client"])
    return first, second


def rows(server: Server) -> list[tuple[str, str]]:
    with sqlite3.connect(server.storage / "pyfiledrop.sqlite3") as db:
        return list(db.execute("SELECT client_id, state FROM uploads"))


def send_at_once(jobs: list[tuple[DzFile, httpx.Client, int]]) -> None:
    """Send each (file, client, chunk) in its own thread, released together."""
    start = threading.Barrier(len(jobs))
    replies: list[httpx.Response] = []

    def send(f: DzFile, client: httpx.Client, index: int) -> None:
        start.wait()
        replies.append(f.send_raw(client, index))

    threads = [threading.Thread(target=send, args=job) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [r.status_code for r in replies] == [200] * len(jobs), [r.text for r in replies]


def alternate_then_last_at_once(count: int, ca: httpx.Client, cb: httpx.Client) -> list[DzFile]:
    """`count` files whose chunks alternate between two processes, the last two of every file
    sent at once, one to each process."""
    files = [DzFile(os.urandom(6 * CHUNK + n), CHUNK, name=f"f{n}.bin") for n in range(count)]
    for f in files:
        for index in range(f.count - 2):
            reply = f.send_raw(ca if index % 2 else cb, index)
            assert reply.status_code == 200, reply.text
    send_at_once([(f, c, f.count - 1 - i) for f in files for i, c in enumerate((ca, cb))])
    return files


def test_alternate_chunks_and_concurrent_last_chunks_complete_once(make_server) -> None:  # type: ignore[no-untyped-def]
    a, b = pair(make_server)
    ca, cb = clients(a, b)
    files = alternate_then_last_at_once(8, ca, cb)
    for f in files:
        status = f.wait_complete(ca)
        assert status["state"] == "complete" and status["sha256"] == f.sha256, status
        assert f.wait_complete(cb)["sha256"] == f.sha256, "the other process sees it complete"
        link = str(status["download_url"])
        for client in (ca, cb):  # a download works from either process
            assert client.get(link.replace(str(a.port), str(client.base_url.port))).content == (
                f.data
            )
    assert sorted(rows(a)) == sorted((f.uuid, "complete") for f in files)
    assert list(a.chunks.iterdir()) == [], "no partial file is left behind"
    assert len(finished_files(a.storage)) == len(files)


def test_a_status_wait_on_one_process_sees_the_other_finish(make_server) -> None:  # type: ignore[no-untyped-def]
    a, b = pair(make_server)
    ca, cb = clients(a, b)
    f = DzFile(os.urandom(3 * CHUNK), CHUNK)
    f.send_all(ca, [0, 1], raw=True)
    waiting: list[dict[str, object]] = []
    waiter = threading.Thread(
        target=lambda: waiting.append(cb.get(f"/upload/{f.uuid}", params={"wait": 20}).json())
    )
    started = time.monotonic()
    waiter.start()
    time.sleep(0.3)
    f.send_all(ca, [2], raw=True)
    waiter.join()
    assert waiting[0]["state"] == "complete"
    assert time.monotonic() - started < 5, "completion elsewhere must end the wait promptly"


def claimed(server: Server, name: str) -> bool:
    with sqlite3.connect(server.storage / "pyfiledrop.sqlite3") as db:
        return db.execute("SELECT 1 FROM claims WHERE name = ?", (name,)).fetchone() is not None


def test_one_tus_writer_across_processes(make_server) -> None:  # type: ignore[no-untyped-def]
    a, b = pair(make_server)
    data = os.urandom(3 * CHUNK)
    with a.client() as ta, b.client() as tb:
        url = new_upload(ta, len(data))
        url_b = url.replace(str(a.port), str(b.port))
        stalled = half_patch(a, url, 0, data, sent=CHUNK)
        deadline = time.monotonic() + 10
        while not claimed(a, "stream:" + url.rsplit("/", 1)[1]):
            assert time.monotonic() < deadline, "process A never took the upload"
            time.sleep(0.02)
        locked = patch(tb, url_b, 0, data)
        assert locked.status_code == 423, (locked.status_code, locked.text)
        assert tb.delete(url_b, headers=TUS).status_code == 423, "no terminate while writing"
        stalled.close()  # A keeps the bytes it stored and lets go
        deadline = time.monotonic() + 10
        while True:
            offset = offset_of(tb, url_b)
            reply = patch(tb, url_b, offset, data[offset:])
            if reply.status_code == 204:
                break
            # 423 while A lets go, 409 when A saved its bytes after our HEAD: look again
            assert reply.status_code in (409, 423) and time.monotonic() < deadline, reply.text
            time.sleep(0.05)
        assert ta.get(url, headers=TUS).content == data


def test_a_killed_process_upload_is_finished_through_the_other(make_server) -> None:  # type: ignore[no-untyped-def]
    a, b = pair(make_server)
    ca, cb = clients(a, b)
    f = DzFile(os.urandom(5 * CHUNK + 7), CHUNK)
    f.send_all(ca, [0, 1], raw=True)
    stalled = start_chunk_and_stall(a, f, 2, ca.cookies["pyfiledrop_client"], sent=CHUNK // 2)
    time.sleep(0.3)
    a.kill()
    stalled.close()
    started = time.monotonic()
    f.send_all(cb, [2, 3, 4, 5], raw=True)  # chunk 2 was claimed by the dead process
    assert time.monotonic() - started < 5, "a dead process's claim must not hold the chunk"
    status = f.wait_complete(cb)
    assert status["sha256"] == f.sha256
    assert cb.get(str(status["download_url"])).content == f.data


def children(server: Server) -> list[int]:
    assert server.proc is not None
    found = Path(f"/proc/{server.proc.pid}/task/{server.proc.pid}/children").read_text()
    return [int(pid) for pid in found.split()]


def test_workers_share_one_port_and_a_killed_worker_is_replaced(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server("-a", "--workers", "2")
    workers = children(server)
    assert len(workers) == 2
    with server.client() as client:
        client.get("/")
        files = [DzFile(os.urandom(4 * CHUNK + n), CHUNK) for n in range(6)]
        send_at_once([(f, client, i) for f in files for i in range(f.count)])
        for f in files:
            assert f.wait_complete(client)["sha256"] == f.sha256
        os.kill(workers[0], signal.SIGKILL)
        deadline = time.monotonic() + 10
        while len(children(server)) < 2 or workers[0] in children(server):
            assert time.monotonic() < deadline, "the killed worker was not replaced"
            time.sleep(0.05)
        again = DzFile(os.urandom(3 * CHUNK), CHUNK)
        send_at_once([(again, client, i) for i in range(again.count)])
        assert again.wait_complete(client)["sha256"] == again.sha256
    last = children(server)
    server.stop()  # SIGTERM: the workers stop with their parent
    assert server.proc is not None and server.proc.returncode == 0
    assert not [pid for pid in last if Path(f"/proc/{pid}").exists()]
