"""Migration 5 (files placed by content, stored once) on data of commit d2a9cf4, the one before it.

tests/meta/legacy/d2a9cf4.sql and d2a9cf4.postgresql.sql were written by that commit's own server
(`git archive d2a9cf4`, run on local storage, then with --database postgresql://): three finished
files, two of them the same bytes, and an unfinished chunked upload. Their files are made again
here as that server wrote them: `files/<upload id>` on disk or in the bucket, the partial file of
the unfinished upload under the chunks folder. Each file's bytes follow from its name.
"""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from pyfiledrop.core.model import content_key
from tests.conftest import Server, finished_files
from tests.meta.test_migrations import LEGACY
from tests.seaweed import SeaweedFS

COMMIT = "d2a9cf4"


def legacy_bytes(filename: str) -> bytes:
    """What the commit's server was sent for each file (the files' names say whose bytes)."""
    name = {"same.bin": "same", "same-again.bin": "same", "other.bin": "other"}.get(
        filename, "half"
    )
    return (f"pyfiledrop legacy file {name}\n" * 1000).encode()


def rows_of(cursor: Any) -> list[dict[str, Any]]:
    names = [c[0] for c in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def migrate(*args: str, cwd: Path) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-m", "pyfiledrop", "migrate", *args],
        capture_output=True, text=True, timeout=120, cwd=cwd,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def check_downloads(server: Server, finished: list[dict[str, Any]]) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        for row in finished:
            reply = client.get(f"/download/{row['download_token']}")
            assert reply.status_code == 200, reply.text
            assert reply.content == legacy_bytes(row["filename"]), row["filename"]


@pytest.mark.parametrize("by", ["migrate", "start"])
def test_local_files_of_the_commit_before_move_to_their_content_keys(
    by: str, tmp_path: Path
) -> None:
    storage, chunks = tmp_path / "storage", tmp_path / "chunks"
    (storage / "files").mkdir(parents=True)
    chunks.mkdir()
    database = storage / "pyfiledrop.sqlite3"
    with sqlite3.connect(database) as db:
        db.executescript((LEGACY / f"{COMMIT}.sql").read_text())
        rows = rows_of(db.execute("SELECT * FROM uploads ORDER BY filename"))
    finished = [r for r in rows if r["state"] == "complete"]
    (half,) = [r for r in rows if r["state"] == "receiving"]
    for row in finished:
        (storage / "files" / row["id"]).write_bytes(legacy_bytes(row["filename"]))
    (chunks / f"{half['id']}.part").write_bytes(legacy_bytes(half["filename"])[:16384])

    if by == "migrate":
        said = migrate("-s", str(storage), "-c", str(chunks), cwd=tmp_path)
        assert said == ["applied migration 5 (contents)", "applied migration 6 (access)",
                        "applied migration 7 (placed_at)",
                        "moved 3 finished files to their content's key"]  # fmt: skip
        again = migrate("-s", str(storage), "-c", str(chunks), cwd=tmp_path)
        assert again == ["the database is up to date"], "nothing is left to move"
    server = Server(tmp_path, "-a").start()
    try:
        check_downloads(server, finished)
    finally:
        server.stop()

    digests = {hashlib.sha256(legacy_bytes(r["filename"])).hexdigest() for r in finished}
    assert len(digests) == 2, "two of the three files hold the same bytes"
    assert finished_files(storage) == sorted(storage / "files" / content_key(d) for d in digests), (
        "each content stored once, under its key; nothing left under an upload's id"
    )
    with sqlite3.connect(database) as db:
        contents = dict(db.execute("SELECT sha256, refs FROM contents").fetchall())
        pointed = dict(db.execute("SELECT id, content FROM uploads").fetchall())
    same = hashlib.sha256(legacy_bytes("same.bin")).hexdigest()
    assert contents == {same: 2, hashlib.sha256(legacy_bytes("other.bin")).hexdigest(): 1}
    assert pointed[half["id"]] is None
    assert (chunks / f"{half['id']}.part").exists(), "the unfinished upload keeps its data"


def test_bucket_objects_of_the_commit_before_move_to_their_content_keys(
    tmp_path: Path, pg_url: str, seaweed: SeaweedFS
) -> None:
    with psycopg.connect(pg_url, autocommit=True) as db:
        db.execute((LEGACY / f"{COMMIT}.postgresql.sql").read_text().encode())
        rows = rows_of(db.execute("SELECT * FROM public.uploads ORDER BY filename"))
    finished = [r for r in rows if r["state"] == "complete"]
    bucket, prefix = "legacy", uuid.uuid4().hex[:8]
    s3 = seaweed.client()
    if bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        seaweed.bucket(bucket)
    for row in finished:
        key = f"{prefix}/files/{row['id']}"
        s3.put_object(Bucket=bucket, Key=key, Body=legacy_bytes(row["filename"]))
    where = [f"s3://{bucket}/{prefix}", "--s3-endpoint", seaweed.endpoint]

    said = migrate("-s", *where, "--database", pg_url, "-c", str(tmp_path), cwd=tmp_path)
    assert said[-4:] == ["applied migration 5 (contents)", "applied migration 6 (access)",
                         "applied migration 7 (placed_at)",
                         "moved 3 finished files to their content's key"]  # fmt: skip
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/files/")
    digests = {hashlib.sha256(legacy_bytes(r["filename"])).hexdigest() for r in finished}
    assert sorted(o["Key"] for o in listed["Contents"]) == sorted(
        f"{prefix}/files/{content_key(d)}" for d in digests
    )
    server = Server(tmp_path, "-a", "--database", pg_url)
    server.storage = where[0]  # type: ignore[assignment]
    server.args += ["--s3-endpoint", seaweed.endpoint]
    server.start()
    try:
        check_downloads(server, finished)
    finally:
        server.stop()
