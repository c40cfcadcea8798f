"""Local-disk storage.

Layout:
    <chunks>/<upload-id>.part       one sparse partial file per upload; every part is written
                                    straight to its offset with pwrite, so each byte reaches the
                                    disk once (numbered parts need no bookkeeping here)
    <storage>/files/ab/cd/<sha256>  finished files, under their content's SHA-256 (the core's
                                    `content_key`), moved in with an atomic rename; the same
                                    content is one file however many uploads point to it
    <storage>/files/<id>.incoming   a copy in progress, when the two folders are on different
                                    file systems (each byte is then written twice)
    <storage>/files/<id>            a file finished by a version before content keys, until the
                                    migration renames it (`legacy_files`, `rename`)

Every call that touches the disk runs in a worker thread, never on the event loop: on a slow or
full disk a `pwrite` can block for seconds. A part's bytes are gathered into runs of
`FLUSH_BYTES` and written with one `pwritev` per run. Short calls (writes, reads) and long ones
(fsync, copies, removing large files) have their own threads, so a long fsync never holds up the
next chunk's write or the running hash's reads.

Failure modes: a process killed mid-write leaves some bytes of that part in the partial file, but
the core records a part only after `close` has written its last byte, so it is simply sent again.
A kill between the rename into place and the database saying complete is healed by `place`
itself: called again, it finds the partial gone and the file in place. Two uploads of the same
content placed at once rename identical bytes onto one name: either may win. Leftover
`.incoming` copies are overwritten by the next attempt or removed with their upload.
"""

from __future__ import annotations

import asyncio
import errno
import functools
import hashlib
import os
import shutil
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from pyfiledrop.core.interfaces import Sealed
from pyfiledrop.core.model import Layout

FLUSH_BYTES = 512 * 1024  # bytes gathered before a write; bounds memory per request
IDLE_FLUSH = 0.5  # seconds without new bytes after which what was gathered is written anyway
SHORT_CALLS = 8  # threads for writes and reads
LONG_CALLS = 4  # threads for fsyncs, copies and removals
_COPY_BLOCK = 4 << 20
T = TypeVar("T")
_PARTIAL = ".part"
_INCOMING = ".incoming"


def write_all(fd: int, pieces: list[bytes | memoryview], position: int) -> None:
    """Write every byte of `pieces` at `position`, however the kernel splits the writes."""
    views = [memoryview(p) for p in pieces]
    while views:
        written = os.pwritev(fd, views, position)
        position += written
        while views and written >= len(views[0]):
            written -= len(views[0])
            views.pop(0)
        if views and written:
            views[0] = views[0][written:]


def _pools() -> tuple[ThreadPoolExecutor, ThreadPoolExecutor]:
    return (
        ThreadPoolExecutor(SHORT_CALLS, thread_name_prefix="disk"),
        ThreadPoolExecutor(LONG_CALLS, thread_name_prefix="disk-slow"),
    )


async def _in(pool: ThreadPoolExecutor, call: Callable[..., T], *args: Any) -> T:
    return await asyncio.get_running_loop().run_in_executor(pool, functools.partial(call, *args))


class _Writer:
    """Gathers a part's bytes and writes them at their offset in a worker thread, one run while
    the next is gathered (so the client keeps sending while the disk writes). A run that stops
    growing for `IDLE_FLUSH` s is written as it is: a stalled request holds no bytes in memory."""

    def __init__(self, path: Path, offset: int, pool: ThreadPoolExecutor) -> None:
        self._pool = pool
        self._path = path
        self._fd: int | None = None  # opened by the first run, in its thread: one hop less
        self._position = offset
        self._pending: list[bytes | memoryview] = []
        self._pending_bytes = 0
        self._writing: asyncio.Future[None] | None = None
        self._last_piece = 0.0
        self._idle: asyncio.TimerHandle | None = None

    async def write(self, data: bytes | memoryview) -> None:
        self._pending.append(data)
        self._pending_bytes += len(data)
        if self._pending_bytes >= FLUSH_BYTES:
            self._stop_idle_timer()
            await self._written()
            self._start()
            return
        loop = asyncio.get_running_loop()
        self._last_piece = loop.time()
        if self._idle is None:
            self._idle = loop.call_later(IDLE_FLUSH, self._write_if_idle)

    def _write_if_idle(self) -> None:
        self._idle = None
        loop = asyncio.get_running_loop()
        quiet = loop.time() - self._last_piece
        if quiet < IDLE_FLUSH or (self._writing is not None and not self._writing.done()):
            self._idle = loop.call_later(max(IDLE_FLUSH - quiet, 0.05), self._write_if_idle)
        elif self._writing is None or self._writing.exception() is None:
            self._start()
        # else the failed write is raised by the next write, flush or close

    def _stop_idle_timer(self) -> None:
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None

    def _start(self) -> None:
        self._stop_idle_timer()
        pieces, position = self._pending, self._position
        self._pending, self._position = [], position + self._pending_bytes
        self._pending_bytes = 0
        loop = asyncio.get_running_loop()
        call = functools.partial(self._write_run, pieces, position)
        self._writing = loop.run_in_executor(self._pool, call)

    def _write_run(self, pieces: list[bytes | memoryview], position: int) -> None:
        """In a worker thread; runs never overlap, so opening here is safe."""
        if self._fd is None:
            self._fd = os.open(self._path, os.O_WRONLY | os.O_CREAT, 0o600)
        write_all(self._fd, pieces, position)

    async def _written(self) -> None:
        """Wait for the run being written (raising its OSError)."""
        writing, self._writing = self._writing, None
        if writing is not None:
            await writing

    async def flush(self) -> None:
        self._stop_idle_timer()
        await self._written()
        if self._pending:
            self._start()
            await self._written()

    async def close(self) -> None:
        self._pending = []
        self._stop_idle_timer()
        try:
            await asyncio.shield(self._written())  # never close the file under a write
        except OSError:
            pass  # the caller saw it, or gives up on these bytes anyway
        finally:
            if self._fd is not None:
                os.close(self._fd)


class LocalStorage:
    """Partial files under the chunks folder, finished files under `<storage>/files`."""

    def __init__(self, chunks_dir: Path, storage_dir: Path) -> None:
        self.chunks_dir = chunks_dir
        self.files_dir = storage_dir / "files"
        self.chunks_dir.mkdir(parents=True, exist_ok=True)
        self.files_dir.mkdir(parents=True, exist_ok=True)
        self._short, self._long = _pools()

    def _partial(self, upload_id: str) -> Path:
        return self.chunks_dir / f"{upload_id}{_PARTIAL}"

    def path_of(self, key: str) -> Path:
        return self.files_dir / key

    def partial_free_bytes(self) -> int:
        stat = os.statvfs(self.chunks_dir)
        return stat.f_bavail * stat.f_frsize

    async def create(self, upload_id: str) -> None:
        os.close(await _in(self._short, self._open, upload_id, os.O_WRONLY | os.O_CREAT))

    def _open(self, upload_id: str, flags: int) -> int:
        return os.open(self._partial(upload_id), flags, 0o600)

    async def part_writer(
        self, upload_id: str, index: int, offset: int, chunking: Layout | None = None
    ) -> _Writer:
        return _Writer(self._partial(upload_id), offset, self._short)

    async def read(self, upload_id: str, offset: int, length: int) -> bytes:
        return await _in(self._short, self._read, upload_id, offset, length)

    def _read(self, upload_id: str, offset: int, length: int) -> bytes:
        fd = self._open(upload_id, os.O_RDONLY)
        try:
            return os.pread(fd, length, offset)
        finally:
            os.close(fd)

    def read_partial(self, upload_id: str, offset: int, length: int) -> bytes:
        fd = self._open(upload_id, os.O_RDONLY)
        try:
            data = os.pread(fd, length, offset)
            os.posix_fadvise(fd, offset, len(data), os.POSIX_FADV_DONTNEED)  # as `release`
            return data
        finally:
            os.close(fd)

    async def release(self, upload_id: str, offset: int, length: int) -> None:
        # Linux starts writing back the dirty pages of the range (without waiting) and drops the
        # clean ones, so the fsync in `complete` has only the tail of the file left to flush.
        await _in(self._short, self._advise, upload_id, offset, length)

    def _advise(self, upload_id: str, offset: int, length: int) -> None:
        fd = self._open(upload_id, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, offset, length, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)

    async def seal(self, upload_id: str, sha256: str | None) -> Sealed:
        return await _in(self._long, self._seal, upload_id, sha256)

    def _seal(self, upload_id: str, sha256: str | None) -> Sealed:
        partial = self._partial(upload_id)
        moved = self.path_of(upload_id)  # versions before content keys moved it in here first
        if not partial.exists() and moved.exists():
            os.replace(moved, partial)
        with open(partial, "rb") as f:
            digest = sha256 or hashlib.file_digest(f, "sha256").hexdigest()
            size = os.fstat(f.fileno()).st_size
            os.fsync(f.fileno())
        return Sealed(size=size, sha256=digest)

    async def place(self, upload_id: str, key: str) -> str:
        await _in(self._long, self._place, upload_id, key)
        return key  # a rename is free here: under the content key

    def _place(self, upload_id: str, key: str) -> None:
        partial, final = self._partial(upload_id), self.path_of(key)
        if not partial.exists() and final.exists():  # moved in by an attempt cut short
            return
        final.parent.mkdir(parents=True, exist_ok=True)
        self._move(partial, final, self.path_of(upload_id + _INCOMING))
        _fsync_dir(final.parent)

    async def size_of(self, key: str) -> int | None:
        try:
            return (await _in(self._short, os.stat, self.path_of(key))).st_size
        except FileNotFoundError:
            return None

    def _move(self, partial: Path, final: Path, incoming: Path) -> None:
        try:
            os.replace(partial, final)
            return
        except OSError as exc:
            if exc.errno != errno.EXDEV:  # the two folders are on different file systems
                raise
        try:
            shutil.copyfile(partial, incoming)
            with open(incoming, "rb") as copied:
                os.fsync(copied.fileno())
            os.replace(incoming, final)
        except OSError:
            incoming.unlink(missing_ok=True)
            raise
        partial.unlink()

    async def legacy_files(self) -> list[str]:
        return await _in(self._long, self._legacy_files)

    def _legacy_files(self) -> list[str]:
        with os.scandir(self.files_dir) as entries:
            return [e.name for e in entries if e.is_file() and not e.name.endswith(_INCOMING)]

    async def rename(self, key: str, new_key: str) -> None:
        await _in(self._long, self._rename, key, new_key)

    def _rename(self, key: str, new_key: str) -> None:
        old, new = self.path_of(key), self.path_of(new_key)
        if not old.exists() and new.exists():  # renamed by an attempt cut short
            return
        new.parent.mkdir(parents=True, exist_ok=True)
        os.replace(old, new)
        _fsync_dir(new.parent)
        _fsync_dir(old.parent)

    async def discard(self, upload_id: str) -> None:
        await _in(self._long, self._discard, upload_id)

    def _discard(self, upload_id: str) -> None:
        self._partial(upload_id).unlink(missing_ok=True)
        self.path_of(upload_id + _INCOMING).unlink(missing_ok=True)

    async def remove(self, key: str) -> None:
        await _in(self._long, self.path_of(key).unlink, True)

    async def partials(self) -> set[str]:
        return await _in(self._long, self._partials)

    def _partials(self) -> set[str]:
        found = {p.name.removesuffix(_PARTIAL) for p in self.chunks_dir.glob(f"*{_PARTIAL}")}
        found |= {p.name.removesuffix(_INCOMING) for p in self.files_dir.glob(f"*{_INCOMING}")}
        for spool in self.chunks_dir.glob("spool-*.tmp"):  # scratch files of versions <= 8ed2d95
            spool.unlink(missing_ok=True)
        return found

    async def concat(self, upload_id: str, sources: list[str]) -> str:
        return await _in(self._long, self._concat, upload_id, sources)

    def _concat(self, upload_id: str, sources: list[str]) -> str:
        # One pass: each block is read once, hashed and written, and the written part is handed
        # to the kernel to write back, so the file is finished with nothing left to hash or flush.
        digest = hashlib.sha256()
        target = self._open(upload_id, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        position = 0
        try:
            for source in sources:
                with open(self._partial(source), "rb") as part:
                    while block := part.read(_COPY_BLOCK):
                        digest.update(block)
                        write_all(target, [block], position)
                        os.posix_fadvise(target, position, len(block), os.POSIX_FADV_DONTNEED)
                        position += len(block)
        finally:
            os.close(target)
        return digest.hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
