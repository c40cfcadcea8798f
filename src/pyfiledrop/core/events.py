"""What happens to uploads, told to whoever listens: metrics, logs and hooks.

The core emits an event right after the change is recorded, with the upload as the record says.
Listeners run on the event loop and must be quick; one that raises is ignored, so watching an
upload can never fail it.

Before a new upload is recorded, vetters may refuse it (a hook that decides who may upload what):
each is awaited in turn and refuses by raising an UploadError, which the client gets as it is.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable

from pyfiledrop.core.model import Upload


class Event(enum.StrEnum):
    CREATED = "upload-created"
    COMPLETED = "upload-completed"
    FAILED = "upload-failed"
    DELETED = "upload-deleted"
    EXPIRED = "upload-expired"
    ABANDONED = "upload-abandoned"


Listener = Callable[[Event, Upload], None]
Vetter = Callable[[Upload], Awaitable[None]]


class Events:
    """The listeners of one process."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self._vetters: list[Vetter] = []

    def listen(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def vet_with(self, vetter: Vetter) -> None:
        self._vetters.append(vetter)

    async def vet(self, upload: Upload) -> None:
        """Raise the UploadError of the first vetter that refuses `upload`, not yet recorded."""
        for vetter in self._vetters:
            await vetter(upload)

    def emit(self, event: Event, upload: Upload) -> None:
        for listener in self._listeners:
            try:
                listener(event, upload)
            except Exception:  # a broken listener must not fail the upload it watched
                continue
