"""SQLite metadata store: one file under the storage folder, in WAL mode.

Tables:
    uploads(id, client_id UNIQUE, owner, filename, content_type, size, chunk_size, chunk_count,
            received, state, sha256, download_token UNIQUE, storage_key, error,
            created_at, updated_at)
    chunks(upload_id, idx)   one row per received chunk; a set, so a re-sent chunk counts once;
                             uploads.received keeps their count in the same transaction

One connection, used only from the server's event loop thread, so writes are serialised; each
statement commits on its own (autocommit) and `BEGIN IMMEDIATE` wraps the multi-statement steps.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pyfiledrop.core.model import Layout, State, Upload

_SCHEMA = """
CREATE TABLE IF NOT EXISTS uploads (
    id TEXT PRIMARY KEY,
    client_id TEXT UNIQUE,
    owner TEXT NOT NULL,
    filename TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size INTEGER,
    chunk_size INTEGER,
    chunk_count INTEGER,
    received INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL,
    sha256 TEXT,
    download_token TEXT UNIQUE,
    storage_key TEXT,
    error TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    protocol TEXT NOT NULL,
    stream_offset INTEGER NOT NULL DEFAULT 0,
    metadata TEXT,
    concat TEXT
);
CREATE INDEX IF NOT EXISTS uploads_state ON uploads(state);
CREATE TABLE IF NOT EXISTS chunks (
    upload_id TEXT NOT NULL REFERENCES uploads(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    PRIMARY KEY (upload_id, idx)
) WITHOUT ROWID;
"""

_COLUMNS = (
    "id, client_id, owner, filename, content_type, size, chunk_size, chunk_count, state, "
    "sha256, download_token, storage_key, error, created_at, updated_at, "
    "protocol, stream_offset, metadata, concat"
)


class SQLiteMetaStore:
    """`MetaStore` on one SQLite file."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(_SCHEMA)

    def create_or_get(self, upload: Upload) -> Upload:
        layout = upload.layout
        self._db.execute(
            f"INSERT INTO uploads ({_COLUMNS}) VALUES ({', '.join('?' * 19)}) "
            "ON CONFLICT(client_id) DO NOTHING",
            (
                upload.id,
                upload.client_id,
                upload.owner,
                upload.filename,
                upload.content_type,
                layout.size if layout else None,
                layout.chunk_size if layout else None,
                layout.chunk_count if layout else None,
                upload.state.value,
                upload.sha256,
                upload.download_token,
                upload.storage_key,
                upload.error,
                upload.created_at,
                upload.updated_at,
                upload.protocol,
                upload.offset,
                upload.metadata,
                upload.concat,
            ),
        )
        found = self.get_by_client_id(upload.client_id) if upload.client_id else self.get(upload.id)
        assert found is not None
        return found

    def _one(self, where: str, value: str) -> Upload | None:
        row = self._db.execute(f"SELECT {_COLUMNS} FROM uploads WHERE {where} = ?", (value,))
        found = row.fetchone()
        return _to_upload(found) if found else None

    def get(self, upload_id: str) -> Upload | None:
        return self._one("id", upload_id)

    def get_by_client_id(self, client_id: str) -> Upload | None:
        return self._one("client_id", client_id)

    def get_by_token(self, token: str) -> Upload | None:
        return self._one("download_token", token)

    def in_state(self, state: State) -> list[Upload]:
        rows = self._db.execute(f"SELECT {_COLUMNS} FROM uploads WHERE state = ?", (state.value,))
        return [_to_upload(r) for r in rows]

    def record_chunk(self, upload_id: str, index: int) -> int:
        with self._transaction():
            added = self._db.execute(
                "INSERT OR IGNORE INTO chunks (upload_id, idx) VALUES (?, ?)", (upload_id, index)
            ).rowcount
            (count,) = self._db.execute(
                "UPDATE uploads SET received = received + ? WHERE id = ? RETURNING received",
                (added, upload_id),
            ).fetchone()
        return int(count)

    def forget_chunk(self, upload_id: str, index: int) -> None:
        with self._transaction():
            removed = self._db.execute(
                "DELETE FROM chunks WHERE upload_id = ? AND idx = ?", (upload_id, index)
            ).rowcount
            if removed:  # usually nothing: a first send; then the transaction writes nothing
                self._db.execute(
                    "UPDATE uploads SET received = received - 1 WHERE id = ?", (upload_id,)
                )

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def received(self, upload_id: str) -> list[int]:
        rows = self._db.execute(
            "SELECT idx FROM chunks WHERE upload_id = ? ORDER BY idx", (upload_id,)
        )
        return [r[0] for r in rows]

    def move(
        self,
        upload_id: str,
        old: State,
        new: State,
        *,
        layout: Layout | None = None,
        sha256: str | None = None,
        storage_key: str | None = None,
        download_token: str | None = None,
        error: str | None = None,
    ) -> bool:
        sets: dict[str, Any] = {"state": new.value, "updated_at": time.time()}
        if layout is not None:
            sets |= {"size": layout.size, "chunk_size": layout.chunk_size}
            sets["chunk_count"] = layout.chunk_count
        optional = {
            "sha256": sha256,
            "storage_key": storage_key,
            "download_token": download_token,
            "error": error,
        }
        sets |= {k: v for k, v in optional.items() if v is not None}
        assignments = ", ".join(f"{column} = ?" for column in sets)
        cursor = self._db.execute(
            f"UPDATE uploads SET {assignments} WHERE id = ? AND state = ?",
            (*sets.values(), upload_id, old.value),
        )
        return cursor.rowcount == 1

    def set_offset(self, upload_id: str, old: int, new: int) -> bool:
        cursor = self._db.execute(
            "UPDATE uploads SET stream_offset = ?, updated_at = ? "
            "WHERE id = ? AND stream_offset = ? AND state = 'receiving'",
            (new, time.time(), upload_id, old),
        )
        return cursor.rowcount == 1

    def set_layout(self, upload_id: str, layout: Layout) -> bool:
        cursor = self._db.execute(
            "UPDATE uploads SET size = ?, chunk_size = ?, chunk_count = ?, updated_at = ? "
            "WHERE id = ? AND size IS NULL",
            (layout.size, layout.chunk_size, layout.chunk_count, time.time(), upload_id),
        )
        return cursor.rowcount == 1

    def delete(self, upload_id: str) -> None:
        self._db.execute("DELETE FROM uploads WHERE id = ?", (upload_id,))

    def close(self) -> None:
        self._db.close()


def _to_upload(row: tuple[Any, ...]) -> Upload:
    (uid, client_id, owner, filename, ctype, size, chunk_size, count, state, sha256, token, key,
     error, created, updated, protocol, offset, metadata, concat) = row  # fmt: skip
    layout = Layout(size, chunk_size, count) if size is not None else None
    return Upload(
        id=uid,
        client_id=client_id,
        owner=owner,
        filename=filename,
        content_type=ctype,
        layout=layout,
        state=State(state),
        created_at=created,
        updated_at=updated,
        sha256=sha256,
        download_token=token,
        storage_key=key,
        error=error,
        protocol=protocol,
        offset=offset,
        metadata=metadata,
        concat=concat,
    )
