"""Where absolute links point, under which path the app lives, and which Host headers are believed.

Links (a finished upload's `download_url`, tus `Location` and `Pyfiledrop-Download-Url`) start with
`--public-url` when it is set. Otherwise they use the scheme and host the client used: the request's
own, or, from a proxy listed in `--forwarded-allow-ips`, those of RFC 7239's `Forwarded` (its last
element's `proto` and `host`: the one that proxy added) or else the first X-Forwarded-Proto and
X-Forwarded-Host (which nginx, as the README sets it up, replaces rather than appends). Without
`--public-url`, a Host (or believed forwarded host) that is not a syntactically valid host[:port]
is refused with 400, so no link ever carries what a client wrote there beyond a host name.

The app may live under a sub-path: the `X-Forwarded-Prefix` of a trusted proxy that strips it, or
else `--root-path` (for proxies that send no prefix, whether they strip it or not). It becomes the
ASGI `root_path`, so routes match without it and links, the page's `<base>` and the owner cookie's
`Path` carry it. A prefix that is not a plain path is refused with 400.
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
from pyfiledrop.config import Settings, is_url_path

# One `name=value` of a Forwarded header and what follows it: `;` (same element), `,` (next).
_FORWARDED_PAIR = re.compile(r'\s*([A-Za-z]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;,\s]*)\s*([;,]|$)')
_HOST = re.compile(
    r"^(?:\[[0-9A-Fa-f:.]{2,45}\]|[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*\.?)(?::([0-9]{1,5}))?$"
)

Renderer = Callable[[str, errors.UploadError], Response]


def valid_host(value: str) -> bool:
    """host[:port] with host a name, an IPv4 address or a bracketed IPv6 address."""
    found = _HOST.match(value)
    return bool(found) and int(found.group(1) or 0) <= 65535  # type: ignore[union-attr]


def forwarded(value: str) -> dict[str, str]:
    """The parameters of the last element of an RFC 7239 `Forwarded` header (the one the proxy
    next to us added: the ones before it are whatever the client and farther proxies wrote),
    names in lower case, quoted values unquoted; what cannot be parsed ends the header."""
    found: dict[str, str] = {}
    position = 0
    while position < len(value):
        pair = _FORWARDED_PAIR.match(value, position)
        if pair is None or pair.end() == position:
            break
        name, raw, separator = pair.groups()
        if raw.startswith('"'):
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
        found.setdefault(name.lower(), raw)
        position = pair.end()
        if separator == "," and position < len(value):
            found = {}  # another element follows: only the last one counts
    return found


def base_url(request: Request, public_url: str | None) -> str:
    """The start of every absolute link, the app's sub-path included, without a trailing slash."""
    if public_url:
        return public_url.rstrip("/")
    return f"{request.url.scheme}://{request.url.netloc}{request.scope.get('root_path', '')}"


class ClientFacing:
    """ASGI middleware: the scheme, Host and sub-path the client used, as a trusted proxy reports
    them or as --root-path sets it, are put in the scope; a Host that is not host[:port] is
    refused unless --public-url is set, as is a prefix that is not a plain path."""

    def __init__(self, app: ASGIApp, settings: Settings, render: Renderer) -> None:
        self.app = app
        self.trusted = settings.trusted_proxies
        self.check_host = settings.public_url is None
        self.root_path = settings.root_path
        self.render = render

    def _trusted(self, host: str) -> bool:
        try:
            address = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            return False
        return any(address in network for network in self.trusted)

    def _from_trusted_proxy(self, scope: Scope) -> bool:
        client = scope.get("client")
        return client is not None and self._trusted(client[0])

    def _client(self, told: dict[str, str], headers: Headers) -> str | None:
        """The client a trusted proxy reports: Forwarded's `for`, else the nearest address in
        X-Forwarded-For that is not itself a trusted proxy (the ones before it are whatever the
        client wrote)."""
        node = told.get("for", "")
        if node.startswith("["):  # "[2001:db8::1]:4711"
            return node[1:].split("]", 1)[0]
        if node:  # "192.0.2.60:4711", "192.0.2.60", or an obfuscated name such as "_proxy"
            return node.split(":", 1)[0]
        hops = [hop.strip() for hop in headers.get("x-forwarded-for", "").split(",") if hop.strip()]
        for hop in reversed(hops):
            if not self._trusted(hop):
                return hop
        return hops[0] if hops else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        prefix, stripped = self.root_path, False
        if self._from_trusted_proxy(scope):
            told = forwarded(headers.get("forwarded", ""))
            proto = told.get("proto") or headers.get("x-forwarded-proto", "").split(",")[0]
            proto = proto.strip().lower()
            forwarded_host = told.get("host") or headers.get("x-forwarded-host", "").split(",")[0]
            forwarded_host = forwarded_host.strip()
            scope = {**scope, "scheme": proto if proto in ("http", "https") else scope["scheme"]}
            if forwarded_host:
                scope["headers"] = [
                    *((name, value) for name, value in scope["headers"] if name != b"host"),
                    (b"host", forwarded_host.encode("latin-1")),
                ]
                headers = Headers(scope=scope)
            client = self._client(told, headers)
            if client:
                scope["client"] = (client, 0)
            if "x-forwarded-prefix" in headers:
                prefix = headers["x-forwarded-prefix"].split(",")[0].strip().rstrip("/")
                stripped = True  # a proxy that names the prefix has taken it off the path
        host = headers.get("host")
        refusal = None
        if self.check_host and host is not None and not valid_host(host):
            refusal = errors.BAD_HOST("The Host header is not a valid host name with a port.")
        elif not is_url_path(prefix):
            refusal = errors.BAD_HOST("X-Forwarded-Prefix is not a plain URL path.")
        if refusal is not None:
            await self.render(scope["path"], refusal)(scope, receive, send)
            return
        if prefix:
            path = scope["path"]
            if stripped or not (path == prefix or path.startswith(prefix + "/")):
                path = prefix + path  # --root-path: a proxy may have stripped it or not
            scope = {**scope, "root_path": prefix, "path": path if path != prefix else path + "/"}
        await self.app(scope, receive, send)
