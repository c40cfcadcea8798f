"""Hooks: a JSON POST to each `--hook-url` for every upload event of this process.

# Delivery
Each URL has its own queue (`--hook-queue` events) and its own thread, which POSTs with
`http.client` (no proxy from the environment, no redirects followed). A 2xx answer delivers the
event; anything else (another status, a refused connection, no answer in `TIMEOUT` seconds) is
tried again after `BACKOFF` seconds, then given up, each attempt logged by `pyfiledrop.hooks`.
Nothing here waits on a receiver: the listener only puts the body in the queue, and when the
queue is full (a slow or dead receiver) the event is dropped with a warning, so memory stays
bounded and uploads never slow down. With `--workers` (or several hosts), each process sends the
events it saw. At shutdown the queues get `DRAIN` seconds, one attempt per event.

# Body and signature
`{"event": ..., "delivery": ..., "time": ..., "upload": {...}}`; `delivery` is the same for every
attempt at one event (receivers can drop repeats), `time` the event's time in seconds since the
epoch. With `--hook-secret`, `X-Pyfiledrop-Signature: sha256=<hex>` is the HMAC-SHA256 of the
exact body with the secret: it covers `time`, so a receiver can also refuse old replays.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import http.client
import json
import logging
import queue
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any
from urllib.parse import urlsplit

from pyfiledrop import errors
from pyfiledrop.core.events import Event, Events
from pyfiledrop.core.model import Upload
from pyfiledrop.logs import fields
from pyfiledrop.web.eventlog import event_fields

log = logging.getLogger("pyfiledrop.hooks")

TIMEOUT = 10.0  # seconds one attempt may take, connecting and answering
BACKOFF = (0.5, 1.0, 2.0, 4.0, 8.0)  # waits before each retry: six attempts over 15.5 s
DRAIN = 5.0  # seconds the queues get at shutdown
SIGNATURE = "X-Pyfiledrop-Signature"


def signature(secret: str, body: bytes) -> str:
    """The value of the signature header for `body`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def shown(url: str) -> str:
    """A hook URL as logs show it: no credentials, no query."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}{parts.path}"


@dataclass(frozen=True)
class Delivery:
    event: str
    upload_id: str
    delivery: str
    body: bytes


class Receiver:
    """One hook URL: its queue and the thread that empties it."""

    def __init__(self, url: str, secret: str | None, size: int) -> None:
        self.url = url
        self.name = shown(url)
        self.secret = secret
        self.queue: queue.Queue[Delivery | None] = queue.Queue(size)
        self.closing = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"hook {self.name}", daemon=True)

    def offer(self, delivery: Delivery) -> None:
        try:
            self.queue.put_nowait(delivery)
        except queue.Full:
            log.warning("hook dropped: queue full", extra=fields(
                url=self.name, event=delivery.event, id=delivery.upload_id,
                queued=self.queue.maxsize))  # fmt: skip

    def _run(self) -> None:
        while (delivery := self.queue.get()) is not None:
            self._deliver(delivery)

    def _deliver(self, delivery: Delivery) -> None:
        for attempt in range(1, len(BACKOFF) + 2):
            outcome, _ = self.post(delivery)
            about = fields(url=self.name, event=delivery.event, id=delivery.upload_id,
                           delivery=delivery.delivery, attempt=attempt,
                           outcome=outcome)  # fmt: skip
            if isinstance(outcome, int) and 200 <= outcome < 300:
                log.info("hook delivered", extra=about)
                return
            last = attempt > len(BACKOFF) or self.closing.is_set()
            if last:
                log.error("hook given up", extra=about)
                return
            retry = fields(**about["fields"], retry_in=BACKOFF[attempt - 1])
            log.warning("hook attempt failed", extra=retry)
            if self.closing.wait(BACKOFF[attempt - 1]):
                log.error("hook given up: shutting down", extra=about)
                return

    def post(self, delivery: Delivery) -> tuple[int | str, bytes]:
        """One attempt: the status answered and the start of the answer's body, or why there
        was none."""
        parts = urlsplit(self.url)
        https = parts.scheme == "https"
        kind = http.client.HTTPSConnection if https else http.client.HTTPConnection
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"pyfiledrop/{version('pyfiledrop')}",
            "X-Pyfiledrop-Event": delivery.event,
            "X-Pyfiledrop-Delivery": delivery.delivery,
        }
        if self.secret:
            headers[SIGNATURE] = signature(self.secret, delivery.body)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        connection = kind(parts.hostname or "", parts.port, timeout=TIMEOUT)
        try:
            connection.request("POST", target, delivery.body, headers)
            response = connection.getresponse()
            return response.status, response.read(64 * 1024)
        except (OSError, http.client.HTTPException) as exc:
            return f"{type(exc).__name__}: {exc}"[:200], b""
        finally:
            connection.close()

    def stop(self, deadline: float) -> int:
        """Stop after one attempt at each queued event or at `deadline`; how many were left."""
        self.closing.set()
        try:
            self.queue.put(None, timeout=max(deadline - time.monotonic(), 0))
        except queue.Full:
            pass
        self.thread.join(max(deadline - time.monotonic(), 0))
        if not self.thread.is_alive():
            return 0
        return sum(1 for delivery in list(self.queue.queue) if delivery is not None)


def refusal_message(answer: bytes) -> str:
    """What a receiver said when it refused: the `message` or `error` of a JSON object, else its
    text; one line of printable characters, at most 300, for the uploader to read."""
    text = answer.decode("utf-8", "replace")
    try:
        found = json.loads(text)
    except ValueError:
        found = None
    if isinstance(found, dict) and isinstance(found.get("message") or found.get("error"), str):
        text = found.get("message") or found["error"]
    line = "".join(c if c.isprintable() else " " for c in text).strip()[:300]
    return line or "The server's upload hook refused this upload."


class Hooks:
    """The hook receivers of one process, fed by the core's events."""

    def __init__(
        self, events: Events, urls: Sequence[str], secret: str | None, queue_size: int,
        link: str | None = None, may_refuse: bool = False,
    ) -> None:  # fmt: skip
        """`may_refuse`: upload-created is sent before the upload is recorded, and waited for."""
        self.receivers = [Receiver(url, secret, queue_size) for url in urls]
        self.link = link  # the start of a download link (--public-url), None: no link
        self.may_refuse = may_refuse
        if self.receivers:
            events.listen(self.told)
            if may_refuse:
                events.vet_with(self.vet)

    async def vet(self, upload: Upload) -> None:
        """upload-created, once to each receiver in turn, before anything is recorded: a 2xx
        answer admits the upload, any other refuses it with the answer's message (403), no
        answer refuses it for now (503): with --hook-may-refuse, an upload nobody could vet is
        not taken."""
        delivery_id = str(uuid.uuid4())
        body = self.body(Event.CREATED, upload, delivery_id)
        delivery = Delivery(Event.CREATED.value, upload.id, delivery_id, body)
        for receiver in self.receivers:
            outcome, answer = await asyncio.to_thread(receiver.post, delivery)
            about = fields(url=receiver.name, event=delivery.event, id=upload.id,
                           delivery=delivery_id, outcome=outcome)  # fmt: skip
            if isinstance(outcome, str):
                log.error("hook did not answer: upload refused", extra=about)
                raise errors.HOOK_UNAVAILABLE(
                    "The server cannot check new uploads right now; try again later."
                )
            if not 200 <= outcome < 300:
                log.info("hook refused the upload", extra=about)
                raise errors.REFUSED_BY_HOOK(refusal_message(answer))
            log.info("hook admitted the upload", extra=about)

    def told(self, event: Event, upload: Upload) -> None:
        if event == Event.CREATED and self.may_refuse:
            return  # already delivered, and waited for, by `vet`
        delivery_id = str(uuid.uuid4())
        body = self.body(event, upload, delivery_id)
        delivery = Delivery(event.value, upload.id, delivery_id, body)
        for receiver in self.receivers:
            receiver.offer(delivery)

    def body(self, event: Event, upload: Upload, delivery_id: str) -> bytes:
        described: dict[str, Any] = event_fields(event, upload)
        del described["event"]
        described.update(owner=upload.owner, state=upload.state.value)
        if event == Event.COMPLETED:
            described["expires_at"] = upload.expires_at
            if self.link and upload.download_token:
                described["link"] = f"{self.link}/download/{upload.download_token}"
        found = {"event": event.value, "delivery": delivery_id, "time": time.time(),
                 "upload": described}  # fmt: skip
        return json.dumps(found).encode()

    def start(self) -> None:
        for receiver in self.receivers:
            receiver.thread.start()

    def stop(self) -> None:
        """Give the queues `DRAIN` seconds; log what was left undelivered."""
        deadline = time.monotonic() + DRAIN
        for receiver in self.receivers:
            left = receiver.stop(deadline)
            if left:
                log.warning("hooks not delivered at shutdown", extra=fields(
                    url=receiver.name, left=left))  # fmt: skip
