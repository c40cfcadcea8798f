"""Local-disk storage.

Layout:
    <chunks>/<upload-id>.part   one sparse partial file per upload; every chunk is written straight
                                to its offset with pwrite, so each byte reaches the disk once
    <storage>/files/<key>       finished files, moved in with an atomic rename

Failure modes: a process killed mid-write leaves some bytes of that chunk in the partial file, but
the chunk is recorded only after its last byte is written, so it is simply sent again. When the
chunks and storage folders are on different file systems, `assemble` has to copy (each byte is then
written twice); put them on one file system to avoid that.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
from pathlib import Path

from pyfiledrop.core.interfaces import StoredFile

_COPY_BLOCK = 4 << 20


class _Writer:
    def __init__(self, path: Path, offset: int) -> None:
        self._fd = os.open(path, os.O_WRONLY)
        self._pos = offset

    def write(self, data: bytes | memoryview) -> None:
        self.write_all(self._fd, data, self._pos)
        self._pos += len(data)

    @staticmethod
    def write_all(fd: int, data: bytes | memoryview, position: int) -> None:
        view = memoryview(data)
        while view:
            written = os.pwrite(fd, view, position)
            position += written
            view = view[written:]

    def close(self) -> None:
        os.close(self._fd)


class LocalStorage:
    """Partial files under the chunks folder, finished files under `<storage>/files`."""

    def __init__(self, chunks_dir: Path, storage_dir: Path) -> None:
        self.chunks_dir = chunks_dir
        self.files_dir = storage_dir / "files"
        self.chunks_dir.mkdir(parents=True, exist_ok=True)
        self.files_dir.mkdir(parents=True, exist_ok=True)

    def _partial(self, upload_id: str) -> Path:
        return self.chunks_dir / f"{upload_id}.part"

    def prepare(self, upload_id: str) -> None:
        fd = os.open(self._partial(upload_id), os.O_WRONLY | os.O_CREAT, 0o600)
        os.close(fd)

    def part_writer(self, upload_id: str, offset: int) -> _Writer:
        return _Writer(self._partial(upload_id), offset)

    def adopt(self, upload_id: str, path: Path) -> int:
        partial = self._partial(upload_id)
        os.replace(path, partial)
        return partial.stat().st_size

    def read(self, upload_id: str, offset: int, length: int) -> bytes:
        fd = os.open(self._partial(upload_id), os.O_RDONLY)
        try:
            return os.pread(fd, length, offset)
        finally:
            os.close(fd)

    def release(self, upload_id: str, offset: int, length: int) -> None:
        # Linux starts writing back the dirty pages of the range (without waiting) and drops the
        # clean ones, so the fsync in `assemble` has only the tail of the file left to flush.
        fd = os.open(self._partial(upload_id), os.O_RDONLY)
        try:
            os.posix_fadvise(fd, offset, length, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)

    def assemble(self, upload_id: str, key: str, sha256: str | None) -> StoredFile:
        partial = self._partial(upload_id)
        final = self.path_of(key)
        with open(partial, "rb") as f:
            digest = sha256 or hashlib.file_digest(f, "sha256").hexdigest()
            size = os.fstat(f.fileno()).st_size
            os.fsync(f.fileno())
        try:
            os.replace(partial, final)
        except OSError as exc:
            if exc.errno != errno.EXDEV:  # the two folders are on different file systems
                raise
            tmp = final.with_suffix(".incoming")
            shutil.copyfile(partial, tmp)
            with open(tmp, "rb") as copied:
                os.fsync(copied.fileno())
            os.replace(tmp, final)
            partial.unlink()
        _fsync_dir(self.files_dir)
        return StoredFile(key=key, size=size, sha256=digest)

    def discard(self, upload_id: str) -> None:
        self._partial(upload_id).unlink(missing_ok=True)

    def remove(self, key: str) -> None:
        self.path_of(key).unlink(missing_ok=True)

    def concat(self, upload_id: str, sources: list[str]) -> str:
        # One pass: each block is read once, hashed and written, and the written part is handed
        # to the kernel to write back, so the file is finished with nothing left to hash or flush.
        digest = hashlib.sha256()
        target = os.open(self._partial(upload_id), os.O_WRONLY | os.O_TRUNC)
        position = 0
        try:
            for source in sources:
                with open(self._partial(source), "rb") as part:
                    while block := part.read(_COPY_BLOCK):
                        digest.update(block)
                        _Writer.write_all(target, block, position)
                        os.posix_fadvise(target, position, len(block), os.POSIX_FADV_DONTNEED)
                        position += len(block)
        finally:
            os.close(target)
        return digest.hexdigest()

    def path_of(self, key: str) -> Path:
        return self.files_dir / key


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
