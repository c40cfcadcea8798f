"""Fault scenarios, parametrised by size, shared by the CI tests (small) and bench/faults.py (full).

Each scenario drives real servers with real clients, returns what it measured as `Figures`, and
raises AssertionError naming every upload that was lost, corrupt or stuck and every file left over.
Failures are collected first and raised together, so one run tells everything it found.
Here: load, crashes and idle connections; the full-disk scenarios are in full_disk.py.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
import uuid
from collections.abc import Callable

from tests.dz import DzFile
from tests.faults.clients import (
    KINDS,
    Blob,
    Outcome,
    Recorder,
    dz_upload,
    percentile,
    upload,
    verify,
)  # fmt: skip
from tests.faults.figures import (
    Figures,
    in_flight_budget,
    memory_figures,
    settle,
    traceback_check,
)  # fmt: skip
from tests.faults.servers import FaultServer, inventory

MB = 1_000_000
MiB = 1 << 20


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
    outcomes, gave_up = collect(results, [(kind, blob) for kind, blob, _ in plans])
    wrong = asyncio.run(verify(outcomes, server.rows()))
    figures.problems += gave_up + wrong
    verified = sum(1 for o in outcomes if not any(w.startswith(f"{o.kind} {o.blob.name}:")
                                                  for w in wrong))  # fmt: skip
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
    results: list[Outcome | BaseException], plans: list[tuple[str, Blob]]
) -> tuple[list[Outcome], list[str]]:
    """The uploads that ended, and a line for each client that gave up."""
    outcomes, gave_up = [], []
    for (kind, blob), result in zip(plans, results, strict=True):
        if isinstance(result, BaseException):
            gave_up.append(f"{kind} {blob.name}: {type(result).__name__}: {result}")
        else:
            outcomes.append(result)
    return outcomes, gave_up


def requests_held_open(
    server: FaultServer, requests: int, *, chunk: int = 4 * MiB, sent: int = 2 * MB
) -> Figures:
    """`requests` raw chunk requests (each its own upload) that send `sent` bytes of a `chunk`
    byte chunk and then stall, all at once: the server's memory with them all in flight must stay
    within `in_flight_budget(requests)` of its idle RSS (the bytes went to disk, not to memory)."""
    figures = Figures(f"{requests} requests held open mid-chunk")
    if not server.idle_rss_kib:
        server.note_idle_rss()

    async def hold() -> tuple[int, int]:
        writers = []
        try:
            for _ in range(requests):
                _, writer = await asyncio.open_connection("127.0.0.1", server.port)
                query = (f"dzuuid={uuid.uuid4()}&dzchunkindex=0&dztotalfilesize={chunk}"
                         f"&dzchunksize={chunk}&dztotalchunkcount=1&dzchunkbyteoffset=0"
                         "&filename=held.bin")  # fmt: skip
                writer.write(f"POST /upload?{query} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                             f"Content-Length: {chunk}\r\n\r\n".encode())  # fmt: skip
                writer.write(os.urandom(sent))
                writers.append(writer)
            for writer in writers:
                await writer.drain()
            await asyncio.sleep(2.0)  # the server reads what was sent and writes it down
            return server.memory_kib("VmRSS"), server.memory_kib("VmHWM")
        finally:
            for writer in writers:
                writer.transport.abort()

    rss, peak = asyncio.run(hold())
    growth = (rss - server.idle_rss_kib) / 1024
    budget = in_flight_budget(requests)
    figures.values.update({
        "server idle RSS (MiB)": round(server.idle_rss_kib / 1024, 1),
        "server RSS with them held (MiB)": round(rss / 1024, 1),
        "per request held (KiB)": round(growth * 1024 / requests),
        "server peak VmHWM (MiB)": round(peak / 1024, 1),
    })  # fmt: skip
    if growth > budget:
        figures.problems.append(
            f"server memory grew {growth:.0f} MiB over its idle RSS with {requests} requests "
            f"held mid-chunk (budget {budget:.0f} MiB)"
        )
    traceback_check(figures, server)
    return figures.check()


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
        outcomes, gave_up = collect(results, blobs)
        lost = gave_up + asyncio.run(verify(outcomes, server.rows()))
        settle(server)
        found = inventory(server)
        totals["lost"] += len(lost)
        totals["stuck"] += len(found.stuck)
        left_at_restart.update(at_restart)
        left_at_end.update(found.leftovers())
        where = f"round {number} (kill at {kill_at:.2f} s)"
        figures.problems += [f"{where}: {p}" for p in lost]
        if at_restart:
            figures.problems.append(
                f"{where}: left over right after the restart: "
                f"{', '.join(sorted(at_restart)[:4])} ({len(at_restart)})"
            )
        figures.problems += [f"{where}, at its end: {p}" for p in found.problems()]
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
