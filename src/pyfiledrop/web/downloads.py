"""GET /download/<token>: a finished file, by its link.

Local files go out with sendfile (`files.py`); an object store's are streamed with ranges or, where
the operator turned it on, handed over as a presigned redirect. Every download checks first that
the file's content is still there (410 before any byte when it is not), and that the request
may have it: the download password where its uploader set one (web/unlock.py).

A GET that could deliver the file's last byte first reserves one of the link's downloads (410
once none is left, 429 with Retry-After while the last ones are under way) and counts once it
did (web/counted.py). A link with a download limit is never a presigned redirect: the store
would deliver it unseen, so it is streamed. A presigned redirect of a link without one is not
counted.
"""

from __future__ import annotations

import asyncio
import mimetypes
import os
import re
from email.utils import formatdate
from pathlib import Path
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from pyfiledrop import errors
from pyfiledrop.config import Settings
from pyfiledrop.core.model import Upload
from pyfiledrop.core.receiving import storage_error
from pyfiledrop.core.service import UploadService
from pyfiledrop.core.sharing import RETRY_BUSY
from pyfiledrop.web.conditional import not_modified
from pyfiledrop.web.counted import Counted
from pyfiledrop.web.files import SendfileResponse
from pyfiledrop.web.links import base_url
from pyfiledrop.web.ranges import streamed, wanted_range
from pyfiledrop.web.refusal import error_response
from pyfiledrop.web.unlock import REALM, DownloadPasswords

_MEDIA_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}$")


class Downloads:
    """The download route, and the links to it that other routes hand out."""

    def __init__(self, settings: Settings, service: UploadService) -> None:
        self.settings = settings
        self.service = service
        self.passwords = DownloadPasswords()

    def routes(self) -> list[Route]:
        return [Route("/download/{token}", self._download, name="download")]

    @property
    def allowed(self) -> bool:
        """Whether this server hands files out at all (`--allow-downloads`)."""
        return self.settings.allow_downloads

    def url(self, request: Request, upload: Upload) -> str:
        """The absolute link to a finished upload, as the client reached this server."""
        assert upload.download_token is not None
        return self.link(request, "download", token=upload.download_token)

    def link(self, request: Request, name: str, **params: str) -> str:
        """The absolute URL of route `name` of this app, as the client reached this server."""
        path: str = request.app.url_path_for(name, **params)
        return base_url(request, self.settings.public_url) + path

    async def _download(self, request: Request) -> Response:
        if not self.settings.allow_downloads:
            raise errors.DOWNLOADS_DISABLED("Downloads are turned off on this server.")
        found = await self.service.downloadable(request.path_params["token"])
        try:
            await self.passwords.check(request, found)
            return await self.serve(request, found)
        except errors.UploadError as exc:
            return self._refused(request, found, exc)

    def _refused(self, request: Request, found: Upload, exc: errors.UploadError) -> Response:
        """A refusal with what its client needs to try again: a browser asking for a page is
        sent to the share page's password form instead of a 401."""
        if exc.status == 401 and "text/html" in request.headers.get("accept", ""):
            assert found.download_token is not None
            return RedirectResponse(self.link(request, "share", token=found.download_token), 303)
        response = error_response(exc)
        if exc.status == 401:
            response.headers["WWW-Authenticate"] = f'Basic realm="{REALM}", charset="UTF-8"'
        elif exc.kind is errors.LAST_DOWNLOAD_UNDER_WAY:
            response.headers["Retry-After"] = str(RETRY_BUSY)
        elif exc.kind is errors.TOO_MANY_TRIES:
            response.headers["Retry-After"] = str(self.passwords.retry_after(request))
        return response

    async def serve(self, request: Request, found: Upload) -> Response:
        """The file of a complete upload (tus' GET on an upload comes here too)."""
        found = await self.service.present(found)  # 410 before any byte when its file is gone
        assert found.storage_key is not None and found.size is not None
        etag = f'"{found.sha256}"'  # the content hash: the strongest validator there is
        headers = {
            "ETag": etag,
            "Content-Disposition": content_disposition(found.filename),
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox",
        }
        local = self.service.local_files
        path = local.path_of(found.storage_key) if local else None
        stat = await asyncio.to_thread(os.stat, path) if path else None
        last_modified = formatdate(stat.st_mtime if stat else found.updated_at, usegmt=True)
        if not_modified(request.headers, etag, last_modified):
            return Response(status_code=304, headers={"ETag": etag, "Last-Modified": last_modified})
        if not may_count(request, found.size, etag):
            return await self._response(request, found, headers, path, stat)
        counter = self.service.counter
        reservation = await counter.reserve(found)  # 410, or 429 while the last are under way
        try:
            response = await self._response(request, found, headers, path, stat)
        except BaseException:
            await asyncio.shield(counter.let_go(reservation))
            raise
        if response.status_code >= 300:  # a refusal, or a redirect whose bytes nobody sees
            await counter.let_go(reservation)
            return response
        return Counted(response, counter, reservation, found.size)

    async def _response(
        self,
        request: Request,
        found: Upload,
        headers: dict[str, str],
        path: Path | None,
        stat: os.stat_result | None,
    ) -> Response:
        if path is None:
            return await self._from_store(request, found, headers)
        return SendfileResponse(
            path, stat_result=stat, media_type=media_type(found), headers=headers
        )

    async def _from_store(
        self, request: Request, found: Upload, headers: dict[str, str]
    ) -> Response:
        """A storage without local files: a presigned redirect, or the bytes streamed."""
        assert found.storage_key is not None and found.size is not None
        service = self.service
        if service.presigned is not None and found.max_downloads is None:
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


def may_count(request: Request, size: int, etag: str) -> bool:
    """Whether this request's answer may carry the file's last byte: a GET that asks for no
    range, or for one that reaches the end (a range this cannot read: yes, to be safe)."""
    if request.method != "GET":
        return False
    asked = request.headers.get("range")
    if asked is None or request.headers.get("if-range", etag) != etag:
        return True
    span = wanted_range(asked, size)
    return span is None or (isinstance(span, tuple) and span[1] == size)


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
