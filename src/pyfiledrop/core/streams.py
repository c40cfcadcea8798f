"""Stream uploads: bytes that arrive in order at a known offset (the tus protocol's model).

The same upload records, storage and finishing as chunked uploads; what differs is that progress is
one number, the offset, saved as the bytes arrive, so an interrupted request keeps what it sent.
For hashing while the upload goes on, the stream is cut into virtual chunks of `STEP` bytes.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace

from pyfiledrop import errors
from pyfiledrop.core.interfaces import PartWriter
from pyfiledrop.core.model import Layout, State, Upload
from pyfiledrop.core.service import UploadService, clean_filename, new_upload, storage_error

STEP = 8 << 20  # bytes between saved offsets, and the size of a virtual chunk for hashing
_ID = re.compile(r"^[0-9a-f]{32}$")


def stream_layout(size: int) -> Layout:
    return Layout(size, STEP, Layout.expected_count(size, STEP))


class StreamSink:
    """Takes the bytes in order, refuses any past the limit, and saves progress as it goes."""

    def __init__(
        self, writer: PartWriter, limit: int, checkpoint: Callable[[int], None] | None
    ) -> None:
        self._writer = writer
        self._limit = limit
        self._checkpoint = checkpoint
        self._saved = 0
        self.received = 0

    def write(self, data: bytes | memoryview) -> None:
        if self.received + len(data) > self._limit:
            raise errors.TOO_LARGE("The data goes past the upload's length.")
        try:
            self._writer.write(data)
        except OSError as exc:
            raise storage_error(exc) from exc
        self.received += len(data)
        if self._checkpoint and self.received - self._saved >= STEP:
            self._checkpoint(self.received)
            self._saved = self.received


class StreamUploads:
    """Create, append to, concatenate and terminate stream uploads."""

    def __init__(self, service: UploadService) -> None:
        self.service = service
        self.meta = service.meta
        self.storage = service.storage
        self._busy: set[str] = set()

    def create(
        self,
        owner: str,
        filename: str,
        content_type: str,
        size: int | None,
        metadata: str | None,
        concat: str | None = None,
    ) -> Upload:
        """A new stream upload; `size` None defers the length to a later request."""
        layout = self._layout(size) if size is not None else None
        upload = new_upload(owner, None, clean_filename(filename), content_type, layout)
        return self.service.create(
            replace(upload, protocol="tus", metadata=metadata, concat=concat)
        )

    def _layout(self, size: int) -> Layout:
        self.service.check_size(size)
        return stream_layout(size)

    def get(self, upload_id: str) -> Upload:
        """The stream upload with this server-issued id."""
        upload = self.meta.get(upload_id) if _ID.match(upload_id) else None
        if upload is None or upload.protocol != "tus":
            raise errors.NOT_FOUND("No upload has this address.")
        return upload

    def set_length(self, upload: Upload, size: int) -> Upload:
        """Fix the length of an upload created with a deferred length; it cannot change after."""
        if upload.layout is not None:
            if upload.layout.size != size:
                raise errors.BAD_REQUEST("The upload's length is already set and cannot change.")
            return upload
        if size < upload.offset:
            raise errors.BAD_REQUEST("The length is smaller than what was already uploaded.")
        self.meta.set_layout(upload.id, self._layout(size))
        return self.service.refresh(upload)

    @asynccontextmanager
    async def append(
        self, upload: Upload, offset: int, keep_partial: bool
    ) -> AsyncIterator[StreamSink]:
        """Receive bytes from `offset`, one request at a time per upload.

        On an error, the bytes already written are kept (and counted) when `keep_partial`; else
        the offset stays where it was (when a checksum over the whole request must match first).
        """
        if upload.id in self._busy:
            raise errors.LOCKED("Another request is writing to this upload; retry shortly.")
        self._busy.add(upload.id)
        try:
            current = self.service.refresh(upload)
            if current.state != State.RECEIVING:
                raise errors.CONFLICT("This upload is already complete.")
            if offset != current.offset:
                raise errors.CONFLICT(
                    f"The upload is at byte {current.offset}, not {offset}; resume from there."
                )
            layout = current.layout
            limit = (layout.size if layout else self.service.limits.max_size) - offset
            progress = _Progress(self.service, current)
            writer = self.storage.part_writer(upload.id, offset)
            sink = StreamSink(writer, limit, progress.save if keep_partial else None)
            try:
                yield sink
            except BaseException:
                if keep_partial:
                    progress.save(sink.received)
                raise
            finally:
                writer.close()
            progress.save(sink.received)
        finally:
            self._busy.discard(upload.id)
        await self.finish_if_whole(upload.id)

    async def finish_if_whole(self, upload_id: str) -> None:
        """Finish the upload if every byte is in (partials wait to be concatenated instead)."""
        current = self.meta.get(upload_id)
        if current is None:  # terminated meanwhile
            return
        if current.layout and current.offset == current.layout.size and current.concat != "partial":
            await self.service.finish(upload_id)

    async def concatenate(
        self,
        owner: str,
        filename: str,
        content_type: str,
        metadata: str | None,
        concat: str,
        parts: list[str],
    ) -> Upload:
        """A final upload made of finished partial uploads, in order; the partials are consumed."""
        partials = [self.get(part) for part in parts]
        for partial in partials:
            layout = partial.layout
            if partial.concat != "partial" or layout is None or partial.offset != layout.size:
                raise errors.BAD_REQUEST(
                    "Only finished partial uploads (Upload-Concat: partial) can be concatenated."
                )
        size = sum(p.layout.size for p in partials if p.layout)
        final = self.create(owner, filename, content_type, size, metadata, concat)
        try:
            sources = [p.id for p in partials]
            digest = await asyncio.to_thread(self.storage.concat, final.id, sources)
        except OSError as exc:
            raise storage_error(exc) from exc
        self.meta.set_offset(final.id, 0, size)
        await self.service.finish(final.id, digest)
        for partial in partials:
            self.service.delete_soon(partial)
        return self.service.refresh(final)

    async def terminate(self, upload: Upload) -> None:
        """Forget the upload and remove its bytes, finished or not."""
        if upload.id in self._busy:
            raise errors.LOCKED("A request is writing to this upload; retry shortly.")
        await self.service.delete(upload)


class _Progress:
    """Saves how far a stream upload got, and feeds newly whole virtual chunks to the hasher."""

    def __init__(self, service: UploadService, upload: Upload) -> None:
        self._service = service
        self._upload = upload
        self._start = upload.offset
        self._saved = upload.offset
        layout = upload.layout
        self._prehash = service.prehash_of(upload.id, layout) if layout else None
        self._covered = 0
        self._feed(upload.offset)

    def save(self, received: int) -> None:
        offset = self._start + received
        if offset != self._saved and self._service.meta.set_offset(
            self._upload.id, self._saved, offset
        ):
            self._saved = offset
            self._feed(offset)

    def _feed(self, offset: int) -> None:
        layout = self._upload.layout
        if self._prehash is None or layout is None:
            return
        covered = layout.chunk_count if offset == layout.size else offset // layout.chunk_size
        for index in range(self._covered, covered):
            self._prehash.recorded(index)
        self._covered = max(self._covered, covered)
