"""A streaming reader for multipart/form-data bodies: small fields kept, the file part passed on.

Built on python-multipart's callback parser, so a chunk's bytes go from the socket to storage in the
pieces they arrive in and are never held whole in memory.
"""

from __future__ import annotations

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from pyfiledrop import errors

MAX_FIELDS = 64
MAX_FIELD_BYTES = 4096
MAX_BOUNDARY = 256  # python-multipart's parser refuses longer ones (RFC 2046 itself allows 70)


def boundary_of(content_type: str) -> bytes:
    """The boundary of a multipart/form-data Content-Type, or a 415/400 error."""
    kind, params = parse_options_header(content_type)
    if kind != b"multipart/form-data":
        raise errors.UNSUPPORTED_MEDIA(
            "Send the file as multipart/form-data in a field named 'file'."
        )
    boundary = params.get(b"boundary")
    if not boundary:
        raise errors.BAD_REQUEST("The multipart body has no boundary.")
    if len(boundary) > MAX_BOUNDARY:
        raise errors.BAD_REQUEST(f"The multipart boundary is longer than {MAX_BOUNDARY} bytes.")
    return boundary


class FormReader:
    """Feed it body pieces; read `fields`, and take the file bytes from `take_file_data()`.

    `file_started` turns true when the part named `file_field` begins; its name and type are then
    in `filename` and `content_type`.
    """

    def __init__(self, boundary: bytes, file_field: str = "file") -> None:
        self.fields: dict[str, str] = {}
        self.filename: str | None = None
        self.content_type = "application/octet-stream"
        self.file_started = False
        self.finished = False
        self._file_field = file_field
        self._in_file = False
        self._header_name = b""
        self._headers: dict[bytes, bytes] = {}
        self._value = bytearray()
        self._file_data: list[memoryview] = []
        self._parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._part_begin,
                "on_header_field": self._header_field,
                "on_header_value": self._header_value,
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished,
                "on_part_data": self._part_data,
                "on_part_end": self._part_end,
                "on_end": self._end,
            },
        )
        self._current_header_value = bytearray()

    def feed(self, data: bytes) -> None:
        try:
            self._parser.write(data)
        except MultipartParseError as exc:
            raise errors.BAD_REQUEST(f"The multipart body is malformed: {exc}") from exc

    def take_file_data(self) -> list[memoryview]:
        """The file bytes parsed since the last call, as views into the pieces fed."""
        data, self._file_data = self._file_data, []
        return data

    # python-multipart callbacks ------------------------------------------------------------------

    def _part_begin(self) -> None:
        self._headers = {}
        self._value = bytearray()
        self._in_file = False

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._current_header_value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._header_name.strip().lower()] = bytes(self._current_header_value).strip()
        self._header_name = b""
        self._current_header_value = bytearray()

    def _headers_finished(self) -> None:
        _, params = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = params.get(b"name", b"").decode("utf-8", "replace")
        filename = params.get(b"filename")
        if name == self._file_field and filename is not None:
            if self.file_started:
                raise errors.BAD_REQUEST("Send one file per request.")
            self.file_started = self._in_file = True
            self.filename = filename.decode("utf-8", "replace")
            ctype = self._headers.get(b"content-type", b"").decode("latin-1")
            self.content_type = ctype or self.content_type
        elif len(self.fields) >= MAX_FIELDS:
            raise errors.BAD_REQUEST(f"The form has more than {MAX_FIELDS} fields.")
        else:
            self._field_name = name

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._in_file:
            self._file_data.append(memoryview(data)[start:end])
            return
        self._value += data[start:end]
        if len(self._value) > MAX_FIELD_BYTES:
            raise errors.BAD_REQUEST(f"A form field is longer than {MAX_FIELD_BYTES} bytes.")

    def _part_end(self) -> None:
        if not self._in_file:
            self.fields[self._field_name] = self._value.decode("utf-8", "replace")
        self._in_file = False

    def _end(self) -> None:
        self.finished = True
