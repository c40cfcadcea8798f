"""Dropzone.js uploads: chunked (dz* form fields) and plain one-request uploads, as in the seed.

Two body shapes. Multipart (Dropzone 5, and 6 by default): the dz* fields and a `file` part.
Raw (Dropzone 6's `binaryBody`, which the page uses, and the command-line client): the body is
the chunk itself and the dz* fields, plus `filename`, come in the query string; nothing to parse.

Dropzone sends its dz* fields before the file part, so a chunk's bytes stream straight to their
offset in the upload's partial file. Other clients may put the file first: its bytes are then
spooled to a scratch file in the chunks folder until the fields are known. A plain upload's
scratch file becomes the upload's partial file by a rename, so it too is written once.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import AsyncIterable, Mapping
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

    async def as_plain_upload(
        self, service: UploadService, owner: str, filename: str, content_type: str
    ) -> Upload:
        """Hand the spooled bytes over as a whole one-request upload (moved, not copied)."""
        self.file.flush()
        return await service.plain_from_file(owner, filename, content_type, self.path)

    def close(self) -> None:
        self.file.close()
        self.path.unlink(missing_ok=True)


def _number(fields: Mapping[str, str], name: str) -> int:
    if name not in fields:
        raise errors.BAD_CHUNK(f"Not all required fields were supplied: {name} is missing.")
    value = fields[name].strip()
    if not _NUMBER.match(value):
        raise errors.BAD_CHUNK(f"Field {name} must be a whole number, not {value[:40]!r}.")
    return int(value)


def _declared(fields: Mapping[str, str], filename: str, content_type: str) -> Declared:
    return Declared(
        filename=filename,
        content_type=content_type,
        size=_number(fields, "dztotalfilesize"),
        chunk_size=_number(fields, "dzchunksize"),
        chunk_count=_number(fields, "dztotalchunkcount"),
    )


def is_raw(query: Mapping[str, str]) -> bool:
    """Whether a POST /upload carries its fields in the query, its bytes as the whole body."""
    return "dzuuid" in query or "filename" in query


async def receive_raw(
    service: UploadService,
    owner: str,
    query: Mapping[str, str],
    content_type: str,
    body: AsyncIterable[bytes],
    spool: Path,
) -> Upload:
    """Take one raw-body POST /upload: a chunk when the query has dzuuid, else a whole file."""
    filename = query.get("filename", "")
    if "dzuuid" in query:
        upload, chunk = _chunk(service, owner, query, filename, content_type)
        async with chunk as sink:
            async for piece in body:
                sink.write(piece)
        return upload
    scratch = _Spool(spool, service.limits.max_size)
    try:
        async for piece in body:
            scratch.write(piece)
        return await scratch.as_plain_upload(service, owner, filename, content_type)
    finally:
        scratch.close()


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
                    upload, chunk = _chunk_of_form(service, owner, reader)
                    target = await stack.enter_async_context(chunk)
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
            upload, chunk = _chunk_of_form(service, owner, reader)
            async with chunk as sink:
                target.file.seek(0)
                while block := target.file.read(_COPY_BLOCK):
                    sink.write(block)
            return upload
        return await target.as_plain_upload(
            service, owner, reader.filename or "", reader.content_type
        )


def _chunk(
    service: UploadService,
    owner: str,
    fields: Mapping[str, str],
    filename: str,
    content_type: str,
) -> tuple[Upload, AbstractAsyncContextManager[ChunkSink]]:
    """The upload a chunk's fields name (created on its first chunk) and the chunk's receiver.

    Every number is checked before anything is created."""
    index = _number(fields, "dzchunkindex")
    offset = _number(fields, "dzchunkbyteoffset")
    declared = _declared(fields, filename, content_type)
    upload = service.begin_chunked(owner, fields.get("dzuuid", ""), declared)
    return upload, service.chunk(upload, index, offset)


def _chunk_of_form(
    service: UploadService, owner: str, reader: FormReader
) -> tuple[Upload, AbstractAsyncContextManager[ChunkSink]]:
    return _chunk(service, owner, reader.fields, reader.filename or "", reader.content_type)
