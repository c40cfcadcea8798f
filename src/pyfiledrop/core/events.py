"""What happens to uploads, told to whoever listens: today the metrics, later logs and hooks.

The core emits an event right after the change is recorded, with the upload as the record says.
Listeners run on the event loop and must be quick; one that raises is ignored, so watching an
upload can never fail it.
"""

from __future__ import annotations

import enum
from collections.abc import Callable

from pyfiledrop.core.model import Upload


class Event(enum.StrEnum):
    CREATED = "upload-created"
    COMPLETED = "upload-completed"
    FAILED = "upload-failed"
    DELETED = "upload-deleted"
    EXPIRED = "upload-expired"
    ABANDONED = "upload-abandoned"


Listener = Callable[[Event, Upload], None]


class Events:
    """The listeners of one process."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    def listen(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def emit(self, event: Event, upload: Upload) -> None:
        for listener in self._listeners:
            try:
                listener(event, upload)
            except Exception:  # a broken listener must not fail the upload it watched
                continue
