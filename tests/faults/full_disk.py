"""Full-disk scenarios on real tmpfs file systems (root only), shared by tests and bench.

`ONE`: storage, chunks and database on one small tmpfs, filled up. `SPLIT`: chunks on a tmpfs of
their own, storage (files and database) on another, nearly full, so finishing an upload is a copy
that runs out of room. Every mount is undone, also on failure.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.dz import DzFile, multipart, post_form
from tests.faults.clients import KINDS, TUS
from tests.faults.figures import Figures, settle, traceback_check
from tests.faults.servers import FaultServer, fill, inventory, resize, tmpfs

MB = 1_000_000
MiB = 1 << 20


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
    storage nearly full: the copy fails, the upload waits `assembling` with the reason shown, no
    `.incoming` is left, and with the space back the upload is finished by sending its chunks
    (tus: resuming) and downloads right. Needs root (mount)."""
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
    deadline = time.monotonic() + 10  # all bytes in: finishing may wait for the space it needs
    while "pyfiledrop-download-url" not in state.headers and time.monotonic() < deadline:
        time.sleep(0.1)
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
        # It waits, saying why, to be finished once space is back (a re-sent chunk, a status
        # call or the sweep tries again); it must not fail for good nor look like it is receiving.
        if status["state"] != "assembling" or "full" not in str(status.get("error")):
            figures.problems.append(f"after the copy failed the upload is {status}")
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
