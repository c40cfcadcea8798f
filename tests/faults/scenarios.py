"""Fault scenarios, parametrised by size, shared by the CI tests (small) and bench/faults.py (full).

Each scenario drives real servers with real clients, returns what it measured as `Figures`, and
raises AssertionError naming every upload that was lost, corrupt or stuck and every file left over.
Failures are collected first and raised together, so one run tells everything it found.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.dz import DzFile, multipart, post_form
from tests.faults.clients import (
    KINDS,
    TUS,
    Blob,
    Outcome,
    Recorder,
    dz_upload,
    percentile,
    upload,
    verify,
)  # fmt: skip
from tests.faults.servers import FaultServer, fill, inventory, resize, tmpfs

MB = 1_000_000
MiB = 1 << 20


class ScenarioFailed(AssertionError):
    """A scenario found problems; `figures` holds what it measured all the same."""

    def __init__(self, message: str, figures: Figures) -> None:
        super().__init__(message)
        self.figures = figures


@dataclass
class Figures:
    """A scenario's measurements, in the order they are printed, and what went wrong."""

    name: str
    values: dict[str, object] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def check(self) -> Figures:
        if self.problems:
            shown = "\n  ".join(self.problems[:40])
            more = f"\n  ... and {len(self.problems) - 40} more" if len(self.problems) > 40 else ""
            raise ScenarioFailed(
                f"{self.name}: {len(self.problems)} problem(s):\n  {shown}{more}", self
            )
        return self


def in_flight_budget(in_flight: int) -> float:
    """MiB a server may grow above its idle RSS with `in_flight` requests: a fixed allowance plus
    128 KiB per request (its buffers; chunks stream to disk and are never held whole)."""
    return 32 + in_flight / 8


def memory_figures(figures: Figures, server: FaultServer) -> None:
    peak = server.memory_kib("VmHWM")
    figures.values["server idle RSS (MiB)"] = round(server.idle_rss_kib / 1024, 1)
    figures.values["server peak VmHWM (MiB)"] = round(peak / 1024, 1)


def traceback_check(figures: Figures, server: FaultServer) -> None:
    if "Traceback" in server.log_text():
        figures.problems.append(f"a traceback in the server log {server.log}")


# --- load: many uploaders at once -----------------------------------------------------------------


def concurrent_uploads(
    server: FaultServer,
    uploaders: int,
    tus_uploads: int,
    *,
    chunk_size: int = MB,
    sizes: tuple[int, int] = (2 * MB + 1, 5 * MB),
    parallel: tuple[int, int] = (2, 4),
    growth_budget_mib: Callable[[int], float] | None = in_flight_budget,
    seed: int = 1,
    deadline_s: float = 600,
) -> Figures:
    """`uploaders` Dropzone clients (own cookie, distinct files, `parallel` chunks in flight each,
    raw and multipart bodies) plus `tus_uploads` tus clients, all at once; every file is then
    downloaded and checked against its SHA-256, as reported and as recorded in the database.

    `growth_budget_mib(in_flight)`: the most the server's peak memory may exceed its idle RSS."""
    rng = random.Random(seed)
    figures = Figures(f"{uploaders} uploaders + {tus_uploads} tus")
    rec = Recorder()
    if not server.idle_rss_kib:
        server.note_idle_rss()
    deadline = time.monotonic() + deadline_s
    plans = []
    in_flight = 0
    for n in range(uploaders + tus_uploads):
        blob = Blob(seed * 100_000 + n, rng.randint(*sizes), f"load-{seed}-{n}.bin")
        kind = "tus" if n >= uploaders else ("dz-form" if n % 4 == 3 else "dz-raw")
        width = rng.randint(*parallel) if kind != "tus" else 1
        in_flight += width
        plans.append((kind, blob, width))

    async def run() -> list[Outcome | BaseException]:
        return await asyncio.gather(
            *(upload(kind, server.url, blob, rec, chunk_size=chunk_size, parallel=width,
                     pace=0.0, deadline=deadline) for kind, blob, width in plans),
            return_exceptions=True,
        )  # fmt: skip

    started = time.monotonic()
    results = asyncio.run(run())
    elapsed = time.monotonic() - started
    outcomes = collect(results, plans, figures)
    figures.problems += asyncio.run(verify(outcomes, server.rows()))
    verified = len(outcomes) - sum(1 for p in figures.problems if ":" in p)
    figures.values.update({
        "uploads verified": f"{max(verified, 0)}/{len(plans)}",
        "MB uploaded": round(sum(b.size for _, b, _ in plans) / MB),
        "wall time (s)": round(elapsed, 1),
        "chunk requests": len(rec.latencies),
        "chunk latency p50 (ms)": round(percentile(rec.latencies, 0.5) * 1000),
        "chunk latency p99 (ms)": round(percentile(rec.latencies, 0.99) * 1000),
        "requests in flight (max)": in_flight,
        "client retries": rec.retries,
    })  # fmt: skip
    memory_figures(figures, server)
    if rec.retries:
        figures.problems.append(f"requests failed and were retried: {rec.reasons}")
    if growth_budget_mib is not None:
        growth = (server.memory_kib("VmHWM") - server.idle_rss_kib) / 1024
        budget = growth_budget_mib(in_flight)
        if growth > budget:
            figures.problems.append(
                f"server memory grew {growth:.0f} MiB over its idle RSS with {in_flight} "
                f"requests in flight (budget {budget:.0f} MiB)"
            )
    settle(server)
    found = inventory(server)
    figures.problems += [f"after the load: {p}" for p in found.problems()]
    traceback_check(figures, server)
    return figures.check()


def collect(
    results: list[Outcome | BaseException], plans: list[tuple[str, Blob, int]], figures: Figures
) -> list[Outcome]:
    outcomes = []
    for (kind, blob, _), result in zip(plans, results, strict=True):
        if isinstance(result, BaseException):
            figures.problems.append(f"{kind} {blob.name}: {type(result).__name__}: {result}")
        else:
            outcomes.append(result)
    return outcomes


def settle(server: FaultServer, seconds: float = 10) -> None:
    """Wait until no upload is `assembling` (or `seconds` pass); the inventory then judges."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not any(r["state"] == "assembling" for r in server.rows()):
            return
        time.sleep(0.05)


# --- crashes --------------------------------------------------------------------------------------


def kill_rounds(
    server: FaultServer,
    rounds: int,
    uploads_per_round: int,
    *,
    chunk_size: int = 256 * 1024,
    sizes: tuple[int, int] = (MB, 3 * MB),
    pace: float = 0.02,
    kill_window: tuple[float, float] = (0.05, 0.8),
    seed: int = 7,
) -> Figures:
    """Rounds of mixed uploads (Dropzone raw and form, plain raw and form, tus), each with a
    SIGKILL of the server at a random moment and a restart on the same folders; the clients carry
    on (resend, ask what is missing, resume tus at its offset). Bodies go out in 64 KiB pieces
    `pace` seconds apart, so uploads take about a second and the kill lands mid-request. Right
    after each restart the folders must hold no leftovers; at each round's end every file must
    be complete and right, nothing `assembling`, nothing left over."""
    rng = random.Random(seed)
    figures = Figures(f"{rounds} kill rounds x {uploads_per_round} uploads")
    totals = {"lost": 0, "stuck": 0}
    left_at_restart: set[str] = set()
    left_at_end: set[str] = set()
    kills_mid_upload = 0
    for number in range(rounds):
        rec = Recorder(gate=None)
        blobs = [
            (KINDS[i % len(KINDS)], Blob(seed * 10_000 + number * 100 + i, rng.randint(*sizes),
                                         f"round{number}-{i}.bin"))
            for i in range(uploads_per_round)
        ]  # fmt: skip
        kill_at = rng.uniform(*kill_window)
        at_restart: list[str] = []

        results, busy = asyncio.run(
            _kill_round(server, blobs, rec, kill_at, at_restart, chunk_size=chunk_size, pace=pace)
        )
        kills_mid_upload += busy
        outcomes = collect(results, [(k, b, 0) for k, b in blobs], figures)
        lost = asyncio.run(verify(outcomes, server.rows()))
        lost += [p for p in figures.problems if p.startswith(tuple(KINDS)) and p not in lost]
        settle(server)
        found = inventory(server)
        totals["lost"] += len(lost)
        totals["stuck"] += len(found.stuck)
        left_at_restart.update(at_restart)
        left_at_end.update(found.leftovers())
        where = f"round {number} (kill at {kill_at:.2f} s)"
        figures.problems += [f"{where}: {p}" for p in lost if p not in figures.problems]
        if at_restart:
            figures.problems.append(
                f"{where}: left over right after the restart: "
                f"{', '.join(sorted(at_restart)[:4])} ({len(at_restart)})"
            )
        figures.problems += [f"{where}, at its end: {p}" for p in found.problems()]
    figures.problems = list(dict.fromkeys(figures.problems))
    figures.values.update({"rounds": rounds, "uploads": rounds * uploads_per_round,
                           "kills while uploads were in flight": kills_mid_upload, **totals,
                           "files left over after a restart": len(left_at_restart),
                           "files left over at a round's end": len(left_at_end),
                           "rows by state": dict(sorted(found.states.items()))})  # fmt: skip
    traceback_check(figures, server)
    return figures.check()


async def _kill_round(
    server: FaultServer,
    blobs: list[tuple[str, Blob]],
    rec: Recorder,
    kill_at: float,
    at_restart: list[str],
    *,
    chunk_size: int,
    pace: float,
) -> tuple[list[Outcome | BaseException], bool]:
    """Start the uploads, SIGKILL the server after `kill_at` s, restart it, note what is left over
    before any client is let back in, then let the clients finish. Also says whether any upload
    was still running at the kill."""
    rec.gate = asyncio.Event()
    rec.gate.set()
    deadline = time.monotonic() + 120
    tasks = [
        asyncio.create_task(upload(kind, server.url, blob, rec, chunk_size=chunk_size,
                                   parallel=3, pace=pace, deadline=deadline))
        for kind, blob in blobs
    ]  # fmt: skip
    await asyncio.sleep(kill_at)
    busy = not all(t.done() for t in tasks)
    rec.gate.clear()  # clients wait for the restart before trying again
    await asyncio.to_thread(server.kill)
    await asyncio.to_thread(server.start)
    at_restart.extend(inventory(server, hash_files=False).leftovers())
    rec.gate.set()
    return await asyncio.gather(*tasks, return_exceptions=True), busy


def kill_while_finishing(server: FaultServer, size: int = 3 * MB + 5) -> Figures:
    """A kill after the finished file was moved into place but before the database said complete:
    finish an upload, SIGKILL, set its row back to `assembling`, restart. It must end `complete`
    with its file and its SHA-256."""
    figures = Figures("kill while finishing")
    f = DzFile(os.urandom(size), MB)
    with server.client() as client:
        f.send_all(client, raw=True)
        status = f.wait_complete(client)
        assert status["state"] == "complete", status
        row = next(r for r in server.rows() if r["client_id"] == f.uuid)
        server.kill()
        server.set_state(str(row["id"]), "assembling")
        server.start()
        settle(server)
        after = client.get(f"/upload/{f.uuid}", params={"wait": "10"}).json()
        figures.values["state after restart"] = after["state"]
        if after["state"] != "complete":
            figures.problems.append(f"a complete file ended {after['state']}: {after}")
        elif after["sha256"] != f.sha256:
            figures.problems.append(f"SHA-256 {after['sha256']} after the restart")
        else:
            got = client.get(str(after["download_url"]))
            if got.content != f.data:
                figures.problems.append(f"download HTTP {got.status_code}, wrong bytes")
    figures.problems += [f"afterwards: {p}" for p in inventory(server).problems()]
    traceback_check(figures, server)
    return figures.check()


def leftovers_removed_at_start(server: FaultServer) -> Figures:
    """What kills leave behind (spool files, zero-byte partial files with no row, `.incoming`
    copies) is removed when the server starts; an unfinished upload's partial file is kept."""
    figures = Figures("leftovers at start")
    keep = DzFile(os.urandom(2 * MB), MB)
    with server.client() as client:
        keep.send(client, 0)
        server.stop()
        planted = [
            server.chunks / "spool-k1ll3d.tmp",
            server.chunks / f"{os.urandom(16).hex()}.part",
            server.files / f"{os.urandom(16).hex()}.incoming",
        ]
        planted[0].write_bytes(os.urandom(1000))
        planted[1].touch()
        planted[2].write_bytes(os.urandom(1000))
        server.start()
        left = [p.name for p in planted if p.exists()]
        figures.values["planted leftovers still there"] = len(left)
        if left:
            figures.problems.append(f"left over after a start: {', '.join(left)}")
        keep.send(client, 1)
        status = keep.wait_complete(client)
        if status["state"] != "complete" or client.get(
            str(status["download_url"])).content != keep.data:  # fmt: skip
            figures.problems.append(f"the unfinished upload did not survive the start: {status}")
    traceback_check(figures, server)
    return figures.check()


# --- full disk ------------------------------------------------------------------------------------

ONE = "one file system"
SPLIT = "chunks elsewhere"


def answer(reply: httpx.Response | Exception) -> str:
    if isinstance(reply, Exception):
        return f"reset ({type(reply).__name__})"
    return f"{reply.status_code} {reply.headers.get('content-type', '')} {reply.text[:80]!r}"


def is_507(reply: httpx.Response | Exception) -> bool:
    return (isinstance(reply, httpx.Response) and reply.status_code == 507
            and len(reply.text.strip()) > 0)  # fmt: skip


def full_disk(root: Path, layout: str, *, small: str = "64M") -> Figures:
    """`ONE`: storage, chunks and database on one tmpfs, filled up: every new upload (plain raw,
    plain form, tus, Dropzone chunk raw and form) gets 507 with a message; with the space back
    (remount) each finishes. `SPLIT`: chunks on another tmpfs than storage (so finishing copies),
    storage nearly full: the copy fails, the upload must not stay `assembling`, no `.incoming` is
    left, and with the space back the upload is finished by sending its chunks (tus: resuming) and
    downloads right. Needs root (mount)."""
    figures = Figures(f"full disk, {layout}")
    if layout == ONE:
        with tmpfs(root / "disk", small) as disk:
            server = FaultServer(root / "one", "-a", storage=disk / "storage",
                                 chunks=disk / "chunks").start()  # fmt: skip
            try:
                _full_one(server, disk, figures)
            finally:
                server.stop()
    else:
        with tmpfs(root / "chunkfs", "256M") as chunkfs, tmpfs(root / "storefs", small) as store:
            server = FaultServer(root / "split", "-a", storage=store / "storage",
                                 chunks=chunkfs / "chunks").start()  # fmt: skip
            try:
                _full_split(server, store, figures)
            finally:
                server.stop()
    return figures.check()


def _try(send: Callable[[], httpx.Response]) -> httpx.Response | Exception:
    try:
        return send()
    except httpx.TransportError as exc:
        return exc


def _full_one(server: FaultServer, disk: Path, figures: Figures) -> None:
    data = {kind: os.urandom(600_000) for kind in KINDS}
    dz = {kind: DzFile(data[kind], 256 * 1024, f"{kind}.bin") for kind in ("dz-raw", "dz-form")}
    with server.client() as client:
        client.get("/")
        fill(disk)
        tus_url: str | None = None
        replies: dict[str, httpx.Response | Exception] = {
            "plain-raw": _try(lambda: client.post("/upload", params={"filename": "p.bin"},
                                                  content=data["plain-raw"])),
            "plain-form": _try(lambda: post_form(client, multipart({}, "f.bin",
                                                                   data["plain-form"]))),
            "dz-raw": _try(lambda: dz["dz-raw"].send_raw(client, 0)),
            "dz-form": _try(lambda: dz["dz-form"].send(client, 0)),
        }  # fmt: skip
        created = _try(lambda: client.post("/files/", headers={**TUS, "Upload-Length": "600000"}))
        if isinstance(created, httpx.Response) and created.status_code == 201:
            tus_url = created.headers["location"]
            replies["tus"] = _try(
                lambda: client.patch(
                    tus_url,
                    content=data["tus"],
                    headers={
                        **TUS,
                        "Content-Type": "application/offset+octet-stream",
                        "Upload-Offset": "0",
                    },
                )
            )
        else:
            replies["tus"] = created
        for kind, reply in replies.items():
            figures.values[f"{kind}, disk full"] = answer(reply)
            if not is_507(reply):
                figures.problems.append(f"{kind} on a full disk: {answer(reply)}, not 507")
        resize(disk, "256M")
        got = {
            "plain-raw": client.post("/upload", params={"filename": "p.bin"},
                                     content=data["plain-raw"]).json(),
            "plain-form": post_form(client, multipart({}, "f.bin", data["plain-form"])).json(),
        }  # fmt: skip
        for kind, f in dz.items():
            sent = [f.send_raw(client, i) if kind == "dz-raw" else f.send(client, i)
                    for i in range(f.count)]  # fmt: skip
            bad = [answer(r) for r in sent if r.status_code != 200]
            got[kind] = client.get(f"/upload/{f.uuid}", params={"wait": "20"}).json()
            if bad:
                got[kind] = {"state": f"chunks refused: {bad}"}
        got["tus"] = _finish_tus(client, tus_url, data["tus"])
        for kind, status in got.items():
            figures.values[f"{kind}, space back"] = status.get("state")
            _check_download(client, figures, kind, status, data[kind])
    settle(server)
    figures.problems += [f"afterwards: {p}" for p in inventory(server).problems()]
    traceback_check(figures, server)


def _finish_tus(client: httpx.Client, url: str | None, data: bytes) -> dict[str, object]:
    """Resume a tus upload (or start one if it was never created); its status, page-style."""
    if url is None:
        created = client.post("/files/", headers={**TUS, "Upload-Length": str(len(data))})
        if created.status_code != 201:
            return {"state": f"create {answer(created)}"}
        url = created.headers["location"]
    state = client.head(url, headers=TUS)
    if state.status_code != 200:
        return {"state": f"HEAD {answer(state)}"}
    offset = int(state.headers["upload-offset"])
    if offset < len(data):
        done = client.patch(url, content=data[offset:], headers={
            **TUS, "Content-Type": "application/offset+octet-stream",
            "Upload-Offset": str(offset)})  # fmt: skip
        if done.status_code != 204:
            return {"state": f"PATCH {answer(done)}"}
        state = client.head(url, headers=TUS)
    link = state.headers.get("pyfiledrop-download-url")
    return {"state": "complete" if link else "no link", "download_url": link}


def _check_download(
    client: httpx.Client, figures: Figures, kind: str, status: dict[str, object], data: bytes
) -> None:
    if status.get("state") != "complete" or not status.get("download_url"):
        figures.problems.append(f"{kind} with the space back: {status}")
        return
    got = client.get(str(status["download_url"]))
    if got.status_code != 200 or got.content != data:
        figures.problems.append(f"{kind}: download {got.status_code}, {len(got.content)} bytes")


def _full_split(server: FaultServer, store: Path, figures: Figures) -> None:
    size = 12 * MB + 17
    f = DzFile(os.urandom(size), MB, "split.bin")
    tus_data = os.urandom(size)
    with server.client() as client:
        client.get("/")
        fill(store, leave=4 * MiB)
        refused = [i for i in range(f.count) if f.send_raw(client, i).status_code != 200]
        status = client.get(f"/upload/{f.uuid}", params={"wait": "5"}).json()
        figures.values["dz, storage full"] = status["state"]
        if refused:
            figures.problems.append(f"chunks {refused} refused although chunks have room")
        if status["state"] in ("assembling", "receiving"):
            figures.problems.append(f"the upload stayed {status['state']} after the copy failed")
        incoming = sorted(p.name for p in server.files.glob("*.incoming"))
        if incoming:
            figures.problems.append(f"the failed copy left {', '.join(incoming)}")
        created = client.post("/files/", headers={**TUS, "Upload-Length": str(size)})
        tus_url = created.headers.get("location") if created.status_code == 201 else None
        figures.values["tus, storage full"] = answer(created)
        if created.status_code >= 500 and not is_507(created):
            figures.problems.append(f"a tus upload created on a full storage: {answer(created)}")
        if tus_url:
            last = _try(
                lambda: client.patch(
                    tus_url,
                    content=tus_data,
                    headers={
                        **TUS,
                        "Content-Type": "application/offset+octet-stream",
                        "Upload-Offset": "0",
                    },
                )
            )
            figures.values["tus, storage full"] = answer(last)
        resize(store, "256M")
        for i in range(f.count):  # the client sends its chunks again
            f.send_raw(client, i)
        again = client.get(f"/upload/{f.uuid}", params={"wait": "5"}).json()
        figures.values["dz, space back"] = again["state"]
        _check_download(client, figures, "dz", again, f.data)
        resumed = _finish_tus(client, tus_url, tus_data)
        figures.values["tus, space back"] = resumed["state"]
        _check_download(client, figures, "tus", resumed, tus_data)
    settle(server)
    figures.problems += [f"afterwards: {p}" for p in inventory(server).problems()]
    traceback_check(figures, server)


# --- idle and trickling connections ---------------------------------------------------------------


async def _crowd_member(port: int, kind: int, stop: asyncio.Event, closed: list[int]) -> None:
    """0: connects and says nothing; 1: sends its headers a byte a second; 2: sends a chunk's
    body two bytes a second."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        closed.append(kind)
        return
    dzuuid = os.urandom(16).hex()
    dzuuid = f"{dzuuid[:8]}-{dzuuid[8:12]}-4{dzuuid[13:16]}-8{dzuuid[17:20]}-{dzuuid[20:]}"
    head = (
        f"POST /upload?dzuuid={dzuuid}&dzchunkindex=0&dztotalfilesize=1000000&dzchunksize=1000000"
        f"&dztotalchunkcount=1&dzchunkbyteoffset=0&filename=t.bin HTTP/1.1\r\n"
        f"Host: 127.0.0.1\r\nContent-Length: 1000000\r\n\r\n"
    ).encode()
    try:
        if kind == 2:
            writer.write(head)
        sent = 0
        while not stop.is_set():
            if kind == 1 and sent < len(head) - 4:
                writer.write(head[sent : sent + 1])
            elif kind == 2:
                writer.write(b"xy")
            sent += 1
            await writer.drain()
            try:
                if await asyncio.wait_for(reader.read(1), 0.5 if kind == 2 else 1.0) == b"":
                    closed.append(kind)
                    return
            except TimeoutError:
                pass
    except (ConnectionError, OSError):
        closed.append(kind)
    finally:
        writer.transport.abort()


def idle_connections(
    server: FaultServer,
    connections: int,
    *,
    upload_size: int = 16 * MB,
    slowdown: float = 3.0,
    seed: int = 3,
) -> Figures:
    """`connections` clients that connect and go quiet, send headers a byte a second, or send a
    chunk two bytes a second, while a normal upload (1 MB chunks, 3 in flight) runs: it must take
    at most `slowdown` times (plus one second) what the same upload took just before, alone."""
    figures = Figures(f"{connections} idle or trickling connections")
    if not server.idle_rss_kib:
        server.note_idle_rss()

    async def timed(blob: Blob) -> tuple[float, Outcome]:
        rec = Recorder()
        started = time.monotonic()
        outcome = await dz_upload(server.url, blob, rec, chunk_size=MB, parallel=3,
                                  deadline=time.monotonic() + 120)  # fmt: skip
        return time.monotonic() - started, outcome

    async def run() -> tuple[float, float, list[Outcome], list[int]]:
        alone, first = await timed(Blob(seed, upload_size, "alone.bin"))
        stop, closed = asyncio.Event(), []
        crowd = [asyncio.create_task(_crowd_member(server.port, i % 3, stop, closed))
                 for i in range(connections)]  # fmt: skip
        await asyncio.sleep(2.0)  # all connected, the trickles under way
        crowded, second = await timed(Blob(seed + 1, upload_size, "crowded.bin"))
        stop.set()
        await asyncio.gather(*crowd)
        return alone, crowded, [first, second], closed

    alone, crowded, outcomes, closed = asyncio.run(run())
    figures.problems += asyncio.run(verify(outcomes, server.rows()))
    figures.values.update({
        "upload alone (s)": round(alone, 2),
        "same upload among them (s)": round(crowded, 2),
        "connections the server closed": len(closed),
    })  # fmt: skip
    memory_figures(figures, server)
    if crowded > slowdown * alone + 1.0:
        figures.problems.append(
            f"the upload took {crowded:.2f} s among {connections} idle connections, "
            f"{alone:.2f} s alone"
        )
    traceback_check(figures, server)
    return figures.check()
