"""An upload as its owner sees it in JSON: the answer to every Dropzone request, the status call
and the owner's list (`GET /uploads`). A finished one has its links: the download, its share
page (not while downloads are turned off), and the delete link, which holds the upload's delete
key (only its owner sees this)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request

from pyfiledrop.core.model import State, Upload
from pyfiledrop.core.service import UploadService
from pyfiledrop.core.sharing import downloads_left
from pyfiledrop.web.downloads import Downloads


class Described:
    def __init__(self, service: UploadService, downloads: Downloads) -> None:
        self.service = service
        self.downloads = downloads  # the links of a complete upload

    async def __call__(
        self, request: Request, upload: Upload, with_chunks: bool = False
    ) -> dict[str, Any]:
        expired = upload.expired(self.service.clock.now())  # at once, whether removed yet or not
        found: dict[str, Any] = {
            "id": upload.client_id,
            "state": State.EXPIRED.value if expired else upload.state.value,
            "filename": upload.filename,
            "size": upload.size,
        }
        if upload.relative_path:  # where it was in the folder it came from
            found["relative_path"] = upload.relative_path
        if upload.layout:
            found["chunk_count"] = upload.layout.chunk_count
        if with_chunks:
            found["received"] = await self.service.received(upload)
        if upload.state in (State.COMPLETE, State.EXPIRED):
            found["sha256"] = upload.sha256
            found["expires_at"] = upload.expires_at  # seconds since the epoch; null: kept
            found["downloads"] = upload.downloads
            found["max_downloads"] = upload.max_downloads
            found["downloads_left"] = downloads_left(upload)
            found["password_protected"] = upload.download_password is not None
        if upload.state == State.COMPLETE and not expired:
            assert upload.download_token is not None
            link, token = self.downloads.link, upload.download_token
            if self.downloads.allowed:
                found["download_url"] = self.downloads.url(request, upload)
                found["share_url"] = link(request, "share", token=token)
            if upload.delete_key is not None:  # uploads made before there were delete links
                query = urlencode({"key": upload.delete_key})
                found["delete_url"] = f"{link(request, 'delete', token=token)}?{query}"
        if upload.removed_at is not None:
            found["removed_at"] = upload.removed_at
        if upload.error and upload.state != State.COMPLETE:  # why it failed, or is waiting
            found["error"] = upload.error
        return found
