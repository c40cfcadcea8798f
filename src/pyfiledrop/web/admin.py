"""The admin page and its JSON API, behind `--admin-password` or an admin account (`pyfiledrop
user add NAME --admin`): with neither, all of it is 404 (off, not open). The upload password and
accounts that are not admin accounts open none of it.

Routes, under the app's sub-path:
    GET  /admin                          the page (static/admin.js), or its sign-in page
    POST /admin/sign-in, /admin/sign-out the page's session (access.py, realm ADMIN)
    GET  /admin/api/uploads              a page of uploads: ?state= (repeatable) &q= &sort=
                                         created|updated|size|name &order=asc|desc &after= &limit=
    GET  /admin/api/summary              counts per state, bytes stored, uploads per day
    POST /admin/api/uploads/{id}/delete  its bytes and its record (`UploadService.delete`)
    POST /admin/api/uploads/{id}/expiry  {"expires_at": seconds since the epoch, or null}
    POST /admin/api/abandoned/remove     the records of abandoned uploads (bytes already freed)

Who: the session cookie `pyfiledrop_admin` (HttpOnly, SameSite=Strict, Path=<sub-path>/admin),
or, for scripts, HTTP Basic credentials (the admin password with any name, or an admin account's
name and password) or an admin account's token (`Authorization: Bearer`). 401 without any, 403
for an account that is not an admin, 429 after too many wrong passwords from one address. The
API is described in the app's OpenAPI document, /openapi.json. Browsers are sent no Basic
challenge (it would pop up a password dialog over the page's own sign-in); programs are.

Cross-site requests change nothing: the cookie is SameSite=Strict, and every POST from a browser
must come from this very origin (Sec-Fetch-Site same-origin, or else an Origin equal to the
server's own or --public-url's), with a JSON body (a cross-site form cannot send one without a
preflight that CORS refuses); else 403. A program sends neither header and authenticates itself.
Errors are JSON: {"error": a message for a person, "code": a stable code}.
"""

from __future__ import annotations

import html
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from string import Template
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from pyfiledrop import errors
from pyfiledrop.config import Settings
from pyfiledrop.core.model import State, Upload
from pyfiledrop.core.service import UploadService
from pyfiledrop.web import admin_views as views
from pyfiledrop.web.access import PasswordAccess, client_address
from pyfiledrop.web.access import routes as access_routes
from pyfiledrop.web.page import page_headers
from pyfiledrop.web.refusal import error_response

TEMPLATE = Path(__file__).parent / "templates" / "admin.html"
_BODY_LIMIT = 4096  # bytes of a JSON body read at most
_ID = "{upload_id}"
_PRIVATE = {"Cache-Control": "no-store"}  # every upload's name and owner: kept by no cache

Handler = Callable[[Request], Awaitable[Response]]
Link = Callable[[Request, Upload], str]


def error(exc: errors.UploadError, access: PasswordAccess, request: Request) -> JSONResponse:
    response = error_response(exc, _PRIVATE)
    if exc.status == 401 and "sec-fetch-site" not in request.headers:
        response.headers["WWW-Authenticate"] = f'Basic realm="{access.realm.name}"'
    elif exc.status == 429:
        retry = access.failures.retry_after(client_address(request.scope))
        response.headers["Retry-After"] = str(max(retry, 1))
    return response


def same_origin(request: Request, public_url: str | None) -> bool:
    """Whether a browser sent this request from the server's own pages (a program sends neither
    header, and is taken at its credentials)."""
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site in ("same-origin", "none")  # "none": typed or bookmarked by the person
    origin = request.headers.get("origin")
    if origin is None:
        return True
    own = {f"{request.url.scheme}://{request.url.netloc}"}
    if public_url:
        parts = urlsplit(public_url)
        own.add(f"{parts.scheme}://{parts.netloc}")
    return origin in own


async def json_body(request: Request) -> Any:
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise errors.UNSUPPORTED_MEDIA("Send the request's body as application/json.")
    body = await request.body()
    if len(body) > _BODY_LIMIT:
        raise errors.TOO_LARGE(f"The body is larger than the {_BODY_LIMIT} bytes allowed.")
    try:
        return json.loads(body or b"{}")
    except ValueError:
        raise errors.BAD_REQUEST("The body is not JSON.") from None


def render(root_path: str) -> str:
    """The page: its texts and data come from static/admin.js and the API."""
    return Template(TEMPLATE.read_text()).substitute(base=html.escape(root_path + "/"))


def routes(
    settings: Settings, service: UploadService, access: PasswordAccess, link: Link
) -> list[Route]:
    """The admin routes. While there is neither an admin password nor an admin account, every
    one of them answers 404 (asked again at most every `accounts.EXISTS_SECONDS`)."""
    records, clock = service.oversight, service.clock
    headers = {**page_headers(settings), **_PRIVATE}

    def guarded(handler: Handler) -> Handler:
        """The admin password (a session or Basic credentials), and for a POST the same origin
        and a JSON body (`request.state.body`; `{}` when a step needs no values); errors as JSON
        with their challenge or Retry-After."""

        async def checked(request: Request) -> Response:
            if not await access.required():
                return await off(request)
            try:
                refusal = await access.check(request.scope)
                if refusal is not None:
                    raise refusal
                if request.method == "POST":
                    if not same_origin(request, settings.public_url):
                        raise errors.CROSS_SITE("Changes come only from the admin page itself.")
                    request.state.body = await json_body(request)
                return await handler(request)
            except errors.UploadError as exc:
                return error(exc, access, request)

        return checked

    def when_on(handler: Handler) -> Handler:
        async def on(request: Request) -> Response:
            return await handler(request) if await access.required() else await off(request)

        return on

    async def page(request: Request) -> Response:
        refusal = await access.check(request.scope)
        if refusal is not None:
            refused = await access.refused(request, refusal, headers)
            if refused.status_code == 401 and "sec-fetch-site" not in request.headers:
                refused.headers["WWW-Authenticate"] = f'Basic realm="{access.realm.name}"'
            return refused
        return HTMLResponse(render(request.scope.get("root_path", "")), headers=headers)

    async def uploads(request: Request) -> Response:
        listing = views.listing(request.query_params)
        found = await records.page(listing)
        now = clock.now()
        chunked = [
            u.id for u in found.uploads if u.state == State.RECEIVING and u.protocol == "dropzone"
        ]
        received = await records.chunks_received(chunked)
        rows = []
        for upload in found.uploads:
            shown = views.row(upload, now, received.get(upload.id))
            downloadable = upload.state == State.COMPLETE and not upload.expired(now)
            if settings.allow_downloads and downloadable:
                shown["download_url"] = link(request, upload)
            rows.append(shown)
        after = views.page_cursor(found.next, listing.sort, listing.descending)
        return JSONResponse({"now": now, "uploads": rows, "next": after}, headers=_PRIVATE)

    async def summary(request: Request) -> Response:
        now = clock.now()
        found = await records.summary(views.since(now))
        return JSONResponse(views.summary(found, now), headers=_PRIVATE)

    async def find(request: Request) -> Upload:
        upload = await records.find(request.path_params["upload_id"])
        if upload is None or upload.state == State.DELETED:
            raise errors.NOT_FOUND("No upload has this id (it may have been removed already).")
        return upload

    async def delete(request: Request) -> Response:
        upload = await find(request)
        await service.delete(upload)
        return JSONResponse({"deleted": upload.id}, headers=_PRIVATE)

    async def set_expiry(request: Request) -> Response:
        now = clock.now()
        expires_at = views.expiry(request.state.body, now)
        upload = await find(request)
        if not await records.set_expiry(upload.id, expires_at, now):
            upload = await find(request)  # what it is now, to say why
            if upload.state != State.COMPLETE:
                raise errors.NOT_FINISHED(
                    f"Only a finished file has an expiry; this upload is {upload.state.value}."
                )
            raise service.gone(upload)  # past its expiry: it is being removed
        changed = await find(request)
        return JSONResponse(views.row(changed, now, None), headers=_PRIVATE)

    async def remove_abandoned(request: Request) -> Response:
        return JSONResponse({"removed": await records.forget_abandoned()}, headers=_PRIVATE)

    return [
        Route("/admin", when_on(page)),
        *(
            Route(r.path, when_on(r.endpoint), methods=list(r.methods or ()))
            for r in access_routes(access, headers)
        ),
        Route("/admin/api/uploads", guarded(uploads)),
        Route("/admin/api/summary", guarded(summary)),
        Route(f"/admin/api/uploads/{_ID}/delete", guarded(delete), methods=["POST"]),
        Route(f"/admin/api/uploads/{_ID}/expiry", guarded(set_expiry), methods=["POST"]),
        Route("/admin/api/abandoned/remove", guarded(remove_abandoned), methods=["POST"]),
    ]


async def off(request: Request) -> Response:
    refusal = errors.NOT_FOUND(
        "There is no admin page: the server runs without --admin-password and has no admin "
        "account (pyfiledrop user add NAME --admin)."
    )
    return error_response(refusal)
