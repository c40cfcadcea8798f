"""Asynchronous upload clients for the fault scenarios: the Dropzone chunk protocol (raw and
multipart bodies), plain one-request uploads (raw and form) and tus, each with its own cookie jar.

They keep going through failures the way real clients do: a refused or cut request is sent again
after a pause until a deadline, a chunked upload asks the server which chunks it has and sends the
rest, a tus upload asks for its offset. Every chunk request's latency is recorded. File contents
are generated from a seed, block by block, so a thousand files cost no memory.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import random
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import httpx

from tests.dz import BOUNDARY, multipart

BLOCK = 1 << 16
TUS = {"Tus-Resumable": "1.0.0"}
KINDS = ("dz-raw", "dz-form", "plain-raw", "plain-form", "tus")


@dataclass(frozen=True)
class Blob:
    """A file's worth of pseudo-random bytes, made again from its seed whenever they are read."""

    seed: int
    size: int
    name: str = "blob.bin"

    def _block(self, k: int) -> bytes:
        return random.Random(self.seed * 1_000_003 + k).randbytes(BLOCK)

    def read(self, offset: int, length: int) -> bytes:
        length = max(0, min(length, self.size - offset))
        out = bytearray()
        k, skip = divmod(offset, BLOCK)
        while len(out) < length:
            out += self._block(k)[skip : skip + length - len(out)]
            k, skip = k + 1, 0
        return bytes(out)

    @cached_property
    def sha256(self) -> str:
        digest = hashlib.sha256()
        for offset in range(0, self.size, 1 << 20):
            digest.update(self.read(offset, 1 << 20))
        return digest.hexdigest()


@dataclass
class Recorder:
    """What the clients of one run saw: chunk latencies (s), retries and their reasons."""

    latencies: list[float] = field(default_factory=list)
    retries: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    gate: asyncio.Event | None = None  # when set up: requests wait until it is set

    async def wait_gate(self) -> None:
        if self.gate is not None:
            await self.gate.wait()

    def retry(self, reason: str) -> None:
        self.retries += 1
        self.reasons[reason] = self.reasons.get(reason, 0) + 1


@dataclass
class Outcome:
    """How one upload ended: its download link and the SHA-256 the server reported."""

    blob: Blob
    kind: str
    state: str = "unfinished"
    sha256: str | None = None
    download_url: str | None = None
    detail: str = ""


def outcome_of(blob: Blob, kind: str, status: dict[str, Any]) -> Outcome:
    """An Outcome from a Dropzone status answer (or a plain upload's reply, which is one)."""
    return Outcome(
        blob, kind, status["state"], status.get("sha256"), status.get("download_url"),
        str(status.get("error", "")),
    )  # fmt: skip


class Gave_up(AssertionError):  # noqa: N801  # reads as a sentence in tracebacks
    pass


async def paced(data: bytes, pace: float) -> AsyncIterator[bytes]:
    """`data` in 64 KiB pieces with `pace` seconds between them (slow enough to be interrupted)."""
    for start in range(0, len(data), BLOCK):
        yield data[start : start + BLOCK]
        if pace:
            await asyncio.sleep(pace)
    if not data:
        yield b""


def body(data: bytes, pace: float) -> bytes | AsyncIterator[bytes]:
    return paced(data, pace) if pace else data


async def persist(
    what: str,
    send: Callable[[], Awaitable[httpx.Response]],
    ok: tuple[int, ...],
    rec: Recorder,
    deadline: float,
    transient: tuple[int, ...] = (500, 502, 503, 507),
) -> httpx.Response:
    """Send until an `ok` status; cut connections and `transient` statuses are tried again."""
    pause = 0.05
    while True:
        await rec.wait_gate()
        try:
            reply = await send()
            if reply.status_code in ok:
                return reply
            reason = f"{what}: HTTP {reply.status_code}"
            if reply.status_code not in transient:
                raise Gave_up(f"{reason}: {reply.text[:300]}")
        except httpx.TransportError as exc:
            reason = f"{what}: {type(exc).__name__}"
        if time.monotonic() > deadline:
            raise Gave_up(f"{reason}, still failing at the deadline")
        rec.retry(reason)
        await asyncio.sleep(pause)
        pause = min(pause * 2, 1.0)


def new_client(base_url: str) -> httpx.AsyncClient:
    """A client that asks for JSON, as the page does (a plain upload is else answered with its
    link as text)."""
    return httpx.AsyncClient(
        base_url=base_url, timeout=httpx.Timeout(120, connect=10), limits=httpx.Limits(
            max_connections=8, max_keepalive_connections=8), headers={"Accept": "application/json"}
    )  # fmt: skip


# --- the Dropzone chunk protocol ------------------------------------------------------------------


async def dz_upload(
    base_url: str,
    blob: Blob,
    rec: Recorder,
    *,
    chunk_size: int,
    parallel: int,
    form: bool = False,
    pace: float = 0.0,
    deadline: float,
) -> Outcome:
    """Cut `blob` into chunks, send them `parallel` at a time, then ask until it is finished."""
    kind = "dz-form" if form else "dz-raw"
    dzuuid = str(uuid.uuid4())
    count = max(1, -(-blob.size // chunk_size))
    async with new_client(base_url) as client:
        await persist("GET /", lambda: client.get("/"), (200,), rec, deadline)

        async def send(index: int) -> None:
            offset = index * chunk_size
            data = blob.read(offset, chunk_size)
            fields = {
                "dzuuid": dzuuid, "dzchunkindex": str(index), "dztotalfilesize": str(blob.size),
                "dzchunksize": str(chunk_size), "dztotalchunkcount": str(count),
                "dzchunkbyteoffset": str(offset),
            }  # fmt: skip
            if form:
                content = multipart(fields, blob.name, data)
                headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
                params: dict[str, str] = {}
            else:
                content, params = data, fields | {"filename": blob.name}
                headers = {"Content-Type": "application/octet-stream"}
            headers["Content-Length"] = str(len(content))

            async def post() -> httpx.Response:
                started = time.perf_counter()
                reply = await client.post(
                    "/upload", params=params, content=body(content, pace), headers=headers
                )
                if reply.status_code == 200:
                    rec.latencies.append(time.perf_counter() - started)
                return reply

            await persist(f"chunk {index}", post, (200,), rec, deadline)

        missing = list(range(count))
        while True:
            queue = list(missing)

            async def worker(queue: list[int] = queue) -> None:
                while queue:
                    await send(queue.pop(0))

            await asyncio.gather(*(worker() for _ in range(min(parallel, len(queue)))))
            reply = await persist(
                "status", lambda: client.get(f"/upload/{dzuuid}", params={"wait": "20"}),
                (200,), rec, deadline,
            )  # fmt: skip
            status: dict[str, Any] = reply.json()
            if status["state"] in ("complete", "failed"):
                return outcome_of(blob, kind, status)
            missing = [i for i in range(count) if i not in status["received"]]
            if time.monotonic() > deadline:
                return Outcome(blob, kind, status["state"], detail=f"stuck: {status}")
            if not missing:
                await asyncio.sleep(0.2)  # every chunk is in: the server is finishing


# --- plain one-request uploads --------------------------------------------------------------------


async def plain_upload(
    base_url: str, blob: Blob, rec: Recorder, *, form: bool = False, pace: float = 0.0,
    deadline: float,
) -> Outcome:  # fmt: skip
    """The whole file in one POST /upload (raw body with ?filename=, or a form with `file` alone);
    sent again whole if it fails."""
    kind = "plain-form" if form else "plain-raw"
    data = blob.read(0, blob.size)
    async with new_client(base_url) as client:
        if form:
            content = multipart({}, blob.name, data)
            headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
            params: dict[str, str] = {}
        else:
            content, params = data, {"filename": blob.name}
            headers = {"Content-Type": "application/octet-stream"}
        headers["Content-Length"] = str(len(content))

        async def post() -> httpx.Response:
            started = time.perf_counter()
            reply = await client.post("/upload", params=params, content=body(content, pace),
                                      headers=headers)  # fmt: skip
            if reply.status_code == 200:
                rec.latencies.append(time.perf_counter() - started)
            return reply

        status = (await persist("plain upload", post, (200,), rec, deadline)).json()
        return outcome_of(blob, kind, status)


# --- tus ------------------------------------------------------------------------------------------


async def tus_upload(
    base_url: str, blob: Blob, rec: Recorder, *, chunk_size: int, pace: float = 0.0,
    deadline: float,
) -> Outcome:  # fmt: skip
    """POST /files/, then PATCHes of `chunk_size` from the offset HEAD reports."""
    name = base64.b64encode(blob.name.encode()).decode()
    async with new_client(base_url) as client:
        created = await persist(
            "tus create", lambda: client.post("/files/", headers={
                **TUS, "Upload-Length": str(blob.size), "Upload-Metadata": f"filename {name}"}),
            (201,), rec, deadline,
        )  # fmt: skip
        url = created.headers["location"]
        while True:
            state = await persist("tus head", lambda: client.head(url, headers=TUS), (200,),
                                  rec, deadline)  # fmt: skip
            offset = int(state.headers["upload-offset"])
            if offset >= blob.size:
                break
            data = blob.read(offset, chunk_size)
            headers = {**TUS, "Content-Type": "application/offset+octet-stream",
                       "Upload-Offset": str(offset), "Content-Length": str(len(data))}  # fmt: skip
            await rec.wait_gate()
            started = time.perf_counter()
            try:
                reply = await client.patch(url, content=body(data, pace), headers=headers)
            except httpx.TransportError as exc:
                reply = None
                reason = f"tus patch: {type(exc).__name__}"
            if reply is not None and reply.status_code == 204:
                rec.latencies.append(time.perf_counter() - started)
                continue
            if reply is not None:
                reason = f"tus patch: HTTP {reply.status_code}"
                if reply.status_code not in (409, 423, 500, 502, 503, 507):
                    raise Gave_up(f"{reason}: {reply.text[:300]}")
            if time.monotonic() > deadline:
                raise Gave_up(f"{reason}, still failing at the deadline")
            rec.retry(reason)
            await asyncio.sleep(0.1)
        link = state.headers.get("pyfiledrop-download-url")
        while link is None and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            state = await persist("tus head", lambda: client.head(url, headers=TUS), (200,),
                                  rec, deadline)  # fmt: skip
            link = state.headers.get("pyfiledrop-download-url")
        if link is None:
            return Outcome(blob, "tus", "unfinished", detail=f"no download link for {url}")
        return Outcome(blob, "tus", "complete", None, link)


async def upload(kind: str, base_url: str, blob: Blob, rec: Recorder, *, chunk_size: int,
                 parallel: int, pace: float, deadline: float) -> Outcome:  # fmt: skip
    """One upload of any kind in KINDS."""
    if kind.startswith("dz-"):
        return await dz_upload(base_url, blob, rec, chunk_size=chunk_size, parallel=parallel,
                               form=kind == "dz-form", pace=pace, deadline=deadline)  # fmt: skip
    if kind.startswith("plain-"):
        return await plain_upload(base_url, blob, rec, form=kind == "plain-form", pace=pace,
                                  deadline=deadline)  # fmt: skip
    return await tus_upload(base_url, blob, rec, chunk_size=chunk_size, pace=pace,
                            deadline=deadline)  # fmt: skip


# --- checking what arrived ------------------------------------------------------------------------


async def verify(
    outcomes: list[Outcome], rows: list[dict[str, object]], parallel: int = 16
) -> list[str]:
    """Download every finished upload and compare its bytes, its ETag, the SHA-256 the server
    reported and the one recorded in the database with the file's own; returns what differs."""
    by_token = {str(r["download_token"]): r for r in rows if r["download_token"]}
    problems: list[str] = []
    gate = asyncio.Semaphore(parallel)

    async def one(outcome: Outcome) -> None:
        blob, what = outcome.blob, f"{outcome.kind} {outcome.blob.name}"
        if outcome.state != "complete" or not outcome.download_url:
            problems.append(f"{what}: ended {outcome.state} {outcome.detail}".strip())
            return
        if outcome.sha256 is not None and outcome.sha256 != blob.sha256:
            problems.append(f"{what}: the server reported SHA-256 {outcome.sha256}")
        token = outcome.download_url.rsplit("/", 1)[-1]
        row = by_token.get(token)
        if row is None or row["state"] != "complete" or row["sha256"] != blob.sha256:
            problems.append(f"{what}: database row {row and (row['state'], row['sha256'])}")
        digest, size = hashlib.sha256(), 0
        async with gate, httpx.AsyncClient(timeout=60) as client:
            async with client.stream("GET", outcome.download_url) as reply:
                if reply.status_code != 200:
                    problems.append(f"{what}: download HTTP {reply.status_code}")
                    return
                async for piece in reply.aiter_bytes():
                    digest.update(piece)
                    size += len(piece)
                etag = reply.headers.get("etag", "").strip('"')
        if size != blob.size or digest.hexdigest() != blob.sha256:
            problems.append(f"{what}: downloaded {size} bytes of the wrong content")
        if etag != blob.sha256:
            problems.append(f"{what}: ETag {etag}")

    await asyncio.gather(*(one(o) for o in outcomes))
    return problems


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]
