"""GET /zip: several finished files of the caller as one zip, made as it is sent.

`?t=<token>&t=<token>...` names files by their download links' tokens; `?folder=<name>` takes
every finished file of a folder the caller uploaded. Only the caller's own files (the owner
cookie or the Pyfiledrop-Owner header, `owners.py`): anyone else's link is refused as an unknown
one (`core/picking.py`).

The archive is never built on disk or in memory: zipstream-ng writes each entry's header, then
the file's bytes as the storage reads them (a local file, or an object store's ranges), then its
data descriptor, and at the end the central directory. Entries are stored, not compressed: the
zip is as fast as the disk, and its length is known before the first byte (Content-Length set,
so a browser shows progress), ZIP64 where the sizes need it. Names inside are the files'
relative paths (their names, outside a folder), cleaned and made unique (`core/paths.py`).

Ranges: zipstream-ng makes the archive from its start only, so a zip is always sent whole
(`Accept-Ranges: none`); a cut-off zip download starts again. Each entry's timestamp is the
moment it is sent, so two downloads of the same files differ in those bytes anyway.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator

import anyio
import anyio.from_thread
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route
from zipstream import ZIP_STORED, ZipStream

from pyfiledrop import errors
from pyfiledrop.config import Settings
from pyfiledrop.core.model import Upload
from pyfiledrop.core.paths import archive_names
from pyfiledrop.core.service import UploadService
from pyfiledrop.web.downloads import content_disposition

BLOCK = 1 << 20  # bytes read from a local file at a time


class Zips:
    def __init__(self, settings: Settings, service: UploadService) -> None:
        self.settings = settings
        self.service = service

    def routes(self) -> list[Route]:
        return [Route("/zip", self._zip, methods=["GET", "HEAD"])]

    async def _zip(self, request: Request) -> Response:
        if not self.settings.allow_downloads:
            raise errors.DOWNLOADS_DISABLED("Downloads are turned off on this server.")
        owner = str(request.state.owner)  # no cookie given out: a new client owns nothing
        query = request.query_params
        folder = query.get("folder")
        picking = self.service.picking
        if folder is not None:
            uploads = await picking.in_folder(owner, folder)
            filename = f"{folder}.zip"
        else:
            uploads = await picking.by_links(owner, query.getlist("t"))
            filename = "files.zip"
        uploads = [await self.service.present(upload) for upload in uploads]  # 410: one is gone
        names = archive_names([upload.relative_path or upload.filename for upload in uploads])
        archive = stored_zip(
            (name, upload.size or 0, self._blocks(upload))
            for upload, name in zip(uploads, names, strict=True)
        )
        headers = {
            "Content-Length": str(len(archive)),
            "Content-Disposition": content_disposition(filename),
            "Accept-Ranges": "none",
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox",
        }
        if request.method == "HEAD":
            return Response(headers=headers, media_type="application/zip")
        return StreamingResponse(_in_thread(iter(archive)), headers=headers,
                                 media_type="application/zip")  # fmt: skip

    def _blocks(self, upload: Upload) -> Iterator[bytes]:
        """The file's bytes, for zipstream-ng, which pulls them in a worker thread: read there
        from a local file, or fetched on the event loop from an object store."""
        assert upload.storage_key is not None
        size = upload.size or 0
        local = self.service.local_files
        if local is not None:
            return _local_blocks(str(local.path_of(upload.storage_key)), size)
        assert self.service.range_reads is not None
        return _remote_blocks(self.service.range_reads.read_range(upload.storage_key, 0, size))


def stored_zip(entries: Iterable[tuple[str, int, Iterable[bytes]]]) -> ZipStream:
    """A zip of (name, size, bytes) entries, stored: its length known before it is made; the
    bytes are read only as the zip is iterated."""
    archive = ZipStream(compress_type=ZIP_STORED, sized=True)
    for name, size, data in entries:
        archive.add(data, name, size=size)
    return archive


def _local_blocks(path: str, size: int) -> Iterator[bytes]:
    with open(path, "rb") as file:
        left = size
        while left:
            block = file.read(min(BLOCK, left))
            if not block:
                raise OSError(f"{path} is shorter than its recorded {size} bytes")
            left -= len(block)
            yield block


def _remote_blocks(blocks: AsyncIterator[bytes]) -> Iterator[bytes]:
    async def next_block() -> bytes:
        return await anext(blocks, b"")

    while block := anyio.from_thread.run(next_block):
        yield block


async def _in_thread(pieces: Iterator[bytes]) -> AsyncIterator[bytes]:
    """The archive's pieces, made in a worker thread (zipstream-ng is synchronous and reads the
    files as it goes), a block's worth per trip there: a small file's header, bytes and data
    descriptor go together."""
    while batch := await anyio.to_thread.run_sync(_batch, pieces):
        for piece in batch:
            yield piece


def _batch(pieces: Iterator[bytes]) -> list[bytes]:
    """The next pieces, up to about a block's worth; empty at the end."""
    batch: list[bytes] = []
    size = 0
    for piece in pieces:
        batch.append(piece)
        size += len(piece)
        if size >= BLOCK:
            break
    return batch
