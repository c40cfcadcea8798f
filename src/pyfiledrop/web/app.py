"""The ASGI application: routes, the owner cookie, error rendering and downloads.

Protocol work is done by the adapters; this module only maps URLs to them and turns their results
and `UploadError`s into HTTP responses.
"""

from __future__ import annotations

import asyncio
import logging
import mimetypes
import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from email.utils import formatdate
from importlib.metadata import version
from pathlib import Path
from typing import Any
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from pyfiledrop import errors
from pyfiledrop.adapters import dropzone
from pyfiledrop.adapters.body import Body
from pyfiledrop.adapters.tus import Tus, plain_error
from pyfiledrop.config import Settings
from pyfiledrop.core.model import State, Upload
from pyfiledrop.core.receiving import storage_error
from pyfiledrop.core.service import UploadService
from pyfiledrop.logs import fields
from pyfiledrop.web import admin, mine, observe
from pyfiledrop.web.access import ADMIN, PasswordAccess, UploadGuard
from pyfiledrop.web.access import routes as access_routes
from pyfiledrop.web.conditional import not_modified
from pyfiledrop.web.embedding import Embedding
from pyfiledrop.web.eventlog import UploadLog
from pyfiledrop.web.files import SendfileResponse
from pyfiledrop.web.hooks import Hooks
from pyfiledrop.web.links import ClientFacing, base_url
from pyfiledrop.web.observe import Metrics
from pyfiledrop.web.owners import OwnerCookie, owner_of
from pyfiledrop.web.page import page_headers, render_page
from pyfiledrop.web.ranges import streamed
from pyfiledrop.web.refusal import error_response
from pyfiledrop.web.requestlog import note_client

STATIC = Path(__file__).parent / "static"
_MEDIA_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}$")
_FORM_SLACK = 64 * 1024  # room for the multipart headers and dz* fields around a chunk
_MAX_WAIT = 30  # seconds a status call may be held open
_SECONDS = re.compile(r"^[0-9]{1,9}$")
log = logging.getLogger("pyfiledrop.server")


def render_error(path: str, exc: errors.UploadError) -> Response:
    """An error as the route at `path` renders them: tus's plain text under /files/, else JSON."""
    return plain_error(exc) if path.startswith("/files/") else error_response(exc)


def build_app(
    settings: Settings,
    service: UploadService,
    metrics: Metrics,
    access: PasswordAccess,
    hooks: Hooks,
) -> Starlette:
    timeout = settings.timeout_ms / 1000

    async def describe(
        request: Request, upload: Upload, with_chunks: bool = False
    ) -> dict[str, Any]:
        expired = upload.expired(service.clock.now())  # at once, whether removed yet or not
        found: dict[str, Any] = {
            "id": upload.client_id,
            "state": State.EXPIRED.value if expired else upload.state.value,
            "filename": upload.filename,
            "size": upload.size,
        }
        if upload.layout:
            found["chunk_count"] = upload.layout.chunk_count
        if with_chunks:
            found["received"] = await service.received(upload)
        if upload.state in (State.COMPLETE, State.EXPIRED):
            found["sha256"] = upload.sha256
            found["expires_at"] = upload.expires_at  # seconds since the epoch; null: kept
        if upload.state == State.COMPLETE and not expired:
            found["download_url"] = download_url(request, upload)
        if upload.removed_at is not None:
            found["removed_at"] = upload.removed_at
        if upload.error and upload.state != State.COMPLETE:  # why it failed, or is waiting
            found["error"] = upload.error
        return found

    async def upload(request: Request) -> Response:
        declared = request.headers.get("content-length")
        limit = service.limits.max_size + _FORM_SLACK
        body = Body(request)
        owner = owner_of(request)
        try:
            if declared and declared.isdigit() and int(declared) > limit:
                raise errors.TOO_LARGE(f"The request is larger than the {limit} bytes allowed.")
            content_type = request.headers.get("content-type", "")
            async with asyncio.timeout(timeout):
                if dropzone.is_raw(request.query_params):
                    done = await dropzone.receive_raw(
                        service, owner, request.query_params, content_type, body
                    )
                else:
                    done = await dropzone.receive(service, owner, content_type, body)
        except errors.UploadError as exc:
            return error_response(exc)
        except ClientDisconnect:
            return Response(status_code=400)  # nobody is left to read it
        except TimeoutError:
            return error_response(errors.TIMEOUT(f"The chunk took longer than {timeout:g} s."))
        return JSONResponse(await describe(request, done))

    async def status(request: Request) -> Response:
        """`?wait=N` holds the answer up to N s (at most 30) until the file is finished."""
        found = await service.owned(owner_of(request), request.path_params["client_id"])
        wait = request.query_params.get("wait", "0")
        if not _SECONDS.match(wait):  # str.isdigit() is true for "²", which int() refuses
            raise errors.BAD_REQUEST("wait must be a whole number of seconds.")
        if int(wait) > 0:
            found = await service.settled(found, min(int(wait), _MAX_WAIT))
        return JSONResponse(await describe(request, found, with_chunks=True))

    async def known(request: Request) -> Response:
        """Finish an upload at once from content the asker already uploaded (404: send it)."""
        done = await dropzone.known(service, owner_of(request), request.query_params)
        return JSONResponse(await describe(request, done))

    async def remove(request: Request) -> Response:
        """The page's cancel: the upload and its bytes are removed, whatever its state (204).
        Only its creator may; this checks the cookie without giving out a new one."""
        found = await service.owned(str(request.state.owner), request.path_params["client_id"])
        await service.delete(found)
        return Response(status_code=204)

    async def download(request: Request) -> Response:
        if not settings.allow_downloads:
            raise errors.DOWNLOADS_DISABLED("Downloads are turned off on this server.")
        return await serve_file(request, await service.downloadable(request.path_params["token"]))

    async def serve_file(request: Request, found: Upload) -> Response:
        found = await service.present(found)  # 410 before any byte when its file is gone
        assert found.storage_key is not None
        etag = f'"{found.sha256}"'  # the content hash: the strongest validator there is
        headers = {
            "ETag": etag,
            "Content-Disposition": content_disposition(found.filename),
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox",
        }
        local = service.local_files
        path = local.path_of(found.storage_key) if local else None
        stat = await asyncio.to_thread(os.stat, path) if path else None
        last_modified = formatdate(stat.st_mtime if stat else found.updated_at, usegmt=True)
        if not_modified(request.headers, etag, last_modified):
            return Response(status_code=304, headers={"ETag": etag, "Last-Modified": last_modified})
        if path is None:
            return await from_store(request, found, headers)
        return SendfileResponse(
            path, stat_result=stat, media_type=media_type(found), headers=headers
        )

    def link(request: Request, name: str, **params: str) -> str:
        path: str = request.app.url_path_for(name, **params)
        return base_url(request, settings.public_url) + path

    async def from_store(request: Request, found: Upload, headers: dict[str, str]) -> Response:
        """A storage without local files: a presigned redirect, or the bytes streamed."""
        assert found.storage_key is not None and found.size is not None
        if service.presigned is not None:
            url = service.presigned.presigned_url(
                found.storage_key, headers["Content-Disposition"], media_type(found)
            )
            return RedirectResponse(url, status_code=307)
        assert service.range_reads is not None
        headers["Content-Type"] = media_type(found)
        headers["Last-Modified"] = formatdate(found.updated_at, usegmt=True)
        try:
            return await streamed(
                request, service.range_reads, found.storage_key, found.size, headers
            )
        except OSError as exc:
            return error_response(storage_error(exc))

    def download_url(request: Request, upload: Upload) -> str:
        assert upload.download_token is not None
        return link(request, "download", token=upload.download_token)

    tus = Tus(
        service,
        max_size=settings.max_size,
        timeout=timeout,
        pace_bytes=settings.chunk_size,
        allow_downloads=settings.allow_downloads,
        download=serve_file,
        link=download_url,
        location=lambda request, upload: link(request, "tus_upload", upload_id=upload.id),
        owner=owner_of,
    )

    async def page(request: Request) -> Response:
        refusal = access.check(request.scope)
        if refusal is not None:  # the sign-in page, or why as JSON to a program
            return access.refused(request, refusal, page_headers(settings))
        owner_of(request)  # the page's first load gives the browser its cookie
        root_path = request.scope.get("root_path", "")
        return HTMLResponse(render_page(settings, root_path), headers=page_headers(settings))

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
            Route("/upload", upload, methods=["POST"]),
            Route("/upload/known", known, methods=["POST"]),
            Route("/upload/{client_id}", status),
            Route("/upload/{client_id}", remove, methods=["DELETE"]),
            Route("/download/{token}", download, name="download"),
            *tus.routes(),
            *observe.routes(service, metrics),
            *mine.routes(service, describe),
            *access_routes(access, page_headers(settings)),
            *admin.routes(
                settings, service, PasswordAccess(settings.admin_password, ADMIN), download_url
            ),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ],
        exception_handlers={errors.UploadError: on_error},
        lifespan=lifespan,
    )


def media_type(upload: Upload) -> str:
    """The type the client declared (tus filetype, the form part's type), else one guessed from
    the name. Safe to send as is: downloads are attachments with nosniff and a sandbox CSP."""
    declared = upload.content_type.strip().lower()
    if _MEDIA_TYPE.match(declared) and declared != "application/octet-stream":
        return declared
    return mimetypes.guess_type(upload.filename)[0] or "application/octet-stream"


def content_disposition(filename: str) -> str:
    """RFC 6266/5987: an ASCII fallback name plus the exact UTF-8 name in filename*."""
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def asgi(settings: Settings, service: UploadService) -> ASGIApp:
    metrics = Metrics(service)
    UploadLog(service.events)
    access = PasswordAccess(settings.upload_password)
    built = build_app(settings, service, metrics, access, hooks_for(settings, service))
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
