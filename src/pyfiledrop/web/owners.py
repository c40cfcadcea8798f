"""Who owns an upload: a random secret the client keeps, of which the server keeps only a digest.

A browser on the page gets the secret as a cookie (`pyfiledrop_client`). A page of another site
that embeds the upload (see `embedding.py`) cannot rely on that cookie: browsers do not send it
with cross-site requests by default, and block third-party cookies more and more. Such a page
makes its own secret and sends it with every request in the `Pyfiledrop-Owner` header, which
then takes the cookie's place; so can any other client.

A request that signed in with an account (`access.py` puts its name in the request's state) is
the account's instead, whatever cookie or header it has: the account owns what it uploads, and
sees it again from any browser or client.
"""

from __future__ import annotations

import hashlib
import re
import secrets

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pyfiledrop import errors
from pyfiledrop.core.accounts import Uploader, account_owner
from pyfiledrop.web.refusal import error_response

OWNER_COOKIE = "pyfiledrop_client"
OWNER_HEADER = "Pyfiledrop-Owner"
_SECRET = re.compile(r"^[A-Za-z0-9_-]{43,64}$")  # 32 random bytes in base64url, up to 64 hex


class OwnerCookie:
    """Gives every client a random id in a cookie, unless it sends its own in the header;
    uploads are bound to a digest of it.

    The cookie is set only by the routes that bind uploads to a client, which ask for it with
    `owner_of`: the page (its first load sets it), POST /upload, the status call and tus creation;
    never on downloads, static files or other routes' answers.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        told = Headers(scope=scope).get(OWNER_HEADER)
        if told is not None and not _SECRET.match(told):
            refusal = errors.BAD_OWNER(
                f"{OWNER_HEADER} must be 43 to 64 letters, digits, '-' or '_': a random secret "
                "the client keeps, such as 32 random bytes in hex."
            )
            await error_response(refusal)(scope, receive, send)
            return
        token = told or Request(scope).cookies.get(OWNER_COOKIE, "")
        fresh = not _SECRET.match(token)
        if fresh:
            token = secrets.token_urlsafe(32)
        state = scope.setdefault("state", {})
        account = state.get("account")
        if account is not None:
            state["owner"] = account_owner(account)
        else:
            state["owner"] = hashlib.sha256(token.encode()).hexdigest()

        async def send_with_cookie(message: Message) -> None:
            if fresh and message["type"] == "http.response.start" and state.get("binds_owner"):
                path = scope.get("root_path", "") + "/"  # the app's own sub-path, or all
                cookie = f"{OWNER_COOKIE}={token}; Path={path}; Max-Age=315360000"
                cookie += "; HttpOnly; SameSite=Lax"
                if scope.get("scheme") == "https":  # also as a trusted proxy reports it
                    cookie += "; Secure"
                message.setdefault("headers", []).append((b"set-cookie", cookie.encode()))
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def owner_of(request: Request) -> str:
    """The client's owner id, for binding uploads to it: the answer sets the cookie if it is new."""
    request.state.binds_owner = True
    return str(request.state.owner)


def uploader_of(request: Request) -> Uploader:
    """Who makes an upload with this request: its owner, its account, its client's address
    (behind a trusted proxy, the one the proxy reports)."""
    client = request.scope.get("client")
    return Uploader(
        owner_of(request),
        getattr(request.state, "account", None),
        str(client[0]) if client else None,
    )
