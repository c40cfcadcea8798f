"""Two server processes on one PostgreSQL database and one storage folder behave as one server.

The same kind of upload as tests/test_processes.py, with `--database postgresql://...`: its chunks
alternate between the processes, its last chunks reach both at once, and it completes once.
"""

from __future__ import annotations

import os

import psycopg

from tests.dz import DzFile
from tests.test_processes import CHUNK, clients, send_at_once


def test_alternate_chunks_through_two_processes_on_postgresql_complete_once(
    pg_url: str, make_server  # type: ignore[no-untyped-def]
) -> None:
    """(`pg_url` first: the servers stop before their database is dropped.)"""
    a, b = (make_server("-a", "--database", pg_url) for _ in range(2))
    ca, cb = clients(a, b)
    files = [DzFile(os.urandom(6 * CHUNK + n), CHUNK, name=f"f{n}.bin") for n in range(3)]
    for f in files:
        for index in range(f.count - 2):
            reply = f.send_raw(ca if index % 2 else cb, index)
            assert reply.status_code == 200, reply.text
    send_at_once([(f, c, f.count - 1 - i) for f in files for i, c in enumerate((ca, cb))])
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
    assert list(a.chunks.iterdir()) == [] and len(list((a.storage / "files").iterdir())) == 3
