"""One `pyfiledrop.uploads` line per upload event, as a listener of the core's events.

upload-created: "upload started"; upload-completed: "upload completed" with size, seconds,
bytes_per_second and sha256; upload-failed: "upload failed" with the reason; upload-deleted,
-expired and -abandoned: "upload removed" with the bytes freed. Each names the client when the
event happened while serving a request (`logs.current`).
"""

from __future__ import annotations

import logging
from typing import Any

from pyfiledrop import logs
from pyfiledrop.core.events import Event, Events
from pyfiledrop.core.model import State, Upload

log = logging.getLogger("pyfiledrop.uploads")

REMOVED = (Event.DELETED, Event.EXPIRED, Event.ABANDONED)
_MESSAGES = {Event.CREATED: "upload started", Event.COMPLETED: "upload completed",
             Event.FAILED: "upload failed"}  # fmt: skip


def event_fields(event: Event, upload: Upload) -> dict[str, Any]:
    """What a log line or a hook says about `upload` at `event`; None values are left out."""
    found: dict[str, Any] = {
        "event": event.value,
        "id": upload.id,
        "name": upload.filename,
        "size": upload.size,
        "protocol": upload.protocol,
    }
    if event == Event.COMPLETED:
        seconds = max(upload.updated_at - upload.created_at, 0.0)
        found["sha256"] = upload.sha256
        found["seconds"] = round(seconds, 6)
        if seconds > 0 and upload.size is not None:
            found["bytes_per_second"] = round(upload.size / seconds)
    elif event == Event.FAILED:
        found["reason"] = upload.error
    elif event in REMOVED:
        found["freed_bytes"] = freed(upload)
    seen = logs.current.get()
    found["client"] = seen.client if seen else None
    return {key: value for key, value in found.items() if value is not None}


def freed(upload: Upload) -> int | None:
    """The bytes a removal freed: as recorded by the clean-up; for a deletion, a finished file's
    size or a stream upload's offset (a Dropzone upload's received chunks are not on the record)."""
    if upload.freed_bytes is not None:
        return upload.freed_bytes
    if upload.state == State.COMPLETE:
        return upload.size
    return upload.offset or None


class UploadLog:
    """Logs the upload events of one process."""

    def __init__(self, events: Events) -> None:
        events.listen(self.told)

    def told(self, event: Event, upload: Upload) -> None:
        level = logging.WARNING if event == Event.FAILED else logging.INFO
        message = _MESSAGES.get(event, "upload removed")
        log.log(level, message, extra={"fields": event_fields(event, upload)})
