"""The operator's commands `pyfiledrop ls`, `rm` and `gc`, through the real command line, on both
back ends: SQLite + local disk, and PostgreSQL + S3 (SeaweedFS). The data is made by a real
server; `ls` and `rm` run while it serves. `gc` tests stop it first: its own clean-up pass every
10 s would race the command for the same removals (that both take one claim is tested with a
claim held by another instance). Expiry and idleness are made by moving the records' times back
in the database, not by waiting.
"""

from __future__ import annotations

import calendar
import json
import os
import sqlite3
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from click.testing import CliRunner, Result

from pyfiledrop import manage
from pyfiledrop.cli import main
from pyfiledrop.core.model import content_key
from tests.conftest import Server
from tests.dz import DzFile
from tests.s3.conftest import FLAGS, ensure_bucket
from tests.seaweed import SeaweedFS
from tests.test_cli import pyfiledrop

CHUNK = 4096
DAY = 86400.0


@dataclass
class Deployment:
    """A server's back ends: the flags `serve` and the commands share, and looks into its
    database and its storage that do not go through pyfiledrop."""

    root: Path
    flags: tuple[str, ...]  # for serve, ls, rm, gc
    s3_flags: tuple[str, ...] = ()  # for serve, rm, gc
    pg_url: str | None = None
    store: SeaweedFS | None = None
    bucket: str = ""
    prefix: str = ""

    def server(self) -> Server:
        server = Server(self.root, *FLAGS, *self.flags, *self.s3_flags)
        return server.start()

    def cli(self, command: str, *args: str) -> Result:
        extra = self.s3_flags if command in ("rm", "gc") else ()
        return CliRunner().invoke(main, [command, *self.flags, *extra, *args])

    def sql(self, statement: str, *values: Any) -> list[tuple[Any, ...]]:
        if self.pg_url:
            with psycopg.connect(self.pg_url) as db:
                cursor = db.execute(statement.replace("?", "%s").encode(), values)
                return cursor.fetchall() if cursor.description else []
        with sqlite3.connect(self.root / "storage" / "pyfiledrop.sqlite3") as db:
            return db.execute(statement, values).fetchall()

    def records(self) -> list[tuple[Any, ...]]:
        """Every upload's row and every received chunk, as the database has them."""
        return self.sql("SELECT * FROM uploads ORDER BY id") + self.sql(
            "SELECT * FROM chunks ORDER BY upload_id, idx"
        )

    def stored(self) -> set[str]:
        """Every file (local) or object and unfinished multipart upload (S3) of the storage."""
        found = {
            str(path.relative_to(self.root))
            for folder in ("storage", "chunks")
            for path in (self.root / folder).rglob("*")
            if path.is_file() and "pyfiledrop.sqlite3" not in path.name
        }
        if self.store:
            client = self.store.client()
            listed = client.list_objects_v2(Bucket=self.bucket, Prefix=self.prefix)
            found |= {o["Key"] for o in listed.get("Contents", [])}
            parts = client.list_multipart_uploads(Bucket=self.bucket, Prefix=self.prefix)
            found |= {f"multipart {u['Key']}" for u in parts.get("Uploads", [])}
        return found

    def link(self, server: Server, f: DzFile) -> str:
        """`f`'s download link (the status call that tells it answers only its uploader)."""
        ((token,),) = self.sql("SELECT download_token FROM uploads WHERE client_id = ?", f.uuid)
        return f"{server.url}/download/{token}"

    def id_of(self, f: DzFile) -> str:
        ((upload_id,),) = self.sql("SELECT id FROM uploads WHERE client_id = ?", f.uuid)
        return str(upload_id)


@pytest.fixture(params=["sqlite+local", "postgresql+s3"])
def deployment(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Deployment]:
    root = tmp_path / "server"
    root.mkdir()
    storage, chunks = ("-s", str(root / "storage")), ("-c", str(root / "chunks"))
    if request.param == "sqlite+local":
        yield Deployment(root, (*storage, *chunks))
        return
    url: str = request.getfixturevalue("pg_url")
    store: SeaweedFS = request.getfixturevalue("seaweed")
    bucket, prefix = ensure_bucket(store, "manage"), uuid.uuid4().hex[:8]
    (root / "chunks").mkdir()
    yield Deployment(
        root, (*chunks, "--storage", f"s3://{bucket}/{prefix}", "--database", url),
        ("--s3-endpoint", store.endpoint), url, store, bucket, prefix,
    )  # fmt: skip


def sent(
    server: Server, name: str, data: bytes, chunks: int | None = None, chunk_size: int = CHUNK
) -> DzFile:
    """A file uploaded through the Dropzone protocol: all of it, or its first `chunks` chunks."""
    f = DzFile(data, chunk_size, name=name)
    with server.client() as client:
        f.send_all(client, list(range(f.count if chunks is None else chunks)), raw=True)
        if chunks is None:
            assert f.wait_complete(client)["state"] == "complete"
    return f


def table(result: Result) -> dict[str, list[str]]:
    """`ls`'s rows by upload id (the columns split on runs of two spaces)."""
    assert result.exit_code == 0, result.output
    header, *rows = result.stdout.splitlines()
    assert header.split() == list(manage.COLUMNS)
    return {row.split()[0]: [c.strip() for c in row.split("  ") if c.strip()] for row in rows}


# --- ls -------------------------------------------------------------------------------------------


def test_ls_lists_every_upload_filtered_while_the_server_runs(deployment: Deployment) -> None:
    server = deployment.server()
    try:
        report = sent(server, "report 100%.pdf", os.urandom(10_000))
        film = sent(server, "Holiday_film.mp4", os.urandom(3 * 2**20 + 5), chunk_size=2**20)
        half = sent(server, "half.iso", os.urandom(3 * CHUNK), chunks=1)
        ids = {f.name: deployment.id_of(f) for f in (report, film, half)}

        rows = table(deployment.cli("ls"))
        assert list(rows) == [ids["report 100%.pdf"], ids["Holiday_film.mp4"], ids["half.iso"]]
        done = rows[ids["Holiday_film.mp4"]]
        assert done[1:3] == ["complete", "3 MiB"], "state, then a human size"
        assert done[-2:] == [film.sha256[:12], "Holiday_film.mp4"]
        assert len(done[-3]) == 12, "the owner's first 12 hex digits"
        assert rows[ids["half.iso"]][1:3] == ["receiving", "12 KiB"]
        assert rows[ids["half.iso"]][-2:] == ["-", "half.iso"], "no hash before it is complete"
        assert done[5] == "never", "kept for ever: the server has no --expire"

        assert list(table(deployment.cli("ls", "--state", "receiving"))) == [ids["half.iso"]]
        both = deployment.cli("ls", "--state", "receiving", "--state", "complete")
        assert len(table(both)) == 3
        assert list(table(deployment.cli("ls", "--name", "HOLIDAY"))) == [ids["Holiday_film.mp4"]]
        assert list(table(deployment.cli("ls", "--name", "0%"))) == [ids["report 100%.pdf"]]
        by_size = table(deployment.cli("ls", "--sort", "size", "--reverse"))
        assert list(by_size) == [ids["Holiday_film.mp4"], ids["half.iso"], ids["report 100%.pdf"]]
        assert len(table(deployment.cli("ls", "--newer-than", "1h"))) == 3
        none = deployment.cli("ls", "--older-than", "1h")
        assert none.exit_code == 0 and none.stdout == "" and "no uploads" in none.stderr

        listed = deployment.cli("ls", "--json", "--state", "complete", "--reverse")
        assert listed.exit_code == 0, listed.output
        records = json.loads(listed.stdout)
        assert [r["id"] for r in records] == [ids["Holiday_film.mp4"], ids["report 100%.pdf"]]
        assert len(listed.stdout.splitlines()) == 4, "one upload per line, inside one array"
        first = records[0]
        assert (first["name"], first["size"], first["state"]) == (
            "Holiday_film.mp4", len(film.data), "complete"
        )  # fmt: skip
        assert first["sha256"] == film.sha256 and len(first["owner"]) == 64
        assert first["account"] is None and first["address"] == "127.0.0.1"
        created = calendar.timegm(time.strptime(first["created_at"], "%Y-%m-%dT%H:%M:%SZ"))
        assert abs(time.time() - created) < 120, "ISO 8601 in UTC"
        assert first["expires_at"] is None and "download_token" not in first, "no secrets"
        assert json.loads(deployment.cli("ls", "--json", "--name", "nowhere").stdout) == []
    finally:
        server.stop()


def test_ls_escapes_control_characters_in_old_records(tmp_path: Path) -> None:
    """The server keeps control characters out of new names; a record from elsewhere may have
    them, and must not drive the operator's terminal."""
    deployment = Deployment(tmp_path, ("-s", str(tmp_path / "storage"), "-c", str(tmp_path / "c")))
    server = deployment.server()
    try:
        f = sent(server, "plain.txt", b"x" * 100)
    finally:
        server.stop()
    deployment.sql("UPDATE uploads SET filename = ?", "red\x1b[31m\nnext\u202eline")
    result = deployment.cli("ls")
    assert result.exit_code == 0 and "\x1b" not in result.stdout and "\u202e" not in result.stdout
    assert result.stdout.splitlines()[1].endswith("red\\x1b[31m\\nnext\\u202eline")
    assert json.loads(deployment.cli("ls", "--json").stdout)[0]["name"].startswith("red\x1b")
    assert deployment.id_of(f) in result.stdout


def test_ls_names_a_database_that_is_not_there(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["ls", "-s", str(tmp_path / "typo")])
    assert result.exit_code == 2
    assert "no database at" in result.output and "--database" in result.output
    assert not (tmp_path / "typo").exists(), "a listing creates nothing"


# --- rm -------------------------------------------------------------------------------------------


def test_rm_removes_records_and_bytes_and_names_unknown_ids(deployment: Deployment) -> None:
    server = deployment.server()
    try:
        gone = sent(server, "gone.bin", os.urandom(3 * CHUNK + 1))
        kept = sent(server, "kept.bin", os.urandom(2 * CHUNK))
        half = sent(server, "half.bin", os.urandom(3 * CHUNK), chunks=2)
        gone_id, kept_id, half_id = map(deployment.id_of, (gone, kept, half))
        ((key,),) = deployment.sql("SELECT storage_key FROM uploads WHERE id = ?", gone_id)
        before = deployment.stored()
        assert any(key in entry for entry in before) and any(half_id in e for e in before)
        link = deployment.link(server, gone)
        assert httpx.get(link).content == gone.data

        result = deployment.cli("rm", gone_id, "0" * 32, half_id)
        assert result.exit_code == 1, result.output
        assert f"{'0' * 32}: no upload has this id" in result.stderr
        assert result.stdout.splitlines() == [
            f"removed {gone_id}  12 KiB  gone.bin", f"removed {half_id}  12 KiB  half.bin"
        ]  # fmt: skip

        assert httpx.get(link).status_code == 404
        assert list(table(deployment.cli("ls"))) == [kept_id]
        states = dict(deployment.sql("SELECT id, state FROM uploads WHERE id <> ?", kept_id))
        assert states == {gone_id: "deleted", half_id: "deleted"}, "kept a while for late chunks"
        assert set(table(deployment.cli("ls", "--state", "deleted"))) == {gone_id, half_id}
        after = deployment.stored()
        assert after == {e for e in before if key not in e and half_id not in e}, (
            "the file and the partial data are gone, nothing else"
        )
        assert httpx.get(deployment.link(server, kept)).content == kept.data
    finally:
        server.stop()


def test_rm_in_its_own_process_while_the_server_serves(tmp_path: Path) -> None:
    deployment = Deployment(tmp_path, ("-s", str(tmp_path / "storage"), "-c", str(tmp_path / "c")))
    server = deployment.server()
    try:
        f = sent(server, "a.bin", b"a" * 5000)
        upload_id = deployment.id_of(f)
        done = pyfiledrop("rm", *deployment.flags, upload_id)
        assert done.returncode == 0, done.stderr
        assert done.stdout == f"removed {upload_id}  4.88 KiB  a.bin\n"
        again = pyfiledrop("rm", *deployment.flags, upload_id)
        assert again.returncode == 1 and f"{upload_id}: no upload has this id" in again.stderr
        with server.client() as client:
            assert client.get(f"/upload/{f.uuid}").status_code == 404, "the server sees it gone"
            assert sent(server, "b.bin", b"b" * 5000), "and keeps serving"
        assert not (tmp_path / "storage" / "files" / content_key(f.sha256)).exists()
    finally:
        server.stop()


# --- gc -------------------------------------------------------------------------------------------


def leftovers(deployment: Deployment) -> dict[str, str]:
    """A server's data with one upload of each kind for the clean-up, made so by moving times
    back: expired, abandoned (idle 8 days), an orphan (partial data whose record is gone), and
    one to keep. The server is stopped. Returns their ids by kind."""
    server = deployment.server()
    try:
        expired = sent(server, "old.bin", os.urandom(2 * CHUNK + 10))
        kept = sent(server, "new.bin", os.urandom(CHUNK))
        idle = sent(server, "idle.bin", os.urandom(3 * CHUNK), chunks=2)
        orphan = sent(server, "orphan.bin", os.urandom(3 * CHUNK), chunks=1)
    finally:
        server.stop()
    made = {"expired": expired, "kept": kept, "abandoned": idle, "orphan": orphan}
    ids = {kind: deployment.id_of(f) for kind, f in made.items()}
    now = time.time()
    deployment.sql("UPDATE uploads SET expires_at = ? WHERE id = ?", now - 60, ids["expired"])
    deployment.sql("UPDATE uploads SET expires_at = ? WHERE id = ?", now + DAY, ids["kept"])
    deployment.sql(
        "UPDATE uploads SET updated_at = ? WHERE id = ?", now - 8 * DAY, ids["abandoned"]
    )
    deployment.sql("DELETE FROM uploads WHERE id = ?", ids["orphan"])
    return ids


def test_gc_dry_run_changes_nothing_and_gc_removes_what_it_said(deployment: Deployment) -> None:
    ids = leftovers(deployment)
    records, stored = deployment.records(), deployment.stored()
    assert any(ids["orphan"] in entry for entry in stored)
    expected = [
        ["expired", ids["expired"], "8.01", "KiB", "old.bin"],
        ["abandoned", ids["abandoned"], "8", "KiB", "idle.bin"],
        ["orphan", ids["orphan"], "?", "(no", "record)"],
    ]
    total = (
        "16 KiB (and orphans' partial data, of sizes not known): 1 expired, 1 abandoned, 1 orphaned"
    )

    dry = deployment.cli("gc", "--dry-run")
    assert dry.exit_code == 0, dry.output
    *each, last = dry.stdout.splitlines()
    assert [line.split() for line in each] == expected and last == f"would free {total}"
    assert deployment.records() == records and deployment.stored() == stored, "nothing changed"

    done = deployment.cli("gc")
    assert done.exit_code == 0, done.output
    *each, last = done.stdout.splitlines()
    assert [line.split() for line in each] == expected and last == f"freed {total}"
    states = dict(deployment.sql("SELECT id, state FROM uploads"))
    assert states == {ids["expired"]: "expired", ids["abandoned"]: "abandoned",
                      ids["kept"]: "complete"}  # fmt: skip
    ((freed, removed),) = deployment.sql(
        "SELECT freed_bytes, removed_at FROM uploads WHERE id = ?", ids["expired"]
    )
    assert freed == 2 * CHUNK + 10 and abs(removed - time.time()) < 60
    left = deployment.stored()
    files = {  # where the finished files were placed (local disk: their content's key)
        kind: deployment.sql("SELECT storage_key FROM uploads WHERE id = ?", ids[kind])[0][0]
        for kind in ("expired", "kept")
    }
    for kind in ("abandoned", "orphan"):
        assert not any(ids[kind] in entry for entry in left), f"the {kind} upload's bytes"
    assert not any(files["expired"] in entry for entry in left), "the expired upload's file"
    assert any(files["kept"] in entry for entry in left)
    again = deployment.cli("gc")
    assert again.stdout == "freed 0 B: 0 expired, 0 abandoned, 0 orphaned\n"


def test_gc_takes_the_servers_clean_up_claim(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While another process's pass holds the claim `cleanup`, gc waits, then gives up saying
    why and removes nothing; once the claim is free it makes its pass."""
    ids = leftovers(deployment)
    holder = "other-instance"
    deployment.sql(
        "INSERT INTO instances (id, host, pid, seen_at) VALUES (?, 'elsewhere', 1, ?)",
        holder, time.time() + 3600,
    )  # fmt: skip
    deployment.sql(
        "INSERT INTO claims (name, holder, instance, expires_at) VALUES ('cleanup', ?, ?, ?)",
        f"{holder}:0", holder, time.time() + 3600,
    )  # fmt: skip
    monkeypatch.setattr(manage, "CLAIM_WAIT", 1.0)
    records = deployment.records()
    refused = deployment.cli("gc")
    assert refused.exit_code == 1
    assert "another process held the clean-up claim" in refused.stderr
    assert deployment.records() == records, "nothing removed"
    assert deployment.sql("SELECT holder FROM claims WHERE name = 'cleanup'") == [(f"{holder}:0",)]

    deployment.sql("DELETE FROM claims WHERE name = 'cleanup'")
    done = deployment.cli("gc")
    assert done.exit_code == 0 and f"expired    {ids['expired']}" in done.stdout, done.output
    assert deployment.sql("SELECT count(*) FROM claims") == [(0,)], "gc released its claim"
    assert deployment.sql("SELECT id FROM instances") == [(holder,)], "and left"
