"""Where absolute links point, and which Host headers are believed.

Links (a finished upload's `download_url`, tus `Location` and `Pyfiledrop-Download-Url`) start with
`--public-url` when it is set. Otherwise they use the scheme and host the client used: the request's
own, or, from a proxy listed in `--forwarded-allow-ips`, the first X-Forwarded-Proto and
X-Forwarded-Host. Without `--public-url`, a Host (or believed X-Forwarded-Host) that is not a
syntactically valid host[:port] is refused with 400, so no link ever carries what a client wrote
there beyond a host name.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from pyfiledrop import errors
from pyfiledrop.config import Settings

_HOST = re.compile(
    r"^(?:\[[0-9A-Fa-f:.]{2,45}\]|[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*\.?)(?::([0-9]{1,5}))?$"
)

Renderer = Callable[[str, errors.UploadError], Response]


def valid_host(value: str) -> bool:
    """host[:port] with host a name, an IPv4 address or a bracketed IPv6 address."""
    found = _HOST.match(value)
    return bool(found) and int(found.group(1) or 0) <= 65535  # type: ignore[union-attr]


def base_url(request: Request, public_url: str | None) -> str:
    """The start of every absolute link, without a trailing slash."""
    if public_url:
        return public_url.rstrip("/")
    return f"{request.url.scheme}://{request.url.netloc}"


class ClientFacing:
    """ASGI middleware: the scheme and Host the client used, as a trusted proxy reports them, are
    put in the scope; a Host that is not host[:port] is refused unless --public-url is set."""

    def __init__(self, app: ASGIApp, settings: Settings, render: Renderer) -> None:
        self.app = app
        self.trusted = settings.trusted_proxies
        self.check_host = settings.public_url is None
        self.render = render

    def _from_trusted_proxy(self, scope: Scope) -> bool:
        client = scope.get("client")
        try:
            address = ipaddress.ip_address(client[0]) if client else None
        except ValueError:
            return False
        return address is not None and any(address in network for network in self.trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if self._from_trusted_proxy(scope):
            proto = headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
            forwarded_host = headers.get("x-forwarded-host", "").split(",")[0].strip()
            scope = {**scope, "scheme": proto if proto in ("http", "https") else scope["scheme"]}
            if forwarded_host:
                scope["headers"] = [
                    *((name, value) for name, value in scope["headers"] if name != b"host"),
                    (b"host", forwarded_host.encode("latin-1")),
                ]
                headers = Headers(scope=scope)
        host = headers.get("host")
        if self.check_host and host is not None and not valid_host(host):
            refusal = errors.BAD_HOST("The Host header is not a valid host name with a port.")
            await self.render(scope["path"], refusal)(scope, receive, send)
            return
        await self.app(scope, receive, send)
