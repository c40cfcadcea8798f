"""Two server processes on one PostgreSQL database and one storage folder behave as one server.

The same kind of upload as tests/test_processes.py, with `--database postgresql://...`: its chunks
alternate between the processes, its last chunks reach both at once, and it completes once; and
a chunk claimed by a process that is killed is free at once for the other.
"""

from __future__ import annotations

import os
import time

import psycopg

from tests.conftest import finished_files
from tests.dz import DzFile, start_chunk_and_stall
from tests.test_processes import CHUNK, alternate_then_last_at_once, clients


def test_alternate_chunks_through_two_processes_on_postgresql_complete_once(
    pg_url: str,
    make_server,  # type: ignore[no-untyped-def]
) -> None:
    """(`pg_url` first: the servers stop before their database is dropped.)"""
    a, b = (make_server("-a", "--database", pg_url) for _ in range(2))
    ca, cb = clients(a, b)
    files = alternate_then_last_at_once(3, ca, cb)
    for f in files:
        status = f.wait_complete(cb)
        assert status["state"] == "complete" and status["sha256"] == f.sha256, status
        assert f.wait_complete(ca)["sha256"] == f.sha256, "the other process sees it complete"
        link = str(status["download_url"]).replace(str(b.port), str(a.port))
        assert ca.get(link).content == f.data, "a download works from either process"
    with psycopg.connect(pg_url) as db:
        rows = db.execute("SELECT client_id, state, received FROM uploads").fetchall()
        instances = db.execute("SELECT count(*) FROM instances").fetchone()
    assert sorted(rows) == sorted((f.uuid, "complete", f.count) for f in files)
    assert instances == (2,), "both processes beat in the shared database"
    assert not (a.storage / "pyfiledrop.sqlite3").exists(), "no SQLite file beside PostgreSQL"
    assert list(a.chunks.iterdir()) == [] and len(finished_files(a.storage)) == 3


def test_a_killed_process_chunk_claim_in_postgresql_is_free_for_the_other(
    pg_url: str,
    make_server,  # type: ignore[no-untyped-def]
) -> None:
    a, b = (make_server("-a", "--database", pg_url) for _ in range(2))
    ca, cb = clients(a, b)
    f = DzFile(os.urandom(4 * CHUNK + 7), CHUNK)
    f.send_all(ca, [0, 1], raw=True)
    stalled = start_chunk_and_stall(a, f, 2, ca.cookies["pyfiledrop_client"], sent=CHUNK // 2)
    deadline = time.monotonic() + 10
    while not claimed(pg_url, "chunk:%:2"):
        assert time.monotonic() < deadline, "process A never claimed chunk 2"
        time.sleep(0.02)
    a.kill()
    stalled.close()
    started = time.monotonic()
    f.send_all(cb, [2, 3, 4], raw=True)  # chunk 2's claim is the dead process's
    assert time.monotonic() - started < 5, "a dead process's claim must not hold the chunk"
    status = f.wait_complete(cb)
    assert status["sha256"] == f.sha256
    assert cb.get(str(status["download_url"])).content == f.data


def claimed(url: str, pattern: str) -> bool:
    with psycopg.connect(url) as db:
        found = db.execute("SELECT 1 FROM claims WHERE name LIKE %s", (pattern,)).fetchone()
    return found is not None
