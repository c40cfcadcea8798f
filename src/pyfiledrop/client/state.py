"""Where the client remembers unfinished uploads, so running it again resumes them.

One small JSON file (its path is printed by `pyfiledrop upload --help`; delete it to forget every
unfinished upload). An entry is keyed by server, file path, size, modification time and chunk size,
and holds the upload id and the cookie that binds the upload to this client on the server.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import platformdirs


def default_path() -> Path:
    return Path(platformdirs.user_state_dir("pyfiledrop")) / "uploads.json"


@dataclass(frozen=True)
class Resumable:
    """What it takes to go on with an upload: its id and the cookie that owns it."""

    upload_id: str
    cookie: str


def key_of(server: str, path: Path, chunk_size: int) -> str:
    stat = path.stat()
    return json.dumps([server, str(path.resolve()), stat.st_size, stat.st_mtime_ns, chunk_size])


class StateFile:
    """The JSON file of unfinished uploads. Each change is written atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _load(self) -> dict[str, dict[str, str]]:
        try:
            found = json.loads(self.path.read_text())
        except (FileNotFoundError, ValueError):
            return {}
        return found if isinstance(found, dict) else {}

    def get(self, key: str) -> Resumable | None:
        entry = self._load().get(key)
        try:
            return Resumable(**entry) if entry else None
        except TypeError:
            return None

    def put(self, key: str, entry: Resumable) -> None:
        entries = self._load()
        entries[key] = asdict(entry)
        self._save(entries)

    def forget(self, key: str) -> None:
        entries = self._load()
        if entries.pop(key, None) is not None:
            self._save(entries)

    def _save(self, entries: dict[str, dict[str, str]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".uploads-")
        with os.fdopen(fd, "w") as f:
            json.dump(entries, f, indent=1)
        os.replace(tmp, self.path)
