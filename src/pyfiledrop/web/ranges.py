"""Downloads streamed from a storage without local files: one byte range per request (RFC 9110
section 14), answered 206 or 416; anything else sends the whole file, as a range may be ignored."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from pyfiledrop.core.interfaces import RangeReads

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def wanted_range(header: str | None, size: int) -> tuple[int, int] | None | str:
    """[start, end) asked for; None for the whole file; "unsatisfiable" for a 416."""
    found = _RANGE.match((header or "").strip().replace(" ", ""))
    if not found or found.group(1) == found.group(2) == "":
        return None  # absent, several ranges or malformed: the whole file
    first, last = found.group(1), found.group(2)
    if first == "":  # the last N bytes
        suffix = int(last)
        return (max(0, size - suffix), size) if suffix > 0 and size > 0 else "unsatisfiable"
    start = int(first)
    end = min(int(last) + 1, size) if last else size
    if start >= size or (last and int(last) < start):
        return "unsatisfiable"
    return start, end


async def streamed(
    request: Request, reader: RangeReads, key: str, size: int, headers: Mapping[str, str]
) -> Response:
    """The file under `key` (or the range asked for) as the storage streams it. The first block
    is read before the answer starts, so a store that is down gives an error (OSError), not a
    cut-off 200."""
    sent = {**headers, "Accept-Ranges": "bytes"}
    asked = request.headers.get("range")
    if_range = request.headers.get("if-range")
    span = wanted_range(asked, size) if not if_range or if_range == headers["ETag"] else None
    if span == "unsatisfiable":
        return Response(status_code=416, headers={**sent, "Content-Range": f"bytes */{size}"})
    status = 200
    start, end = 0, size
    if isinstance(span, tuple):
        start, end = span
        status = 206
        sent["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    sent["Content-Length"] = str(end - start)
    if request.method == "HEAD" or start == end:
        return Response(status_code=status, headers=sent)
    blocks = reader.read_range(key, start, end)
    first = await anext(blocks, b"")

    async def body() -> AsyncIterator[bytes]:
        yield first
        async for block in blocks:
            yield block

    return StreamingResponse(body(), status_code=status, headers=sent)
