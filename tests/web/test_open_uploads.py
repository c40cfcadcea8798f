"""Bounds on what a client may open: unfinished uploads per owner (--max-open-uploads), and a
declared size the disk cannot hold; both refused before anything is stored."""

from __future__ import annotations

import os
import shutil
import sqlite3

import httpx

from tests.conftest import Server
from tests.dz import DzFile
from tests.tus.helpers import TUS

KiB = 1024
MiB = 1024 * KiB


def recorded(server: Server) -> int:
    with sqlite3.connect(server.storage / "pyfiledrop.sqlite3") as db:
        return int(db.execute("SELECT count(*) FROM uploads").fetchone()[0])


def test_a_client_may_have_only_so_many_unfinished_uploads(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server("--max-open-uploads", "3")
    files = [DzFile(os.urandom(2 * KiB), KiB, name=f"{n}.bin") for n in range(5)]
    with server.client() as client:
        for f in files[:3]:
            assert f.send(client, 0).status_code == 200  # open: one chunk of two
        refused = files[3].send(client, 0)
        assert refused.status_code == 429
        assert refused.json()["code"] == "too_many_open_uploads"
        assert "3 unfinished uploads" in refused.json()["error"]
        tus = client.post("/files/", headers={**TUS, "Upload-Length": "10"})
        assert tus.status_code == 429
        assert recorded(server) == 3, "nothing was stored for the refused ones"
        assert files[0].send(client, 1).status_code == 200  # one finishes: a place is free
        assert files[0].wait_complete(client)["state"] == "complete"
        assert files[3].send(client, 0).status_code == 200
        assert files[1].send(client, 1).status_code == 200, "open uploads go on as before"
    with server.client() as other:  # the cap is per client
        assert files[4].send(other, 0).status_code == 200


def test_a_declared_size_above_the_free_space_is_507(make_server) -> None:  # type: ignore[no-untyped-def]
    probe = make_server()
    free = shutil.disk_usage(probe.storage).free
    probe.stop()
    too_big = free + 1024 * MiB
    server = make_server("--max-size", str(too_big // MiB + 1))
    with server.client() as client:
        chunk = DzFile(b"x" * KiB, KiB).send(client, 0, dztotalfilesize=too_big,
                                            dztotalchunkcount=too_big // KiB)  # fmt: skip
        assert chunk.status_code == 507, chunk.text
        assert chunk.json()["code"] == "storage_full"
        assert "storage is full" in chunk.json()["error"]
        tus = client.post("/files/", headers={**TUS, "Upload-Length": str(too_big)})
        assert tus.status_code == 507
        fits = client.post("/files/", headers={**TUS, "Upload-Length": str(MiB)})
        assert fits.status_code == 201
    assert recorded(server) == 1
    assert httpx.get(server.url + "/healthz").status_code == 200
