"""Where the client remembers unfinished uploads, so running it again resumes them, and what it
sent, so sending a file again can complete without sending it.

One small JSON file (its path is printed by `pyfiledrop upload --help`; delete it to forget
everything). Three kinds of entry:
- an unfinished upload, keyed by server, file path, size, modification time and chunk size: the
  upload id and the cookie that binds the upload to this client on the server;
- the cookie this client uses with a server (`["cookie", server]`): the server answers questions
  by hash only within the uploads made with it;
- a file sent (`["sent", server, path, size, modification time]`): its SHA-256, the last
  `MAX_SENT` of them.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import platformdirs

MAX_SENT = 1000  # files remembered as sent, newest kept


def default_path() -> Path:
    return Path(platformdirs.user_state_dir("pyfiledrop")) / "uploads.json"


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


def _sent_key(server: str, path: Path) -> str:
    stat = path.stat()
    return json.dumps(["sent", server, str(path.resolve()), stat.st_size, stat.st_mtime_ns])


class StateFile:
    """The JSON file of unfinished uploads, cookies and files sent. Each change is written
    atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.RLock()  # several files are uploaded at once, in threads
        self._entries: dict[str, dict[str, str]] | None = None  # read once, then kept

    def _change(self, change: Callable[[dict[str, dict[str, str]]], bool]) -> None:
        """Load the entries, let `change` edit them, and save them if it says it did: one
        read-modify-write at a time within this process."""
        with self._lock:
            entries = self._load()
            if change(entries):
                self._save(entries)

    def _load(self) -> dict[str, dict[str, str]]:
        """The entries: read from the file the first time, then this process's copy (a run
        with many small files would otherwise read the file several times per file)."""
        with self._lock:
            if self._entries is None:
                try:
                    found = json.loads(self.path.read_text())
                except (FileNotFoundError, ValueError):
                    found = {}
                self._entries = found if isinstance(found, dict) else {}
            return self._entries

    def get(self, key: str) -> Resumable | None:
        entry = self._load().get(key)
        try:
            return Resumable(**entry) if entry else None
        except TypeError:
            return None

    def put(self, key: str, entry: Resumable) -> None:
        self._store(key, asdict(entry))

    def forget(self, key: str) -> None:
        self._change(lambda entries: entries.pop(key, None) is not None)

    def cookie(self, server: str) -> str | None:
        """The cookie this client uses with `server`, if it has one."""
        return self._load().get(json.dumps(["cookie", server]), {}).get("cookie")

    def set_cookie(self, server: str, cookie: str) -> None:
        self._store(json.dumps(["cookie", server]), {"cookie": cookie})

    def sent(self, server: str, path: Path) -> str | None:
        """The SHA-256 of `path` when this very file (same path, size and modification time)
        was sent to `server` before."""
        return self._load().get(_sent_key(server, path), {}).get("sha256")

    def sent_sizes(self, server: str) -> set[int]:
        """The sizes of the files sent to `server`."""
        prefix = json.dumps(["sent", server])[:-1] + ", "
        return {json.loads(k)[3] for k in self._load() if k.startswith(prefix)}

    def remember_sent(self, server: str, path: Path, sha256: str) -> None:
        key = _sent_key(server, path)

        def change(entries: dict[str, dict[str, str]]) -> bool:
            entries.pop(key, None)  # newest last
            entries[key] = {"sha256": sha256}
            sent = [k for k in entries if k.startswith('["sent", ')]
            for old in sent[: max(0, len(sent) - MAX_SENT)]:
                del entries[old]
            return True

        self._change(change)

    def _store(self, key: str, value: dict[str, str]) -> None:
        def change(entries: dict[str, dict[str, str]]) -> bool:
            entries[key] = value
            return True

        self._change(change)

    def _save(self, entries: dict[str, dict[str, str]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".uploads-")
        with os.fdopen(fd, "w") as f:
            json.dump(entries, f, separators=(",", ":"))
        os.replace(tmp, self.path)
