"""Where the client remembers unfinished uploads, so running it again resumes them, and what it
sent, so sending a file again can complete without sending it.

One small SQLite file (its path is printed by `pyfiledrop upload --help`; delete it to forget
everything). SQLite rather than a JSON file rewritten whole: each change is one small
transaction (a run of 500 small files makes 1,500 of them), and two runs at once do not undo
each other's changes. Three kinds of entry:
- an unfinished upload, keyed by server, file path, size, modification time and chunk size: the
  upload id and the cookie that binds the upload to this client on the server;
- the cookie this client uses with a server: the server answers questions by hash only within
  the uploads made with it;
- a file sent (server, path, size, modification time): its SHA-256, the last `MAX_SENT` of them.

The JSON file earlier versions kept (`uploads.json` next to the default path) is read in once.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import platformdirs

MAX_SENT = 1000  # files remembered as sent, newest kept
_SCHEMA = """
CREATE TABLE IF NOT EXISTS unfinished (key TEXT PRIMARY KEY, upload_id TEXT NOT NULL,
                                       cookie TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS cookies (server TEXT PRIMARY KEY, cookie TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sent (n INTEGER PRIMARY KEY AUTOINCREMENT, server TEXT NOT NULL,
                                 path TEXT NOT NULL, size INTEGER NOT NULL,
                                 mtime_ns INTEGER NOT NULL, sha256 TEXT NOT NULL,
                                 UNIQUE (server, path, size, mtime_ns));
"""


def default_path() -> Path:
    return Path(platformdirs.user_state_dir("pyfiledrop")) / "uploads.sqlite3"


@dataclass(frozen=True)
class Resumable:
    """What it takes to go on with an upload: its id and the cookie that owns it."""

    upload_id: str
    cookie: str


def key_of(server: str, path: Path, chunk_size: int, place: str | None = None) -> str:
    """An unfinished upload's key; `place`, a relative path in a folder, tells apart two places
    of one file (a link to it in the same folder): each is its own upload."""
    stat = path.stat()
    key = [server, str(path.resolve()), stat.st_size, stat.st_mtime_ns, chunk_size]
    return json.dumps(key + [place] if place else key)


class StateFile:
    """The SQLite file of unfinished uploads, cookies and files sent; safe to use from several
    threads (files are uploaded several at once) and several processes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None  # opened on first use

    @contextmanager
    def _open(self) -> Iterator[sqlite3.Connection]:
        """The connection, one thread at a time; changes made inside commit at the end."""
        with self._lock:
            if self._db is None:
                self._db = self._connect()
            with self._db:
                yield self._db

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))  # cookies: owner-only
        db = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")  # a lost last change only costs a resend
        with db:
            db.executescript(_SCHEMA)
        legacy = self.path.with_name("uploads.json")
        if self.path == default_path() and legacy.exists():
            _import_json(db, legacy)
        return db

    def get(self, key: str) -> Resumable | None:
        with self._open() as db:
            row = db.execute("SELECT upload_id, cookie FROM unfinished WHERE key = ?", (key,))
            found = row.fetchone()
        return Resumable(*found) if found else None

    def put(self, key: str, entry: Resumable) -> None:
        with self._open() as db:
            db.execute(
                "INSERT OR REPLACE INTO unfinished VALUES (?, ?, ?)",
                (key, entry.upload_id, entry.cookie),
            )

    def forget(self, key: str) -> None:
        with self._open() as db:
            db.execute("DELETE FROM unfinished WHERE key = ?", (key,))

    def cookie(self, server: str) -> str | None:
        """The cookie this client uses with `server`, if it has one."""
        with self._open() as db:
            found = db.execute("SELECT cookie FROM cookies WHERE server = ?", (server,)).fetchone()
        return str(found[0]) if found else None

    def set_cookie(self, server: str, cookie: str) -> None:
        with self._open() as db:
            db.execute("INSERT OR REPLACE INTO cookies VALUES (?, ?)", (server, cookie))

    def sent(self, server: str, path: Path) -> str | None:
        """The SHA-256 of `path` when this very file (same path, size and modification time)
        was sent to `server` before."""
        with self._open() as db:
            found = db.execute(
                "SELECT sha256 FROM sent WHERE server = ? AND path = ? AND size = ? "
                "AND mtime_ns = ?", (server, *_file_of(path)),
            ).fetchone()  # fmt: skip
        return str(found[0]) if found else None

    def sent_sizes(self, server: str) -> set[int]:
        """The sizes of the files sent to `server`."""
        with self._open() as db:
            rows = db.execute("SELECT DISTINCT size FROM sent WHERE server = ?", (server,))
            return {int(size) for (size,) in rows}

    def remember_sent(self, server: str, path: Path, sha256: str) -> None:
        with self._open() as db:
            _remember(db, server, *_file_of(path), sha256)


def _file_of(path: Path) -> tuple[str, int, int]:
    stat = path.stat()
    return str(path.resolve()), stat.st_size, stat.st_mtime_ns


def _remember(
    db: sqlite3.Connection, server: str, path: str, size: int, mtime_ns: int, sha256: str
) -> None:
    """Record a file sent, as the newest; forget the oldest beyond `MAX_SENT`."""
    db.execute(
        "DELETE FROM sent WHERE server = ? AND path = ? AND size = ? AND mtime_ns = ?",
        (server, path, size, mtime_ns),
    )
    db.execute(
        "INSERT INTO sent (server, path, size, mtime_ns, sha256) VALUES (?, ?, ?, ?, ?)",
        (server, path, size, mtime_ns, sha256),
    )
    db.execute(
        "DELETE FROM sent WHERE n NOT IN (SELECT n FROM sent ORDER BY n DESC LIMIT ?)",
        (MAX_SENT,),
    )


def _import_json(db: sqlite3.Connection, legacy: Path) -> None:
    """Take in the entries of the JSON state file of earlier versions, then remove it."""
    try:
        entries = json.loads(legacy.read_text())
    except (OSError, ValueError):
        entries = {}
    with db:
        for key, value in entries.items() if isinstance(entries, dict) else ():
            try:
                parts = json.loads(key)
                if parts[0] == "cookie":
                    db.execute("INSERT OR REPLACE INTO cookies VALUES (?, ?)",
                               (parts[1], value["cookie"]))  # fmt: skip
                elif parts[0] == "sent":
                    server, path, size, mtime_ns = parts[1:5]
                    _remember(db, server, path, int(size), int(mtime_ns), value["sha256"])
                else:
                    db.execute("INSERT OR REPLACE INTO unfinished VALUES (?, ?, ?)",
                               (key, value["upload_id"], value["cookie"]))  # fmt: skip
            except (ValueError, TypeError, KeyError, IndexError, sqlite3.Error):
                continue  # an entry this version cannot read is forgotten: a resend at worst
    legacy.unlink(missing_ok=True)
