"""What an operator watches: `/healthz` for a load balancer or orchestrator, and `/metrics` in
Prometheus' text format (the official `prometheus-client`, one registry per app).

Counts are per process: with `--workers` or several hosts, each process is scraped on its own
and Prometheus sums them.
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pyfiledrop import errors
from pyfiledrop.core.events import Event
from pyfiledrop.core.model import Upload
from pyfiledrop.core.service import UploadService

FREE_FLOOR = 64 << 20  # bytes: below this much free space the server says it is unhealthy
_BODY_ROUTES = (("POST", "/upload"), ("POST", "/files/"), ("PATCH", "/files/"), ("PUT", "/"))


class Metrics:
    """The counters of one app, fed by the core's events and by `watch`."""

    def __init__(self, service: UploadService) -> None:
        self.service = service
        self.registry = CollectorRegistry()
        self.uploads = Counter(
            "pyfiledrop_uploads", "Uploads by what happened to them", ["event"],
            registry=self.registry,
        )  # fmt: skip
        self.refused = Counter(
            "pyfiledrop_requests_refused", "Requests answered with an error, by status", ["status"],
            registry=self.registry,
        )  # fmt: skip
        self.received = Counter(
            "pyfiledrop_received_bytes", "Upload request body bytes received",
            registry=self.registry,
        )  # fmt: skip
        self.latency = Histogram(
            "pyfiledrop_upload_request_seconds",
            "Time to serve one upload request (a chunk, a tus PATCH or POST, a plain upload)",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
            registry=self.registry,
        )
        self.in_progress = Gauge(
            "pyfiledrop_uploads_in_progress", "Uploads receiving bytes, in the metadata store",
            registry=self.registry,
        )  # fmt: skip
        self.free = Gauge(
            "pyfiledrop_storage_free_bytes", "Free space where uploads are stored (local disk)",
            registry=self.registry,
        )  # fmt: skip
        for event in Event:
            self.uploads.labels(event.value)  # every series exists from the start, at 0
        service.events.listen(self._count)

    def _count(self, event: Event, upload: Upload) -> None:
        self.uploads.labels(event.value).inc()

    def watch(self, app: ASGIApp) -> ASGIApp:
        """Time upload requests, count their body bytes, and count every error answer."""

        async def watched(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            timed = any(
                scope["method"] == method and scope["path"].startswith(path)
                for method, path in _BODY_ROUTES
            )
            started = time.monotonic()

            async def counted(message: Message) -> None:
                if message["type"] == "http.response.start" and message["status"] >= 400:
                    self.refused.labels(str(message["status"])).inc()
                await send(message)

            async def receiving() -> Message:
                message = await receive()
                self.received.inc(len(message.get("body", b"")))
                return message

            try:
                await app(scope, receiving if timed else receive, counted)
            finally:
                if timed:
                    self.latency.observe(time.monotonic() - started)

        return watched

    async def scrape(self, request: Request) -> Response:
        self.in_progress.set(await self.service.oversight.receiving())
        free = self.service.free_bytes()
        if free is not None:
            self.free.set(free)
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)


async def health(service: UploadService) -> tuple[bool, dict[str, Any]]:
    """Whether this process can take uploads: the metadata store answers, the storage takes a
    write (a probe upload made and removed), and there is free space; with the reason when not."""
    found: dict[str, Any] = {}
    try:
        await service.oversight.check_database()
        found["database"] = "ok"
    except errors.UploadError as exc:
        found["database"] = exc.message
    try:
        await service.oversight.check_storage()
        found["storage"] = "ok"
    except OSError as exc:
        found["storage"] = f"the storage cannot be written: {exc.strerror or exc}"
    free = service.free_bytes()
    if free is not None:
        found["free_bytes"] = free
        if free < FREE_FLOOR and found["storage"] == "ok":
            found["storage"] = f"less than {FREE_FLOOR >> 20} MiB free"
    healthy = found["database"] == "ok" and found["storage"] == "ok"
    return healthy, {"status": "ok" if healthy else "unhealthy", **found}


def routes(service: UploadService, metrics: Metrics) -> list[Route]:
    async def healthz(request: Request) -> Response:
        healthy, found = await health(service)
        return JSONResponse(found, status_code=200 if healthy else 503)

    return [Route("/healthz", healthz), Route("/metrics", metrics.scrape)]
