"""Dropzone.js uploads: chunked (dz* form fields) and plain one-request uploads, as in the seed.

Dropzone sends its dz* fields before the file part, so a chunk's bytes stream straight to their
offset in the upload's partial file. Other clients may put the file first: its bytes are then
spooled to a scratch file in the chunks folder until the fields are known. A plain upload's
scratch file becomes the upload's partial file by a rename, so it too is written once.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import AsyncIterable
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from pathlib import Path

from pyfiledrop import errors
from pyfiledrop.adapters.multipart import FormReader, boundary_of
from pyfiledrop.core.model import Upload
from pyfiledrop.core.service import ChunkSink, Declared, UploadService

DZ_FIELDS = (
    "dzuuid",
    "dzchunkindex",
    "dztotalfilesize",
    "dzchunksize",
    "dztotalchunkcount",
    "dzchunkbyteoffset",
)
_NUMBER = re.compile(r"^[0-9]{1,19}$")
_COPY_BLOCK = 1 << 20


class _Spool:
    """A scratch file for file bytes that arrived before the fields saying where they belong."""

    def __init__(self, folder: Path, limit: int) -> None:
        fd, name = tempfile.mkstemp(prefix="spool-", suffix=".tmp", dir=folder)
        self.file = os.fdopen(fd, "w+b")
        self.path = Path(name)
        self.size = 0
        self._limit = limit

    def write(self, data: bytes | memoryview) -> None:
        self.size += len(data)
        if self.size > self._limit:
            raise errors.TOO_LARGE(f"The file is larger than the {self._limit} bytes allowed.")
        self.file.write(data)

    def close(self) -> None:
        self.file.close()
        self.path.unlink(missing_ok=True)


def _number(fields: dict[str, str], name: str) -> int:
    if name not in fields:
        raise errors.BAD_CHUNK(f"Not all required fields were supplied: {name} is missing.")
    value = fields[name].strip()
    if not _NUMBER.match(value):
        raise errors.BAD_CHUNK(f"Field {name} must be a whole number, not {value[:40]!r}.")
    return int(value)


def _declared(reader: FormReader) -> Declared:
    f = reader.fields
    return Declared(
        filename=reader.filename or "",
        content_type=reader.content_type,
        size=_number(f, "dztotalfilesize"),
        chunk_size=_number(f, "dzchunksize"),
        chunk_count=_number(f, "dztotalchunkcount"),
    )


async def receive(
    service: UploadService, owner: str, content_type: str, body: AsyncIterable[bytes], spool: Path
) -> Upload:
    """Take one POST /upload body; returns the upload it added to (finished, for a plain upload)."""
    reader = FormReader(boundary_of(content_type))
    async with AsyncExitStack() as stack:
        target: ChunkSink | _Spool | None = None
        upload: Upload | None = None
        async for piece in body:
            reader.feed(piece)
            if reader.file_started and target is None:
                if all(name in reader.fields for name in DZ_FIELDS):
                    upload = _chunked_upload(service, owner, reader)
                    target = await stack.enter_async_context(_chunk(service, upload, reader))
                else:
                    target = _Spool(spool, service.limits.max_size)
                    stack.callback(target.close)
            for data in reader.take_file_data():
                target.write(data)  # type: ignore[union-attr]  # set once the file started
        if not reader.finished:
            raise errors.BAD_REQUEST("The request body ended before the multipart form did.")
        if not reader.file_started:
            raise errors.BAD_REQUEST("No file provided: send it in a form field named 'file'.")
        if not isinstance(target, _Spool):
            assert upload is not None
            return upload
        if any(name in reader.fields for name in DZ_FIELDS):
            upload = _chunked_upload(service, owner, reader)
            async with _chunk(service, upload, reader) as sink:
                target.file.seek(0)
                while block := target.file.read(_COPY_BLOCK):
                    sink.write(block)
            return upload
        target.file.flush()
        return await service.plain_from_file(
            owner, reader.filename or "", reader.content_type, target.path
        )


def _chunked_upload(service: UploadService, owner: str, reader: FormReader) -> Upload:
    client_id = reader.fields.get("dzuuid", "")
    declared = _declared(reader)
    return service.begin_chunked(owner, client_id, declared)


def _chunk(
    service: UploadService, upload: Upload, reader: FormReader
) -> AbstractAsyncContextManager[ChunkSink]:
    index = _number(reader.fields, "dzchunkindex")
    offset = _number(reader.fields, "dzchunkbyteoffset")
    return service.chunk(upload, index, offset)
