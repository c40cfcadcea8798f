"""The request log: one `pyfiledrop.refusals` line for every request answered with an
`UploadError` (its status, code, message and the client), and with `--access-log` one
`pyfiledrop.access` line for every request; whatever the flag, a warning for each request cut
off when the server stops (after `--shutdown-timeout`).

`access_log` wraps the whole app (web/server.py puts it around the turns), so a refusal made
anywhere below it, the turns' 503 included, is seen. Refusals made before a request
reaches the app (web/server.py: 408, 431, the connection cap's 503) are logged there with
`refused`. Lines name the client as `links.ClientFacing` found it (`note_client`): behind a
trusted proxy, the address the proxy reports.

Paths are logged without secrets: the token of a download link or a share page (`/s/<token>`)
is replaced by `[token]`, query values are dropped except those known to be harmless (the names
stay: a delete link's key is not), and a path longer than `MAX_PATH` is cut.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pyfiledrop import errors
from pyfiledrop.logs import Seen, current, fields
from pyfiledrop.web.sendfile import PATHSEND, ZEROCOPYSEND

access = logging.getLogger("pyfiledrop.access")
refusals = logging.getLogger("pyfiledrop.refusals")

MAX_PATH = 256
_TOKEN = re.compile(r"/(download|s)/[^/]+")  # a download link, a share page
_SHOWN_VALUES = frozenset({"wait", "dzuuid", "dzchunkindex", "dztotalchunkcount",
                           "dzchunksize", "dztotalfilesize", "dzchunkbyteoffset"})  # fmt: skip


def redact(path: str, query: str = "") -> str:
    """The path and query as logs may show them."""
    shown = _TOKEN.sub(r"/\1/[token]", path)
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        shown += "?" + "&".join(
            f"{key}={value if key in _SHOWN_VALUES else '...'}" for key, value in pairs
        )
    return shown if len(shown) <= MAX_PATH else shown[:MAX_PATH] + "..."


def client_of(scope: Scope) -> str | None:
    client = scope.get("client")
    return str(client[0]) if client else None


def note_client(app: ASGIApp) -> ASGIApp:
    """Put inside `links.ClientFacing`: the client it found (from a trusted proxy, the address
    the proxy reports) becomes the one the request's lines name."""

    async def noted(scope: Scope, receive: Receive, send: Send) -> None:
        seen, client = current.get(), client_of(scope)
        if seen is not None and client is not None:
            seen.client = client
        await app(scope, receive, send)

    return noted


def refused(exc: errors.UploadError, seen: Seen) -> None:
    """Log one refusal: overload and server-side failures as warnings, the rest as info."""
    level = logging.WARNING if exc.status >= 500 else logging.INFO
    extra = fields(status=exc.status, code=exc.code, reason=exc.message, client=seen.client,
                   method=seen.method, path=seen.path)  # fmt: skip
    refusals.log(level, "request refused", extra=extra)


def access_log(app: ASGIApp, enabled: bool) -> ASGIApp:
    """Set `logs.current` for each request; log its refusal, and with `enabled` the request."""

    async def logged(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        path = redact(scope["path"], scope.get("query_string", b"").decode("latin-1"))
        seen = Seen(client_of(scope), scope["method"], path)
        current.set(seen)  # this request's task (and the tasks it starts) see it
        started = time.monotonic()
        status, sent, received = 500, 0, 0  # 500: what uvicorn answers if the app raises
        length = 0  # the answer's Content-Length: what a whole-file sendfile sends

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            return message

        async def counting_send(message: Message) -> None:
            nonlocal status, sent, length
            kind = message["type"]
            if kind == "http.response.start":
                status = message["status"]
                declared = dict(message.get("headers", [])).get(b"content-length", b"0")
                length = int(declared) if declared.isdigit() else 0
            elif kind == "http.response.body":
                sent += len(message.get("body", b""))
            elif kind in (PATHSEND, ZEROCOPYSEND):  # web/sendfile.py: files go out with sendfile
                sent += message.get("count") or length
            await send(message)

        try:
            await app(scope, counting_receive, counting_send)
        except asyncio.CancelledError:  # the server stops and --shutdown-timeout has passed
            extra = fields(method=seen.method, path=path, client=seen.client, received=received,
                           seconds=round(time.monotonic() - started, 3))  # fmt: skip
            access.warning("request cut off at shutdown", extra=extra)
            raise
        finally:
            if seen.refusal is not None:
                refused(seen.refusal, seen)
            if enabled:
                extra = fields(method=seen.method, path=path, status=status, bytes=sent,
                               received=received, seconds=round(time.monotonic() - started, 6),
                               client=seen.client)  # fmt: skip
                access.info("request", extra=extra)

    return logged
