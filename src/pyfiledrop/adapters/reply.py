"""The answer to a whole file sent in one request: JSON for programs that ask for it, else the
download link alone on a line, which is what `curl -T` and `curl -F` users want printed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from pyfiledrop.core.model import Upload

Describe = Callable[..., Awaitable[dict[str, Any]]]  # (request, upload)


def asks_for_json(request: Request) -> bool:
    """Whether the client's Accept names JSON (Dropzone, the page and the CLI send it; curl's
    `*/*` does not)."""
    return "application/json" in request.headers.get("accept", "").lower()


async def finished(request: Request, upload: Upload, describe: Describe) -> Response:
    """The finished upload as JSON, or as one line of text: its link, or, with downloads turned
    off, what was stored."""
    found = await describe(request, upload)
    if asks_for_json(request):
        return JSONResponse(found)
    line = found.get("download_url") or (
        f"Stored {upload.filename} ({upload.size} bytes, SHA-256 {upload.sha256}); downloads are "
        "turned off on this server."
    )
    return PlainTextResponse(f"{line}\n")
