"""Other sites may embed the upload: CORS for the origins in `--cors-origins`, on the upload
routes only (chunks and plain uploads, the status call, cancel). Downloads, the page and the rest
answer no cross-origin request, whatever the origin. (tus has CORS of its own: its clients
expect it from any origin, and send no cookie.)

No credentials are allowed: an embedding page binds its uploads with the `Pyfiledrop-Owner`
header (see `owners.py`), so it works where third-party cookies are blocked.
"""

from __future__ import annotations

import re

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from pyfiledrop.web.owners import OWNER_HEADER

_UPLOAD_ROUTES = re.compile(r"^/(?:uploads|upload(?:/[^/]+)?)$")
# What Dropzone 5 and 6 send with every chunk, and the owner header.
ALLOWED_HEADERS = [
    "Authorization", "Cache-Control", "Content-Type", "X-Requested-With", OWNER_HEADER,
    "Pyfiledrop-Download-Password", "Pyfiledrop-Max-Downloads",
]  # fmt: skip


class Embedding:
    """ASGI middleware: Starlette's CORS, for the upload routes and the listed origins."""

    def __init__(self, app: ASGIApp, origins: list[str]) -> None:
        self.app = app
        self.cors = CORSMiddleware(
            app,
            allow_origins=origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=ALLOWED_HEADERS,
            max_age=600,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        root, path = scope.get("root_path", ""), scope.get("path", "")
        if scope["type"] == "http" and _UPLOAD_ROUTES.match(path.removeprefix(root)):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)
