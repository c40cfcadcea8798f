"""An upload as its owner sees it in JSON: the answer to every Dropzone request, the status call
and the owner's list (`GET /uploads`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request

from pyfiledrop.core.model import State, Upload
from pyfiledrop.core.service import UploadService

Link = Callable[[Request, Upload], str]


class Described:
    def __init__(self, service: UploadService, link: Link) -> None:
        self.service = service
        self.link = link  # the download link of a complete upload

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
        if upload.state == State.COMPLETE and not expired:
            found["download_url"] = self.link(request, upload)
        if upload.removed_at is not None:
            found["removed_at"] = upload.removed_at
        if upload.error and upload.state != State.COMPLETE:  # why it failed, or is waiting
            found["error"] = upload.error
        return found
