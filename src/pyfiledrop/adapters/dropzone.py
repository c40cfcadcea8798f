"""Dropzone.js uploads: chunked (dz* form fields) and plain one-request uploads, as in the seed.

Two body shapes. Multipart (Dropzone 5, and 6 by default): the dz* fields and a `file` part.
Raw (Dropzone 6's `binaryBody`, which the page uses, and the command-line client): the body is
the chunk itself and the dz* fields, plus `filename`, come in the query string; nothing to parse.
Either may add `expire` (`1h`: a shorter life for the finished file than the server's) and the
file's relative path in the folder it came from (`path` in the query, `fullPath` in a form, as
Dropzone names it), honoured when the upload is made (its first chunk, or the plain upload; in a
form, before the file part). The download terms (`core/sharing.py`) come as headers, read by the
routes and honoured likewise.

Dropzone sends its dz* fields before the file part, so a chunk's bytes stream straight to their
offset in the upload's partial file. Other clients may put the file first: its bytes are then
stored as a plain upload until the fields are known; if they turn out to name a chunk, the bytes
are copied into it and the plain upload removed. Either way nothing is written outside an upload
the metadata store knows.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterable, AsyncIterator, Mapping

from pyfiledrop import errors
from pyfiledrop.adapters.multipart import FormReader, boundary_of
from pyfiledrop.core.accounts import Uploader
from pyfiledrop.core.model import Upload
from pyfiledrop.core.receiving import Declared
from pyfiledrop.core.service import UploadService
from pyfiledrop.core.sharing import NO_TERMS, Terms

DZ_FIELDS = (
    "dzuuid",
    "dzchunkindex",
    "dztotalfilesize",
    "dzchunksize",
    "dztotalchunkcount",
    "dzchunkbyteoffset",
)
_NUMBER = re.compile(r"^[0-9]{1,19}$")


class _Form:
    """A multipart body read as far as the file part, whose bytes then come from `file_data`."""

    def __init__(self, content_type: str, body: AsyncIterable[bytes]) -> None:
        self.reader = FormReader(boundary_of(content_type))
        self._body = body

    async def until_file(self) -> None:
        async for piece in self._body:
            self.reader.feed(piece)
            if self.reader.file_started:
                return
        self._check_finished()
        raise errors.BAD_REQUEST("No file provided: send it in a form field named 'file'.")

    async def file_data(self) -> AsyncIterator[memoryview]:
        """The file part's bytes; raises at the end when the form is cut short."""
        for data in self.reader.take_file_data():
            yield data
        async for piece in self._body:
            self.reader.feed(piece)
            for data in self.reader.take_file_data():
                yield data
        self._check_finished()

    def _check_finished(self) -> None:
        if not self.reader.finished:
            raise errors.BAD_REQUEST("The request body ended before the multipart form did.")

    def names_a_chunk(self) -> bool:
        return all(name in self.reader.fields for name in DZ_FIELDS)


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
    owner: Uploader,
    query: Mapping[str, str],
    content_type: str,
    body: AsyncIterable[bytes],
    terms: Terms = NO_TERMS,
) -> Upload:
    """Take one raw-body POST /upload: a chunk when the query has dzuuid, else a whole file."""
    filename = query.get("filename", "")
    if "dzuuid" in query:
        return await _chunk(service, owner, query, filename, content_type, body, terms)
    return await service.receive_plain(
        owner, filename, content_type, body, query.get("expire"), _path(query), terms
    )


def _path(fields: Mapping[str, str]) -> str | None:
    """The relative path a request sent: `path` (query) or Dropzone's `fullPath` (form)."""
    return fields.get("path") or fields.get("fullPath")


async def known(
    service: UploadService, owner: Uploader, query: Mapping[str, str], terms: Terms = NO_TERMS
) -> Upload:
    """POST /upload/known: the fields of a chunk (no index, no bytes) plus `sha256`: the upload
    made complete at once from the asker's own content, or 404 (then send the file)."""
    declared = _declared(query, query.get("filename", ""), query.get("type", ""))
    return await service.begin_known(
        owner, query.get("dzuuid", ""), declared, query.get("sha256", ""), query.get("expire"),
        _path(query), terms,
    )  # fmt: skip


async def receive(
    service: UploadService,
    owner: Uploader,
    content_type: str,
    body: AsyncIterable[bytes],
    terms: Terms = NO_TERMS,
) -> Upload:
    """Take one multipart POST /upload; returns the upload it added to, as the request left it
    (finished, for a plain upload)."""
    form = _Form(content_type, body)
    await form.until_file()
    reader = form.reader
    filename, file_type = reader.filename or "", reader.content_type
    if form.names_a_chunk():
        fields, data = reader.fields, form.file_data()
        return await _chunk(service, owner, fields, filename, file_type, data, terms)
    scratch = await service.create_stream(
        owner, filename, file_type, None, protocol="plain", expire=reader.fields.get("expire"),
        relative_path=_path(reader.fields), terms=terms,
    )  # fmt: skip
    try:
        scratch = await service.append(scratch, 0, form.file_data(), keep_partial=False)
        if not any(name in reader.fields for name in DZ_FIELDS):
            return await service.finish_plain(scratch)
    except BaseException:
        await service.delete(scratch)
        raise
    try:  # the dz* fields came after the file: its bytes are a chunk
        contents = service.contents(scratch)
        return await _chunk(service, owner, reader.fields, filename, file_type, contents, terms)
    finally:
        await service.delete(scratch)


async def _chunk(
    service: UploadService,
    owner: Uploader,
    fields: Mapping[str, str],
    filename: str,
    content_type: str,
    data: AsyncIterable[bytes | memoryview],
    terms: Terms = NO_TERMS,
) -> Upload:
    """Store a chunk in the upload its fields name (made on its first chunk).

    Every number is checked before anything is created."""
    index = _number(fields, "dzchunkindex")
    offset = _number(fields, "dzchunkbyteoffset")
    declared = _declared(fields, filename, content_type)
    upload = await service.begin_chunked(
        owner, fields.get("dzuuid", ""), declared, fields.get("expire"), _path(fields), terms
    )
    return await service.receive_chunk(upload, index, offset, data)
