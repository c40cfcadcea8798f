"""The ASGI application: which routes there are, and the middleware around them.

Protocol work is done by the adapters (`adapters/`), downloads by `downloads.py`, the rest by
the web modules each route comes from; errors become responses through `refusal.py`.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from pyfiledrop import errors
from pyfiledrop.adapters import dropzone_routes, put
from pyfiledrop.adapters.tus import Tus, plain_error
from pyfiledrop.config import Settings
from pyfiledrop.core.service import UploadService
from pyfiledrop.logs import fields
from pyfiledrop.web import admin, mine, observe, openapi
from pyfiledrop.web.access import ADMIN, PasswordAccess, UploadGuard
from pyfiledrop.web.access import routes as access_routes
from pyfiledrop.web.accounts import Credentials
from pyfiledrop.web.described import Described
from pyfiledrop.web.downloads import Downloads
from pyfiledrop.web.embedding import Embedding
from pyfiledrop.web.eventlog import UploadLog
from pyfiledrop.web.hooks import Hooks
from pyfiledrop.web.links import ClientFacing
from pyfiledrop.web.observe import Metrics
from pyfiledrop.web.owners import OwnerCookie, owner_of, uploader_of
from pyfiledrop.web.page import page_headers, render_page
from pyfiledrop.web.refusal import error_response
from pyfiledrop.web.requestlog import note_client
from pyfiledrop.web.share import Sharing
from pyfiledrop.web.zips import Zips

STATIC = Path(__file__).parent / "static"
log = logging.getLogger("pyfiledrop.server")


def render_error(path: str, exc: errors.UploadError) -> Response:
    """An error as the route at `path` renders them: tus's plain text under /files/, else JSON."""
    return plain_error(exc) if path.startswith("/files/") else error_response(exc)


def build_app(
    settings: Settings,
    service: UploadService,
    metrics: Metrics,
    access: PasswordAccess,
    admin_access: PasswordAccess,
    hooks: Hooks,
) -> Starlette:
    timeout = settings.timeout_ms / 1000
    downloads = Downloads(settings, service)
    describe = Described(service, downloads)
    sharing = Sharing(settings, service, downloads)

    tus = Tus(
        service,
        max_size=settings.max_size,
        timeout=timeout,
        pace_bytes=settings.chunk_size,
        allow_downloads=settings.allow_downloads,
        download=downloads.serve,
        link=downloads.url,
        location=lambda request, upload: downloads.link(request, "tus_upload", upload_id=upload.id),
        owner=uploader_of,
    )

    async def page(request: Request) -> Response:
        refusal = await access.check(request.scope)
        if refusal is not None:  # the sign-in page, or why as JSON to a program
            return await access.refused(request, refusal, page_headers(settings))
        owner_of(request)  # the page's first load gives the browser its cookie
        root_path = request.scope.get("root_path", "")
        account = getattr(request.state, "account", None)
        shown = render_page(settings, root_path, await access.required(), account)
        return HTMLResponse(shown, headers=page_headers(settings))

    async def favicon(request: Request) -> Response:
        return FileResponse(STATIC / "favicon.ico", media_type="image/x-icon")

    async def on_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, errors.UploadError)
        return error_response(exc)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await service.start()
        hooks.start()  # threads, in the process that serves (after a fork with --workers)
        about = fields(pid=os.getpid(), host=settings.host, port=settings.port,
                       version=version("pyfiledrop"))  # fmt: skip
        log.info("server started", extra=about)
        yield
        await service.stop()
        await asyncio.to_thread(hooks.stop)
        log.info("server stopped", extra=about)

    return Starlette(
        routes=[
            Route("/", page),
            Route("/favicon.ico", favicon),
            *dropzone_routes.routes(service, describe, owner_of, uploader_of, timeout),
            *downloads.routes(),
            *sharing.routes(),
            *Zips(settings, service).routes(),
            *put.routes(service, describe, uploader_of, (timeout, settings.chunk_size)),
            *tus.routes(),
            *observe.routes(service, metrics),
            *mine.routes(service, describe),
            *access_routes(access, page_headers(settings)),
            *admin.routes(settings, service, admin_access, downloads.url),
            Route("/openapi.json", openapi.serve),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ],
        exception_handlers={errors.UploadError: on_error},
        lifespan=lifespan,
    )


def asgi(settings: Settings, service: UploadService) -> ASGIApp:
    metrics = Metrics(service)
    UploadLog(service.events)
    credentials = Credentials(service.accounts)  # one per process: it caches "any accounts?"
    access = PasswordAccess(settings.upload_password, credentials=credentials)
    admin_access = PasswordAccess(settings.admin_password, ADMIN, credentials=credentials)
    hooks = hooks_for(settings, service)
    built = build_app(settings, service, metrics, access, admin_access, hooks)
    app: ASGIApp = UploadGuard(OwnerCookie(built), access, render_error)
    if settings.cors_origins:
        app = Embedding(app, list(settings.cors_origins))
    return metrics.watch(ClientFacing(note_client(app), settings, render_error))


def hooks_for(settings: Settings, service: UploadService) -> Hooks:
    """The hooks; a completed upload's link only when --public-url says where, without a request."""
    link = None
    if settings.public_url and settings.allow_downloads:
        link = settings.public_url.rstrip("/")
    return Hooks(
        service.events, settings.hook_urls, settings.hook_secret, settings.hook_queue, link,
        settings.hook_may_refuse,
    )  # fmt: skip
