"""Downloads of local files: Starlette's FileResponse, with single ranges handed to the server.

Starlette sends a whole file as `http.response.pathsend` when the server offers it, but reads a
range itself, 64 KiB at a time through Python. A single range is what download managers and
resumed downloads ask for, so `SendfileResponse` sends it as `http.response.zerocopysend` (the
open file, an offset and a count) when the server offers that (web/sendfile.py does). Everything
else (HEAD, several ranges, 416, If-Range) stays Starlette's.
"""

from __future__ import annotations

import anyio
from starlette.datastructures import MutableHeaders
from starlette.responses import FileResponse
from starlette.types import Receive, Scope, Send

from pyfiledrop.web.sendfile import ZEROCOPYSEND


class SendfileResponse(FileResponse):
    """A FileResponse whose single ranges go out zero-copy when the server offers it."""

    zero_copy = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.zero_copy = ZEROCOPYSEND in scope.get("extensions", {})
        await super().__call__(scope, receive, send)

    async def _handle_single_range(
        self, send: Send, start: int, end: int, file_size: int, send_header_only: bool
    ) -> None:
        if send_header_only or not self.zero_copy:
            await super()._handle_single_range(send, start, end, file_size, send_header_only)
            return
        headers = MutableHeaders(raw=list(self.raw_headers))
        headers["content-range"] = f"bytes {start}-{end - 1}/{file_size}"
        headers["content-length"] = str(end - start)
        await send({"type": "http.response.start", "status": 206, "headers": headers.raw})
        file = await anyio.to_thread.run_sync(open, self.path, "rb")
        try:
            await send({"type": ZEROCOPYSEND, "file": file, "offset": start, "count": end - start})
        finally:
            file.close()
