"""Servers, folders and disks for the fault scenarios.

`FaultServer` is the tests' `Server` with what fault scenarios need on top: storage and chunks
folders anywhere (on a tmpfs of their own), its own working folder (so a stray relative path shows
up where a test looks), its memory from /proc, and its SQLite file read directly. `inventory()`
compares the database with the folders: what is stuck, lost or left over. `tmpfs()` mounts a
small RAM file system for full-disk runs and always unmounts it.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import Server

_PART = re.compile(r"^[0-9a-f]{32}\.part$")


class FaultServer(Server):
    """A `pyfiledrop serve` child whose folders may live anywhere, e.g. on a full tmpfs."""

    def __init__(
        self, root: Path, *args: str, storage: Path | None = None, chunks: Path | None = None
    ) -> None:
        super().__init__(root, *args)
        self.storage = storage or root / "storage"
        self.chunks = chunks or root / "chunks"
        self.cwd = root / "cwd"
        self.cwd.mkdir(parents=True, exist_ok=True)
        self.idle_rss_kib = 0

    @property
    def db_path(self) -> Path:
        return self.storage / "pyfiledrop.sqlite3"

    @property
    def files(self) -> Path:
        return self.storage / "files"

    def start(self) -> FaultServer:
        super().start()
        return self

    def memory_kib(self, field_name: str) -> int:
        """A `Vm*` line of /proc/PID/status (VmRSS now, VmHWM the peak so far), in KiB."""
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
        raise AssertionError(f"no {field_name} for the server")

    def note_idle_rss(self) -> int:
        self.idle_rss_kib = self.memory_kib("VmRSS")
        return self.idle_rss_kib

    def rows(self) -> list[dict[str, object]]:
        """Every upload row, read straight from the server's SQLite file."""
        db = sqlite3.connect(self.db_path, timeout=10)
        try:
            db.row_factory = sqlite3.Row
            return [dict(r) for r in db.execute("SELECT * FROM uploads")]
        finally:
            db.close()

    def set_state(self, upload_id: str, state: str) -> None:
        """Rewrite one upload's state in the database (only while the server is down)."""
        assert self.proc is None or self.proc.poll() is not None, "stop the server first"
        db = sqlite3.connect(self.db_path, timeout=10)
        try:
            changed = db.execute("UPDATE uploads SET state = ? WHERE id = ?", (state, upload_id))
            db.commit()
            assert changed.rowcount == 1, f"no upload {upload_id}"
        finally:
            db.close()

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@dataclass
class Inventory:
    """What the database and the folders say, and where they disagree."""

    states: dict[str, int] = field(default_factory=dict)
    stuck: list[str] = field(default_factory=list)  # rows in `assembling` once the server is idle
    spools: list[str] = field(default_factory=list)  # spool-*.tmp in the chunks folder
    orphan_parts: list[str] = field(default_factory=list)  # .part with no row
    finished_parts: list[str] = field(default_factory=list)  # .part of a complete upload
    incoming: list[str] = field(default_factory=list)  # .incoming copies in the files folder
    stray_files: list[str] = field(default_factory=list)  # files/ entries no complete row names
    missing_files: list[str] = field(default_factory=list)  # complete rows without their file
    bad_hashes: list[str] = field(default_factory=list)  # complete rows whose file hashes otherwise

    def leftovers(self) -> list[str]:
        return [*self.spools, *self.orphan_parts, *self.finished_parts, *self.incoming,
                *self.stray_files]  # fmt: skip

    def problems(self) -> list[str]:
        found = []
        for name in ("stuck", "spools", "orphan_parts", "finished_parts", "incoming",
                     "stray_files", "missing_files", "bad_hashes"):  # fmt: skip
            items = getattr(self, name)
            if items:
                found.append(f"{name}: {len(items)} ({', '.join(sorted(items)[:3])})")
        return found


def inventory(server: FaultServer, hash_files: bool = True) -> Inventory:
    """Compare the upload rows with the chunks and files folders (call it while nothing runs)."""
    rows = server.rows()
    found = Inventory()
    by_id = {str(r["id"]): r for r in rows}
    for row in rows:
        found.states[str(row["state"])] = found.states.get(str(row["state"]), 0) + 1
        if row["state"] == "assembling":
            found.stuck.append(str(row["id"]))
    chunks = sorted(os.listdir(server.chunks)) if server.chunks.exists() else []
    for name in chunks:
        if name.startswith("spool-") and name.endswith(".tmp"):
            found.spools.append(name)
        elif _PART.match(name):
            row = by_id.get(name[:-5])
            if row is None:
                found.orphan_parts.append(name)
            elif row["state"] == "complete":
                found.finished_parts.append(name)
    named = {str(r["storage_key"]) for r in rows if r["state"] == "complete"}
    files = sorted(  # finished files are under ab/cd/<sha256>
        str(p.relative_to(server.files)) for p in server.files.rglob("*") if p.is_file()
    )
    for name in files:
        if name.endswith(".incoming"):
            found.incoming.append(name)
        elif name not in named:
            found.stray_files.append(name)
    for row in rows:
        if row["state"] != "complete":
            continue
        path = server.files / str(row["storage_key"])
        if not path.is_file():
            found.missing_files.append(str(row["id"]))
        elif hash_files and sha256_of(path) != row["sha256"]:
            found.bad_hashes.append(str(row["id"]))
    return found


def sha256_of(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


# --- disks ----------------------------------------------------------------------------------------


def is_root() -> bool:
    return os.geteuid() == 0


@contextmanager
def tmpfs(path: Path, size: str) -> Iterator[Path]:
    """A tmpfs of `size` (e.g. "64M") mounted on `path`; unmounted afterwards, also on failure."""
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        if subprocess.run(["umount", str(path)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(path)], check=False)


def resize(path: Path, size: str) -> None:
    subprocess.run(["mount", "-o", f"remount,size={size}", str(path)], check=True)


def fill(folder: Path, leave: int = 0) -> int:
    """Write a filler file in `folder` until its file system has at most `leave` bytes free."""
    filler = folder / f"filler-{len(list(folder.glob('filler-*')))}"
    written = 0
    block = b"\0" * (1 << 20)
    with open(filler, "wb", buffering=0) as f:
        for size in (1 << 20, 1 << 16, 1 << 12):
            while free_bytes(folder) - size >= leave:
                try:
                    written += f.write(block[:size])
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    break
    return written


def free_bytes(folder: Path) -> int:
    stat = os.statvfs(folder)
    return stat.f_bavail * stat.f_frsize
