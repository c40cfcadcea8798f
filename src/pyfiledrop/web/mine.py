"""GET /uploads: the caller's own uploads, newest first, a page at a time.

"Own" is what the owner cookie or the Pyfiledrop-Owner header proves (see `owners.py`), so a
browser whose list was cleared sees its uploads again, and nobody sees anyone else's. The page
cursor (`next`, given back as `after`) is opaque to clients; a forged one is 400, and cannot widen
the listing beyond the caller's uploads because the owner filter is the server's.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pyfiledrop import errors
from pyfiledrop.core.interfaces import Position
from pyfiledrop.core.model import Upload
from pyfiledrop.core.service import UploadService
from pyfiledrop.web.owners import owner_of

PAGE_LIMIT = 100  # uploads per page at most (and by default)
_LIMIT = re.compile(r"^[0-9]{1,3}$")

Describe = Callable[[Request, Upload], Awaitable[dict[str, Any]]]


def cursor(position: Position | None) -> str | None:
    if position is None:
        return None
    raw = json.dumps([position.key, position.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def position(value: str, text: bool = False) -> Position:
    """The position a cursor names; UploadError (400) for anything this server did not make.
    Its key is a number (a time or a size), or with `text` a name."""
    try:
        key, upload_id = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise errors.BAD_REQUEST("`after` is not a cursor this server gave out.") from None
    number = isinstance(key, int | float) and not isinstance(key, bool)
    if not (isinstance(key, str) if text else number) or not isinstance(upload_id, str):
        raise errors.BAD_REQUEST("`after` is not a cursor this server gave out.")
    return Position(key, upload_id)


def routes(service: UploadService, describe: Describe) -> list[Route]:
    async def mine(request: Request) -> Response:
        owner = owner_of(request)
        after = request.query_params.get("after")
        limit = request.query_params.get("limit", str(PAGE_LIMIT))
        if not _LIMIT.match(limit) or not 1 <= int(limit) <= PAGE_LIMIT:
            raise errors.BAD_REQUEST(f"`limit` must be a whole number from 1 to {PAGE_LIMIT}.")
        page = await service.owned_page(owner, position(after) if after else None, int(limit))
        found = [await describe(request, upload) for upload in page.uploads]
        return JSONResponse({"uploads": found, "next": cursor(page.next)})

    return [Route("/uploads", mine)]
