"""Who may upload (`--upload-password` or accounts; anyone when neither is set, as the seed) and
who may use the admin page (`--admin-password` or an admin account; nobody when neither is set).

Each is a `Realm`: its session cookie, the path that cookie is sent to, its sign-in form and
its key. A client proves who it is on every request with HTTP Basic credentials (an account's
name and password; for the shared password, any name), with `Authorization: Bearer <token>` (an
account's token, `pyfiledrop user token add`), or with the session cookie that signing in on a
page sets. The command-line client, curl, tus clients and scripts use the first two.

Sessions of the shared password are `expiry.nonce.mac`, the MAC keyed by a key derived from the
password and the realm: every process that knows the password checks it alone; changing the
password ends every session; a session of one realm never opens another, even when both have
the same password. Sessions of accounts are `web/accounts.py`'s, keyed by the account's stored
hash: a new password or the account's removal ends them in every process at once.

Uploads need credentials once accounts exist (each process asks the database at most every
`accounts.EXISTS_SECONDS`) or --upload-password is set; a request that passes with an account
carries its name in `scope["state"]["account"]`, which makes the account the upload's owner.

Wrong passwords and tokens are limited per client address (what `links.ClientFacing` found, so
behind a trusted proxy the browser's address, not the proxy's): after `FAILURES` in `WINDOW`
seconds, 429 until the window has passed. The count is per process; with --workers N an address
gets at most N times as many tries.

An upload request refused here is answered before its body is read and before anything is
created: it costs no disk.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qs

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from pyfiledrop import errors
from pyfiledrop.core.accounts import Account
from pyfiledrop.web.accounts import Credentials, as_slow_as_a_password, is_account_session
from pyfiledrop.web.page import render_sign_in
from pyfiledrop.web.refusal import error_response

SESSION_SECONDS = 7 * 24 * 3600
FAILURES = 10  # wrong passwords an address may send ...
WINDOW = 60.0  # ... in this many seconds
_ADDRESSES = 10_000  # addresses remembered at most; the oldest are forgotten first
_FORM_LIMIT = 4096  # bytes of a page's small form (sign-in, share page) read at most
# Chunks and plain uploads, the status call, cancel, the list of one's uploads; tus but its
# downloads.
_GUARDED = re.compile(r"^/(?:uploads|upload(?:/[^/]+)?|files/.*)$")

Renderer = Callable[[str, errors.UploadError], Response]


class Failures:
    """Wrong passwords per client address over the last `WINDOW` seconds, in this process."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._seen: OrderedDict[str, deque[float]] = OrderedDict()

    def retry_after(self, address: str) -> int:
        """Seconds until `address` may try again; 0 when it may now. Remembers nothing: only
        wrong passwords take room."""
        times = self._recent(address)
        if len(times) < FAILURES:
            return 0
        return max(1, int(times[0] + WINDOW - self.clock()) + 1)

    def add(self, address: str) -> None:
        times = self._recent(address)
        times.append(self.clock())
        self._seen[address] = times
        self._seen.move_to_end(address)
        while len(self._seen) > _ADDRESSES:
            self._seen.popitem(last=False)

    def _recent(self, address: str) -> deque[float]:
        times = self._seen.get(address, deque())
        while times and times[0] <= self.clock() - WINDOW:
            times.popleft()
        return times


@dataclass(frozen=True)
class Realm:
    """What a password guards, and how its sessions look: a cookie of its own, sent only under
    `path` (below the app's sub-path), with a key derived with its own `salt`."""

    cookie: str
    path: str  # "" for the whole app, "/admin" for the admin page and its API
    same_site: str  # "Lax" lets a link from elsewhere open the page; "Strict" does not
    salt: bytes
    name: str  # HTTP Basic's realm
    needed: str  # the text (a key of static/text.js) the sign-in page opens with
    asks: str  # what a request without the password is told
    admins_only: bool = False  # accounts pass only if they are admin accounts


UPLOADS = Realm(
    "pyfiledrop_session", "", "Lax", b"pyfiledrop sessions", "pyfiledrop uploads", "signInNeeded",
    "Uploads need the password or an account: sign in on the page, or send an account's name and "
    "password (or the upload password, with any name) as HTTP Basic credentials, or an "
    "account's token as Authorization: Bearer.",
)  # fmt: skip
ADMIN = Realm(
    "pyfiledrop_admin", "/admin", "Strict", b"pyfiledrop admin sessions", "pyfiledrop admin",
    "adminSignInNeeded",
    "The admin page needs the admin password or an admin account: sign in on /admin, or send "
    "them as HTTP Basic credentials (any name with the admin password), or an admin account's "
    "token as Authorization: Bearer.",
    admins_only=True,
)  # fmt: skip


class PasswordAccess:
    """A realm's shared password and, with `credentials`, its accounts: checked as Basic
    credentials, a bearer token, or a session they signed."""

    def __init__(
        self,
        password: str | None,
        realm: Realm = UPLOADS,
        clock: Callable[[], float] = time.time,
        credentials: Credentials | None = None,
    ) -> None:
        self.password_set = bool(password)
        self.realm = realm
        self.clock = clock
        self.credentials = credentials
        secret = (password or "").encode()
        self._digest = hashlib.sha256(secret).digest()
        # Slow on purpose (about 50 ms, once at start): a stolen session does not make guessing
        # the password cheap.
        self._key = hashlib.scrypt(secret, salt=realm.salt, n=2**14, r=8, p=1) if secret else b""
        self.failures = Failures()

    async def required(self) -> bool:
        """Whether the realm is closed: its password is set, or it has accounts."""
        if self.password_set:
            return True
        return self.credentials is not None and await self.credentials.exist(self.realm.admins_only)

    async def asks_names(self) -> bool:
        """Whether the sign-in form asks for a name: the realm has accounts."""
        return self.credentials is not None and await self.credentials.exist(self.realm.admins_only)

    async def check(self, scope: Scope) -> errors.UploadError | None:
        """Why this request may not pass, or None: nothing is required, or it carries a valid
        session, Basic credentials or token. The account it proved, if any, goes into
        `scope["state"]["account"]`. A wrong password or token counts against its client's
        address."""
        try:  # the database may be unavailable: 503, as for any request that needs it
            if not await self.required():
                return None
            account = await self._identify(scope)
        except errors.UploadError as refusal:
            return refusal
        if account is not None:
            scope.setdefault("state", {})["account"] = account.name
        return None

    async def _identify(self, scope: Scope) -> Account | None:
        session = Request(scope).cookies.get(self.realm.cookie)
        if session and is_account_session(session) and self.credentials:
            account = await self.credentials.by_session(session, self.realm.salt)
            if account is not None and (account.admin or not self.realm.admins_only):
                return account
        elif session and self.password_set and self.session_ok(session):
            return None
        scheme, _, value = Headers(scope=scope).get("authorization", "").partition(" ")
        if scheme.lower() not in ("basic", "bearer"):
            raise errors.UNAUTHORIZED(self.realm.asks)
        address = client_address(scope)
        if self.failures.retry_after(address):
            raise errors.TOO_MANY_TRIES("Too many wrong passwords; try again later.")
        if scheme.lower() == "bearer":
            found = await self.credentials.by_token(value.strip()) if self.credentials else None
            if found is None:
                self.failures.add(address)
                raise errors.WRONG_TOKEN("This token is not valid (or no longer).")
            return self._admitted(found)
        name, password = basic_credentials(value)
        passed, account = await self.verify(name, password)
        if not passed:
            self.failures.add(address)
            names = name and await self.asks_names()
            raise errors.WRONG_PASSWORD("Wrong name or password." if names else "Wrong password.")
        return self._admitted(account) if account else None

    def _admitted(self, account: Account) -> Account:
        if self.realm.admins_only and not account.admin:
            raise errors.NOT_ADMIN(f"The account {account.name} may not use the admin page.")
        return account

    async def verify(self, name: str, password: str) -> tuple[bool, Account | None]:
        """Whether `name` and `password` pass, and the account they name: an account's own
        password, or the shared password (whatever the name)."""
        if name and self.credentials is not None:
            account = await self.credentials.by_password(name, password)
            if account is not None:
                return True, account
        if self.password_set and self.password_ok(password):
            return True, None
        await as_slow_as_a_password()
        return False, None

    def password_ok(self, given: str) -> bool:
        return hmac.compare_digest(hashlib.sha256(given.encode()).digest(), self._digest)

    def new_session(self) -> str:
        body = f"{int(self.clock()) + SESSION_SECONDS}.{secrets.token_urlsafe(16)}"
        return f"{body}.{self._mac(body)}"

    def session_ok(self, value: str) -> bool:
        body, _, mac = value.rpartition(".")
        expires = body.split(".", 1)[0]
        if not expires.isdigit() or not hmac.compare_digest(mac, self._mac(body)):
            return False
        return int(expires) > self.clock()

    def session_cookie(self, request: Request, value: str, max_age: int) -> str:
        """The session cookie: HttpOnly, the realm's SameSite, Secure when the client came over
        HTTPS, for the realm's path under the app's sub-path."""
        path = request.scope.get("root_path", "") + (self.realm.path or "/")
        cookie = (
            f"{self.realm.cookie}={value}; Path={path}; Max-Age={max_age}; HttpOnly; "
            f"SameSite={self.realm.same_site}"
        )
        return cookie + ("; Secure" if request.url.scheme == "https" else "")

    async def refused(
        self, request: Request, refusal: errors.UploadError, headers: dict[str, str]
    ) -> Response:
        """The realm's page for a request that may not see it: why, as JSON, to a program; the
        sign-in page to a browser (401, 403 or 429 when a password was wrong, else 200)."""
        if "text/html" not in request.headers.get("accept", ""):
            return error_response(refusal)
        shown = {"wrong_password": "wrongPassword", "too_many_tries": "tooManyTries",
                 "wrong_token": "wrongPassword", "not_admin": "notAdmin"}  # fmt: skip
        why = shown.get(refusal.code)
        html = await self.sign_in_page(request, why)
        return HTMLResponse(html, refusal.status if why else 200, headers)

    async def sign_in_page(self, request: Request, why: str | None) -> str:
        root = request.scope.get("root_path", "")
        names = await self.asks_names()
        if names and why == "wrongPassword":
            why = "wrongNameOrPassword"
        needed = self.realm.needed + ("Account" if names else "")
        return render_sign_in(
            root, why, self.realm.path.lstrip("/"), needed, names, self.password_set
        )

    def _mac(self, body: str) -> str:
        digest = hmac.new(self._key, body.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def basic_credentials(encoded: str) -> tuple[str, str]:
    """The name and password of `Authorization: Basic`'s value; empty for a malformed one."""
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return "", ""
    name, _, password = decoded.partition(":")
    return name, password


def client_address(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


class UploadGuard:
    """ASGI middleware: the upload routes (Dropzone's, tus' and every PUT) need the password,
    when one is set; 401 without it, 429 after too many wrong ones."""

    def __init__(self, app: ASGIApp, access: PasswordAccess, render: Renderer) -> None:
        self.app = app
        self.access = access
        self.render = render

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] == "OPTIONS":
            await self.app(scope, receive, send)
            return
        root, path = scope.get("root_path", ""), scope["path"]
        route = path.removeprefix(root) if root else path
        guarded = (_GUARDED.match(route) or scope["method"] == "PUT") and not (
            route.startswith("/files/") and scope["method"] == "GET"  # a tus download
        )
        refusal = await self.access.check(scope) if guarded else None
        if refusal is None:
            await self.app(scope, receive, send)
            return
        response = self.render(route, refusal)
        if refusal.status == 401:
            response.headers["WWW-Authenticate"] = f'Basic realm="{self.access.realm.name}"'
        elif refusal.status == 429:
            response.headers["Retry-After"] = str(
                self.access.failures.retry_after(client_address(scope))
            )
        await response(scope, receive, send)


async def small_form(request: Request) -> dict[str, str]:
    """A page's urlencoded form, each field's first value, from the body's first `_FORM_LIMIT`
    bytes; the rest is not read (nor kept in memory)."""
    body = bytearray()
    async for piece in request.stream():
        body += piece
        if len(body) >= _FORM_LIMIT:
            break
    text = bytes(body[:_FORM_LIMIT]).decode("utf-8", "replace")
    return {name: values[0] for name, values in parse_qs(text).items()}


def routes(access: PasswordAccess, page_headers: dict[str, str]) -> list[Route]:
    """POST <realm's path>/sign-in (a page's form, a name and a password: 303 back to the page
    with a session, or the form again with why not) and POST <realm's path>/sign-out."""
    home = f"../{access.realm.path.strip('/')}" if access.realm.path else "./"

    async def sign_in(request: Request) -> Response:
        form = await small_form(request)  # a name (may be empty) and a password
        name = form.get("name", "").strip()
        given = form.get("password", "")
        address = client_address(request.scope)
        if access.failures.retry_after(address):
            refused = await access.sign_in_page(request, "tooManyTries")
            retry = str(access.failures.retry_after(address))
            return HTMLResponse(refused, 429, headers={**page_headers, "Retry-After": retry})
        passed, account = await access.verify(name, given)
        if not passed:
            access.failures.add(address)
            refused = await access.sign_in_page(request, "wrongPassword")
            return HTMLResponse(refused, 401, headers=page_headers)
        if account is not None and access.realm.admins_only and not account.admin:
            refused = await access.sign_in_page(request, "notAdmin")
            return HTMLResponse(refused, 403, headers=page_headers)
        if account is not None and access.credentials is not None:
            session = access.credentials.new_session(account, access.realm.salt, SESSION_SECONDS)
        else:
            session = access.new_session()
        response = RedirectResponse(home, status_code=303)
        response.headers["Set-Cookie"] = access.session_cookie(request, session, SESSION_SECONDS)
        return response

    async def sign_out(request: Request) -> Response:
        response = RedirectResponse(home, status_code=303)
        response.headers["Set-Cookie"] = access.session_cookie(request, "", 0)
        return response

    return [
        Route(f"{access.realm.path}/sign-in", sign_in, methods=["POST"]),
        Route(f"{access.realm.path}/sign-out", sign_out, methods=["POST"]),
    ]
