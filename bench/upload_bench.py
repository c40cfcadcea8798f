"""Upload throughput of pyfiledrop against ceilings measured in the same run.

Measured (1 MB = 10^6 bytes; each figure is the best of --repeat runs):
  disk ceiling      a plain sequential write of the same size to the same disk, fdatasync at the end
  bare @C           the same client pushing raw chunks of size C, 4 in flight, to a bare ASGI
                    endpoint (bench/bare_endpoint.py: uvicorn like pyfiledrop, os.pwrite, no more)
  pyfiledrop @C     the Dropzone protocol (multipart, dz* fields) to a real `pyfiledrop serve`,
                    timed from the first byte sent until GET /upload/<dzuuid> reports "complete"
                    with the SHA-256 (checked against the local file)
  browser           headless Chromium: the file dropped on pyfiledrop's page (Dropzone, 6 chunks in
                    flight) until .dz-complete, next to a bare page that fetch()es raw Blob slices
                    to the bare endpoint, 6 in flight: Chromium's own ceiling
  cli @C            the command-line client, `python -m pyfiledrop upload --parallel 4
                    --chunk-size C`, from process start to exit (it exits once the server reported
                    the file complete and the SHA-256 matched), next to pyfiledrop @C
  tus               real tus clients at /files/ of the same server, until the upload is complete:
                    tuspy (8 MiB PATCHes one after another) and tus-js-client on Node
                    (bench/tus_js_upload.mjs) with parallelUploads 4 (concatenation) and with
                    8 MiB PATCHes one after another

Run from the repository root:  python bench/upload_bench.py [--size-mib 1024] [--no-browser]
                               [--no-client] [--no-tus]
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import itertools
import json
import os
import platform
import resource
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
MB = 1_000_000
MIB = 1 << 20
CHUNK_SIZES = (1_000_000, 8 * MIB)
CLIENT_PARALLEL = 4
BROWSER_PARALLEL = 6  # what pyfiledrop's page uses (web/page.py PARALLEL_CHUNK_LIMIT)
AIM_8MIB = 0.8
AIM_1MB = 0.5
AIM_BROWSER = 0.85
AIM_MEMORY_MB = 150
AIM_CLI = 1.0  # the command-line client at 8 MiB chunks / the Dropzone path at 8 MiB
TUS_CHUNK = 8 * MIB
TUS_JS_PARALLEL = 4
TUS_JS_SCRIPT = HERE / "tus_js_upload.mjs"
IO_TIMEOUT_S = 300
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TICK = os.sysconf("SC_CLK_TCK")


class BenchError(RuntimeError):
    """A measurement that went wrong: wrong hash, refused chunk, server died."""


def chunk_label(size: int) -> str:
    return f"{size // MIB}MiB" if size % MIB == 0 else f"{size / MB:g}MB"


def mbps(size: int, seconds: float) -> float:
    return size / seconds / MB


# --- processes and their CPU time -------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def proc_cpu(pid: int, tid: int | None = None) -> float:
    """CPU seconds (user + system) of a process (all its threads, dead ones too) or one thread."""
    path = f"/proc/{pid}/task/{tid}/stat" if tid else f"/proc/{pid}/stat"
    try:
        text = Path(path).read_text()
    except OSError:
        return 0.0
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime


def runqueue_wait(pid: int, tid: int) -> float:
    """Seconds a thread spent ready to run but waiting for a CPU (0 where the kernel keeps none)."""
    try:
        return int(Path(f"/proc/{pid}/task/{tid}/schedstat").read_text().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


def vm_hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024 / MB
    raise BenchError(f"no VmHWM for {pid}")


def descendants(root: int, exclude: set[int]) -> list[int]:
    """Pids below `root` (its children, theirs, ...), skipping the trees of `exclude`."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            text = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(text[text.rindex(")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in exclude:
                found.append(child)
                todo.append(child)
    return found


def machine_busy() -> float:
    """CPU seconds all CPUs of the machine spent busy (not idle, not waiting for I/O) so far."""
    ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return (sum(ticks) - ticks[3] - ticks[4]) / TICK


def self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Server:
    """A server in a child process; `folder` is where its finished files land."""

    name: str
    command: list[str]
    port: int
    ready_path: str
    log: Path
    folder: Path
    proc: subprocess.Popen[bytes] | None = None
    peak_mb: float | None = None
    # for each kind of run: the most memory held during one, and the most it rose during one
    kind_peaks: dict[str, tuple[float, float]] = field(default_factory=dict)
    _seen_peak: float = 0.0

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> Server:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                self.command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=ROOT,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"{self.name} exited at start:\n{self.log.read_text()}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", self.ready_path)
                conn.getresponse().read()
                conn.close()
                return self
            except OSError:
                time.sleep(0.05)
        raise BenchError(f"{self.name} did not answer within 30 s")

    def alive(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            raise BenchError(f"{self.name} is not running:\n{self.log.read_text()[-3000:]}")

    def cpu(self) -> tuple[float, float, float]:
        """CPU seconds so far: all threads, the event-loop thread; and the seconds that thread
        waited for a CPU while ready to run."""
        return proc_cpu(self.pid), proc_cpu(self.pid, self.pid), runqueue_wait(self.pid, self.pid)

    @contextmanager
    def peak_during(self, kind: str) -> Iterator[None]:
        """Notes in `kind_peaks[kind]` the most memory the server held while the block ran, and
        how far that is above what it held when the block began.

        VmHWM is restarted from the current RSS first (5 written to /proc/PID/clear_refs), after
        the peak so far is kept aside, so `peak_mb` still covers the server's whole life.
        """
        try:
            self._seen_peak = max(self._seen_peak, vm_hwm_mb(self.pid))
            Path(f"/proc/{self.pid}/clear_refs").write_text("5")
            start = vm_hwm_mb(self.pid)  # the RSS right now
        except (OSError, BenchError):
            start = None  # then only the whole-life peak is reported
        yield
        if start is None:
            return
        try:
            peak = vm_hwm_mb(self.pid)
        except (OSError, BenchError):
            return
        old_peak, old_rise = self.kind_peaks.get(kind, (0.0, 0.0))
        self.kind_peaks[kind] = (max(old_peak, peak), max(old_rise, peak - start))

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            self.peak_mb = max(self._seen_peak, vm_hwm_mb(self.pid))
        except (OSError, BenchError):
            pass
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# --- the HTTP client ----------------------------------------------------------------------------


def get_cookie(port: int) -> str:
    """GET / once; pyfiledrop binds uploads to the cookie it sets (the bare endpoint sets none)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/")
    resp = conn.getresponse()
    resp.read()
    conn.close()
    cookie = resp.getheader("Set-Cookie") or ""
    return cookie.split(";", 1)[0]


def open_conn(port: int) -> http.client.HTTPConnection:
    """A keep-alive connection on a blocking socket (so os.sendfile can be used on it), with kernel
    send/receive timeouts standing in for the socket timeout."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=None)
    conn.connect()
    assert conn.sock is not None
    timeout = struct.pack("ll", IO_TIMEOUT_S, 0)
    conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, timeout)
    conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeout)
    return conn


@dataclass(frozen=True)
class Request:
    path: str
    content_type: str
    preamble: bytes
    epilogue: bytes


Framing = Callable[[int, int, int], Request]  # (index, offset, length) -> request


def dropzone_framing(size: int, chunk: int, filename: str) -> tuple[str, Framing]:
    """What Dropzone sends: the dz* fields, then the file part, in multipart/form-data."""
    dzuuid = str(uuid.uuid4())
    count = max(1, -(-size // chunk))
    boundary = "----pyfiledropbench" + uuid.uuid4().hex
    content_type = f"multipart/form-data; boundary={boundary}"
    epilogue = f"\r\n--{boundary}--\r\n".encode()

    def frame(index: int, offset: int, length: int) -> Request:
        fields = {
            "dzuuid": dzuuid,
            "dzchunkindex": index,
            "dztotalfilesize": size,
            "dzchunksize": chunk,
            "dztotalchunkcount": count,
            "dzchunkbyteoffset": offset,
        }
        parts = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
            for k, v in fields.items()
        ]
        parts.append(
            f"--{boundary}\r\n"
            f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        )
        return Request("/upload", content_type, "".join(parts).encode(), epilogue)

    return dzuuid, frame


def bare_framing(name: str) -> Framing:
    def frame(index: int, offset: int, length: int) -> Request:
        return Request(f"/raw/{name}/{offset}", "application/octet-stream", b"", b"")

    return frame


class Sender:
    """One worker's way of putting a file range on the wire after the request's headers."""

    def __init__(self, mode: str, fd: int, block: int) -> None:
        self.mode = mode
        self.fd = fd
        self.buf = bytearray(block) if mode == "pread" else bytearray()
        self.view = memoryview(self.buf)

    def send(self, sock: socket.socket, offset: int, length: int) -> None:
        end = offset + length
        if self.mode == "sendfile":
            out = sock.fileno()
            while offset < end:
                sent = os.sendfile(out, self.fd, offset, end - offset)
                if sent == 0:
                    raise BenchError("sendfile sent nothing: file shorter than expected")
                offset += sent
            return
        while offset < end:
            want = min(len(self.buf), end - offset)
            got = os.preadv(self.fd, [self.view[:want]], offset)
            if got <= 0:
                raise BenchError("pread read nothing: file shorter than expected")
            sock.sendall(self.view[:got])
            offset += got


def upload_chunks(
    port: int,
    cookie: str,
    path: Path,
    size: int,
    chunk: int,
    parallel: int,
    frame: Framing,
    mode: str,
    started: Callable[[], None],
) -> None:
    """Every chunk of `path`, `parallel` at a time over keep-alive connections, one per thread.

    Connections are opened before `started()` is called, so the clock starts at the first byte.
    """
    count = max(1, -(-size // chunk))
    indexes = itertools.count()
    failures: list[BaseException] = []
    go = threading.Event()
    ready = threading.Barrier(parallel + 1)
    fd = os.open(path, os.O_RDONLY)

    def fail(exc: BaseException) -> None:
        failures.append(exc)
        ready.abort()  # nobody waits for the others any longer

    def work() -> None:
        try:
            conn = open_conn(port)
        except BaseException as exc:  # noqa: BLE001  # reported by the main thread
            fail(exc)
            return
        sender = Sender(mode, fd, min(chunk, 4 * MIB))
        try:
            ready.wait()
            go.wait()
            while not failures:
                index = next(indexes)
                if index >= count:
                    return
                offset = index * chunk
                length = min(chunk, size - offset)
                req = frame(index, offset, length)
                conn.putrequest("POST", req.path, skip_accept_encoding=True)
                conn.putheader("Content-Type", req.content_type)
                conn.putheader(
                    "Content-Length", str(len(req.preamble) + length + len(req.epilogue))
                )
                if cookie:
                    conn.putheader("Cookie", cookie)
                conn.endheaders(req.preamble or None)  # headers and preamble in one send
                assert conn.sock is not None
                sender.send(conn.sock, offset, length)
                if req.epilogue:
                    conn.sock.sendall(req.epilogue)
                resp = conn.getresponse()
                body = resp.read()
                if resp.status != 200:
                    raise BenchError(f"chunk {index} refused: HTTP {resp.status} {body[:300]!r}")
        except BaseException as exc:  # noqa: BLE001  # reported by the main thread
            fail(exc)
        finally:
            conn.close()

    threads = [threading.Thread(target=work, daemon=True) for _ in range(parallel)]
    try:
        for t in threads:
            t.start()
        try:
            ready.wait(60)
        except threading.BrokenBarrierError:
            pass
        started()
        go.set()
        for t in threads:
            t.join()
    finally:
        go.set()
        os.close(fd)
    if failures:
        raise failures[0]


# --- measurements ------------------------------------------------------------------------------


@dataclass
class Result:
    label: str
    size: int
    seconds: float
    timing: str = ""
    cpu: str = ""

    @property
    def mbps(self) -> float:
        return mbps(self.size, self.seconds)


@contextmanager
def cpu_watch(
    notes: list[str],
    wall: list[float],
    server: Server | None = None,
    others: Callable[[], list[int]] | None = None,
    extra: list[tuple[str, float]] | None = None,
) -> Iterator[None]:
    """Appends to `notes` the CPU used meanwhile, as % of one core over the measured wall time.

    `extra` gets (label, CPU seconds) pairs the block appends, for a client process it ran to its
    end (its CPU time is gone from /proc once it is reaped, so the block takes it from wait4).
    "rest of machine" is what every other process (and the kernel's own threads) used meanwhile:
    other work on a shared machine shows up there.
    """
    busy0 = machine_busy()
    client0 = self_cpu()
    server0 = server.cpu() if server else (0.0, 0.0, 0.0)
    other_pids = others() if others else []
    other0 = {pid: proc_cpu(pid) for pid in other_pids}
    yield
    busy = machine_busy() - busy0
    seconds = wall[0] if wall and wall[0] > 0 else 1e-9
    ours = self_cpu() - client0
    parts = [f"bench {ours / seconds:.0%}"]
    for label, used in extra or []:
        ours += used
        parts.append(f"{label} {used / seconds:.0%}")
    if server:
        total, loop, waited = server.cpu()
        ours += total - server0[0]
        parts.append(
            f"server {(total - server0[0]) / seconds:.0%} "
            f"(event-loop thread {(loop - server0[1]) / seconds:.0%} "
            f"+ {(waited - server0[2]) / seconds:.0%} waiting for a CPU)"
        )
    if others:
        used = sum(proc_cpu(pid) - other0.get(pid, 0.0) for pid in others())
        ours += used
        parts.append(f"browser {used / seconds:.0%}")
    parts.append(f"rest of machine {max(0.0, busy - ours) / seconds:.0%}")
    notes.append("CPU: " + ", ".join(parts))


def measure_disk(folder: Path, size: int) -> Result:
    block = os.urandom(8 * MIB)
    target = folder / f"disk-{uuid.uuid4().hex}.bin"
    view = memoryview(block)
    t0 = time.perf_counter()
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        left = size
        while left:
            left -= os.write(fd, view[: min(len(block), left)])
        t_written = time.perf_counter()
        os.fdatasync(fd)
        t_synced = time.perf_counter()
    finally:
        os.close(fd)
    target.unlink()
    return Result("disk", size, t_synced - t0, f"of which fdatasync {t_synced - t_written:.2f} s")


def measure_bare(server: Server, path: Path, size: int, chunk: int, mode: str) -> Result:
    name = f"bare-{uuid.uuid4().hex}.bin"
    target = server.folder / name
    notes: list[str] = []
    wall: list[float] = []
    t0 = 0.0

    def started() -> None:
        nonlocal t0
        t0 = time.perf_counter()

    with cpu_watch(notes, wall, server):
        upload_chunks(
            server.port, "", path, size, chunk, CLIENT_PARALLEL, bare_framing(name), mode, started
        )
        wall.append(time.perf_counter() - t0)
    server.alive()
    if target.stat().st_size != size:
        raise BenchError(f"bare endpoint wrote {target.stat().st_size} bytes, not {size}")
    target.unlink()
    return Result(f"bare @{chunk_label(chunk)}", size, wall[0], "", notes[0])


def measure_pyfiledrop(
    server: Server, path: Path, size: int, sha: str, chunk: int, mode: str
) -> Result:
    cookie = get_cookie(server.port)
    dzuuid, frame = dropzone_framing(size, chunk, path.name)
    notes: list[str] = []
    wall: list[float] = []
    poll = open_conn(server.port)
    t0 = 0.0

    def started() -> None:
        nonlocal t0
        t0 = time.perf_counter()

    try:
        with cpu_watch(notes, wall, server):
            upload_chunks(
                server.port, cookie, path, size, chunk, CLIENT_PARALLEL, frame, mode, started
            )
            t_acked = time.perf_counter()
            deadline = t_acked + IO_TIMEOUT_S
            while True:
                poll.request("GET", f"/upload/{dzuuid}", headers={"Cookie": cookie})
                resp = poll.getresponse()
                status = json.loads(resp.read())
                if resp.status != 200 or status.get("state") == "failed":
                    raise BenchError(f"status of {dzuuid}: HTTP {resp.status} {status}")
                if status.get("state") == "complete" and status.get("sha256"):
                    break
                if time.perf_counter() > deadline:
                    raise BenchError(f"{dzuuid} not complete after {IO_TIMEOUT_S} s: {status}")
                time.sleep(0.01)
            t_done = time.perf_counter()
            wall.append(t_done - t0)
    finally:
        poll.close()
    if status["sha256"] != sha:
        raise BenchError(
            f"SHA-256 MISMATCH for pyfiledrop @{chunk_label(chunk)}: server {status['sha256']}, "
            f"local {sha}"
        )
    timing = (
        f"last chunk answered at {t_acked - t0:.2f} s ({mbps(size, t_acked - t0):.0f} MB/s), "
        f"complete {t_done - t_acked:.2f} s later (hash, fsync, move)"
    )
    return Result(server.name, size, wall[0], timing, notes[0])


# --- the command-line client and the tus clients -----------------------------------------------


CLIENTS: list[subprocess.Popen[bytes]] = []  # client processes, killed at the end if still running


def spawn(
    command: list[str], stdout: int | IO[bytes], stderr: int | IO[bytes]
) -> subprocess.Popen[bytes]:
    """A client process; `main` kills any that is still running when the run ends."""
    proc = subprocess.Popen(
        command, stdout=stdout, stderr=stderr, stdin=subprocess.DEVNULL, cwd=ROOT
    )
    CLIENTS.append(proc)
    return proc


def reap(proc: subprocess.Popen[bytes], timeout: float, name: str) -> resource.struct_rusage:
    """Waits for `proc` to exit (killing it after `timeout` s); returns its own CPU and memory."""
    pidfd = os.pidfd_open(proc.pid)  # readable once the process has exited; no polling
    try:
        exited = bool(select.select([pidfd], [], [], timeout)[0])
    finally:
        os.close(pidfd)
    if not exited:
        proc.kill()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if not exited:
        raise BenchError(f"{name} still running after {timeout:.0f} s: killed")
    return usage


def usage_cpu(usage: resource.struct_rusage) -> float:
    return usage.ru_utime + usage.ru_stime


def tail(path: Path, limit: int = 2000) -> str:
    try:
        return path.read_text(errors="replace")[-limit:]
    except OSError:
        return ""


def http_head(port: int, url: str, headers: dict[str, str]) -> tuple[int, dict[str, str]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("HEAD", urlsplit(url).path, headers=headers)
        resp = conn.getresponse()
        resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}
    finally:
        conn.close()


def download_sha256(port: int, url: str) -> tuple[str, int]:
    """GET `url` from the server; the SHA-256 and the length of the bytes it sends."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=IO_TIMEOUT_S)
    try:
        conn.request("GET", urlsplit(url).path)
        resp = conn.getresponse()
        if resp.status != 200:
            raise BenchError(f"GET {url}: HTTP {resp.status} {resp.read(300)!r}")
        digest, length = hashlib.sha256(), 0
        while block := resp.read(4 * MIB):
            digest.update(block)
            length += len(block)
        return digest.hexdigest(), length
    finally:
        conn.close()


def tus_complete(port: int, url: str, size: int) -> str | None:
    """HEAD of a tus upload: its download link once Upload-Offset is the size and the server
    gives the link (it does once the file is stored), else None."""
    status, headers = http_head(port, url, {"Tus-Resumable": "1.0.0"})
    if status != 200:
        raise BenchError(f"HEAD {url}: HTTP {status}")
    if headers.get("upload-offset") == str(size):
        return headers.get("pyfiledrop-download-url")
    return None


def check_download(server: Server, link: str, size: int, sha: str, label: str) -> None:
    """Untimed: the link is the server's /download/ link and gives back the very same bytes."""
    if not link.startswith(f"http://127.0.0.1:{server.port}/download/"):
        raise BenchError(f"{label}: the link {link!r} is not a /download/ link of the server")
    got, length = download_sha256(server.port, link)
    if (got, length) != (sha, size):
        raise BenchError(f"SHA-256 MISMATCH for {label}: {length} bytes {got}, local {sha}")


def startup_seconds() -> float:
    """Best of 3: a Python process that imports what `pyfiledrop upload` imports, and exits."""
    code = "import pyfiledrop.cli, pyfiledrop.client.progress, pyfiledrop.client.uploader"
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
        times.append(time.perf_counter() - t0)
    return min(times)


def measure_cli(server: Server, path: Path, size: int, sha: str, chunk: int, work: Path) -> Result:
    """`python -m pyfiledrop upload`, timed from process start to exit."""
    label = f"cli @{chunk_label(chunk)}"
    state = work / f"cli-state-{uuid.uuid4().hex}.json"
    out, err = work / "cli.out", work / "cli.err"
    command = [
        sys.executable, "-m", "pyfiledrop", "upload", str(path),
        "--url", f"http://127.0.0.1:{server.port}", "--parallel", str(CLIENT_PARALLEL),
        "--chunk-size", str(chunk), "--state-file", str(state),
    ]  # fmt: skip
    notes: list[str] = []
    wall: list[float] = []
    extra: list[tuple[str, float]] = []
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        with cpu_watch(notes, wall, server, extra=extra):
            t0 = time.perf_counter()
            proc = spawn(command, stdout, stderr)
            usage = reap(proc, IO_TIMEOUT_S, label)
            wall.append(time.perf_counter() - t0)
            extra.append(("cli client", usage_cpu(usage)))
    server.alive()
    if proc.returncode != 0:
        raise BenchError(f"{label} exited with {proc.returncode}:\n{tail(err)}")
    lines = out.read_text().splitlines()
    link = lines[-1].strip() if lines else ""
    if f"SHA-256 {sha} matches" not in err.read_text():
        raise BenchError(f"{label} did not report the file's SHA-256 {sha}:\n{tail(err)}")
    check_download(server, link, size, sha, label)
    state.unlink(missing_ok=True)
    timing = (
        f"client process: CPU {usage_cpu(usage):.2f} s, peak RSS {usage.ru_maxrss / 1000:.0f} MB"
    )
    return Result(label, size, wall[0], timing, notes[0])


def measure_tuspy(server: Server, path: Path, size: int, sha: str) -> Result:
    """tuspy in this process: upload() with 8 MiB PATCHes, then a HEAD that shows it complete."""
    from tusclient.client import TusClient

    uploader = TusClient(f"http://127.0.0.1:{server.port}/files/").uploader(
        str(path), chunk_size=TUS_CHUNK, metadata={"filename": path.name}
    )
    patches: list[float] = []
    upload_chunk = uploader.upload_chunk

    def timed_chunk() -> None:  # upload() calls this once per PATCH
        t = time.perf_counter()
        upload_chunk()  # type: ignore[no-untyped-call]
        patches.append(time.perf_counter() - t)

    uploader.upload_chunk = timed_chunk  # type: ignore[method-assign]
    notes: list[str] = []
    wall: list[float] = []
    heads = 0
    with cpu_watch(notes, wall, server):
        t0 = time.perf_counter()
        uploader.upload()
        t_returned = time.perf_counter()
        url = str(uploader.url)
        deadline = t_returned + IO_TIMEOUT_S
        while True:
            heads += 1
            link = tus_complete(server.port, url, size)
            if link:
                break
            if time.perf_counter() > deadline:
                raise BenchError(f"tuspy upload {url} not complete after {IO_TIMEOUT_S} s")
            time.sleep(0.01)
        wall.append(time.perf_counter() - t0)
    server.alive()
    check_download(server, link, size, sha, "tuspy")
    timing = (
        f"{patch_summary(patches, size)}; POST and between PATCHes "
        f"{t_returned - t0 - sum(patches):.2f} s; complete at the first HEAD"
        if heads == 1
        else f"{patch_summary(patches, size)}; complete only at HEAD #{heads}"
    )
    return Result(f"tuspy @{chunk_label(TUS_CHUNK)}", size, wall[0], timing, notes[0])


def patch_summary(seconds: list[float], size: int) -> str:
    """PATCH count, the typical one (and its speed) and the last one, which also waits for the
    server to finish the file."""
    if not seconds:
        return "no PATCH"
    middle = sorted(seconds[:-1] or seconds)[len(seconds[:-1] or seconds) // 2]
    return (
        f"{len(seconds)} PATCHes, median {middle * 1000:.0f} ms "
        f"({mbps(min(TUS_CHUNK, size), middle):.0f} MB/s while one is in flight), "
        f"last {seconds[-1]:.2f} s"
    )


def tus_js_available() -> str | None:
    """Why tus-js-client cannot run here, or None when it can."""
    if shutil.which("node") is None:
        return "no `node` on PATH"
    found = subprocess.run(
        ["node", "-e", "require.resolve('tus-js-client')"], cwd=HERE, capture_output=True
    )
    if found.returncode != 0:
        return (
            "tus-js-client not found (npm ci in the repository root, or npm install "
            "tus-js-client@4.3.1 --no-save in a folder and NODE_PATH=<folder>/node_modules)"
        )
    return None


def tus_js_version() -> str:
    script = "require('tus-js-client/package.json').version + ' on Node ' + process.version"
    done = subprocess.run(
        ["node", "-p", script],
        cwd=HERE,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip() or "?"


def measure_tus_js(
    server: Server, path: Path, size: int, sha: str, label: str, options: dict[str, int], work: Path
) -> Result:
    """bench/tus_js_upload.mjs on Node, timed from process start until it reports success."""
    err = work / "tus-js.err"
    command = [
        "node", str(TUS_JS_SCRIPT), f"http://127.0.0.1:{server.port}/files/", str(path),
        json.dumps(options),
    ]  # fmt: skip
    notes: list[str] = []
    wall: list[float] = []
    extra: list[tuple[str, float]] = []
    with open(err, "wb") as stderr, cpu_watch(notes, wall, server, extra=extra):
        t0 = time.perf_counter()
        proc = spawn(command, subprocess.PIPE, stderr)
        assert proc.stdout is not None
        line = b""
        if select.select([proc.stdout], [], [], IO_TIMEOUT_S)[0]:
            line = proc.stdout.readline()
        else:
            proc.kill()  # said nothing in time: reaped below, reported as a failure
        wall.append(time.perf_counter() - t0)
        usage = reap(proc, 30, label)
        extra.append(("node", usage_cpu(usage)))
    proc.stdout.close()
    server.alive()
    try:
        report = json.loads(line)
    except ValueError:
        report = {}
    if report.get("event") != "success":
        raise BenchError(f"{label}: {line[:500]!r}; exit {proc.returncode}\n{tail(err)}")
    link = tus_complete(server.port, report["url"], size)
    if not link:
        raise BenchError(f"{label}: {report['url']} is not complete after success")
    check_download(server, link, size, sha, label)
    timing = tus_js_summary(report["requests"], size)
    timing += f"; node peak RSS {usage.ru_maxrss / 1000:.0f} MB"
    return Result(label, size, wall[0], timing, notes[0])


def tus_js_summary(requests: list[list[object]], size: int) -> str:
    """Where the time of a tus-js-client run went, from its request log (ms since node started)."""
    rows = [(str(m), str(c), float(s), float(e)) for m, c, _off, s, e, _st in requests]  # type: ignore[arg-type]
    if not rows:
        return "no requests"
    first = min(s for _, _, s, _ in rows) / 1000
    final = [(s, e) for m, c, s, e in rows if m == "POST" and c.startswith("final;")]
    patches = [(s, e) for m, _, s, e in rows if m == "PATCH"]
    if final:
        partial_end = max(e for _, e in patches) / 1000 if patches else first
        spans = [(e - s) / 1000 for s, e in patches] or [0.0]
        concat = (final[0][1] - final[0][0]) / 1000
        return (
            f"node up, first request at {first:.2f} s; {len(patches)} partial PATCHes "
            f"({min(spans):.2f}-{max(spans):.2f} s each) done at {partial_end:.2f} s; final POST "
            f"{concat:.2f} s (the server copies the partials into one file, deletes them, hashes "
            "and syncs the file)"
        )
    patches.sort()
    gaps = sum(max(0.0, b[0] - a[1]) for a, b in zip(patches, patches[1:], strict=False)) / 1000
    return (
        f"node up, first request at {first:.2f} s; "
        f"{patch_summary([(e - s) / 1000 for s, e in patches], size)}; "
        f"between PATCHes {gaps:.2f} s"
    )


# Installed on a page before the drop; it changes nothing the page does. It notes, on the page's
# clock: the drop (the file input's change event), the first moment `finished` matches (seen by a
# MutationObserver, so without the lag of Playwright's polling), and on pyfiledrop's page the moment
# every chunk had its reply (Dropzone then calls chunksUploaded, which polls the status).
WATCH_PAGE = """(finished) => {
  const marks = window.__bench = {};
  document.addEventListener("change", () => {
    if (marks.drop === undefined) marks.drop = performance.now();
  }, true);
  new MutationObserver(() => {
    if (marks.end === undefined && document.querySelector(finished)) marks.end = performance.now();
  }).observe(document.body, {subtree: true, childList: true, attributes: true,
                             attributeFilter: ["class", "id"]});
  if (window.Dropzone && Dropzone.instances.length) {
    const dz = Dropzone.instances[0];
    const chunksUploaded = dz.options.chunksUploaded;
    dz.options.chunksUploaded = function (file, done) {
      marks.acked = performance.now();
      return chunksUploaded.call(this, file, done);
    };
  }
}"""


def measure_page(
    browser: object,
    kind: str,
    server: Server,
    chunk: int,
    path: Path,
    size: int,
    sha: str,
    exclude: set[int],
) -> Result:
    """One drop of `path` on the bare page or pyfiledrop's page, in a fresh browser context."""
    context = browser.new_context()  # type: ignore[attr-defined]  # fresh cookies, storage
    try:
        page = context.new_page()
        notes: list[str] = []
        wall: list[float] = []
        timing = ""
        if kind == "bare page":
            name = f"page-{uuid.uuid4().hex}.bin"
            page.goto(
                f"http://127.0.0.1:{server.port}/page?chunk={chunk}"
                f"&parallel={BROWSER_PARALLEL}&name={name}"
            )
            input_sel, finished, success = "#file", "#done, #error", "#done"
        else:
            page.goto(f"http://127.0.0.1:{server.port}/")
            config = page.evaluate(
                "JSON.parse(document.getElementById('pyfiledrop-config').textContent)"
            )
            if config.get("chunkSize") != chunk:
                raise BenchError(f"the page sends chunks of {config.get('chunkSize')}, not {chunk}")
            input_sel = "input.dz-hidden-input"
            finished = ".dz-preview.dz-complete, .dz-preview.dz-error"
            success = ".dz-preview.dz-complete"
        page.wait_for_selector(input_sel, state="attached")
        page.evaluate(WATCH_PAGE, finished)
        with cpu_watch(notes, wall, server, lambda: descendants(os.getpid(), exclude)):
            t0 = time.perf_counter()
            page.set_input_files(input_sel, str(path))
            page.wait_for_selector(finished, state="attached", timeout=IO_TIMEOUT_S * 1000)
            wall.append(time.perf_counter() - t0)
        if page.query_selector(success) is None:
            text = page.inner_text("body")
            raise BenchError(f"{kind} @{chunk_label(chunk)} failed: {text[-500:]}")
        server.alive()
        marks = page.evaluate("window.__bench")
        if marks.get("drop") is None or marks.get("end") is None:
            raise BenchError(f"{kind} @{chunk_label(chunk)}: the page marks are missing: {marks}")
        seconds = (marks["end"] - marks["drop"]) / 1000
        if kind == "bare page":
            target = server.folder / name
            if target.stat().st_size != size:
                raise BenchError(f"bare page wrote {target.stat().st_size} bytes, not {size}")
            target.unlink()
        else:
            stored = page.evaluate("localStorage.getItem('pyfiledrop.uploads')")
            got = json.loads(stored or "[]")
            if not got or got[-1].get("sha256") != sha:
                raise BenchError(
                    f"SHA-256 MISMATCH on the page @{chunk_label(chunk)}: {stored!r}, local {sha}"
                )
            if marks.get("acked") is not None:
                acked = (marks["acked"] - marks["drop"]) / 1000
                timing = (
                    f"last chunk answered at {acked:.2f} s ({mbps(size, acked):.0f} MB/s), "
                    f"complete {(marks['end'] - marks['acked']) / 1000:.2f} s later "
                    "(server finishing + the page's status polling)"
                )
        return Result(f"{kind} @{chunk_label(chunk)}", size, seconds, timing, notes[0])
    finally:
        context.close()


# --- the run ----------------------------------------------------------------------------------


def make_file(path: Path, size: int) -> str:
    """`size` random bytes at `path`; returns their SHA-256."""
    digest = hashlib.sha256()
    with open(path, "wb") as f:
        left = size
        while left:
            block = os.urandom(min(8 * MIB, left))
            digest.update(block)
            f.write(block)
            left -= len(block)
        f.flush()
        os.fsync(f.fileno())
    return digest.hexdigest()


def best(results: list[Result]) -> Result:
    return min(results, key=lambda r: r.seconds)


def print_result(r: Result) -> None:
    print(f"  {r.label:<22} {r.seconds:7.2f} s {r.mbps:8.1f} MB/s   {r.timing}")
    if r.cpu:
        print(f"  {'':<22} {r.cpu}")
    sys.stdout.flush()


def versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    found = []
    for name in ("uvicorn", "uvloop", "httptools", "starlette", "python-multipart"):
        try:
            found.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            found.append(f"{name} -")
    return ", ".join(found)


def bare_server(work: Path) -> Server:
    port = free_port()
    folder = work / "bare"
    cmd = [sys.executable, str(HERE / "bare_endpoint.py"), "--host", "127.0.0.1",
           "--port", str(port), "--folder", str(folder)]  # fmt: skip
    return Server("bare endpoint", cmd, port, "/ping", work / "bare.log", folder)


def pyfiledrop_server(work: Path, chunk: int, largest_mib: int, workers: int = 1) -> Server:
    """`pyfiledrop serve` whose page sends `chunk`-byte chunks, taking up to 8 MiB from anyone;
    in `workers` processes."""
    port = free_port()
    name = "pyfiledrop" if workers == 1 else f"pyfiledrop --workers {workers}"
    tag = f"{chunk}" if workers == 1 else f"{chunk}-w{workers}"
    storage, chunks = work / f"storage-{tag}", work / f"chunks-{tag}"
    cmd = [
        sys.executable, "-m", "pyfiledrop", "serve", "--host", "127.0.0.1", "--port", str(port),
        "-s", str(storage), "-c", str(chunks), "-a", "--chunk-size", str(chunk),
        "--max-chunk-size", str(max(CHUNK_SIZES)), "--max-size", str(largest_mib + 1),
        "--workers", str(workers),
    ]  # fmt: skip
    log = work / f"pyfiledrop-{tag}.log"
    return Server(f"{name} @{chunk_label(chunk)}", cmd, port, "/favicon.ico", log, storage)


def source_version() -> str:
    """The commit of the pyfiledrop being measured, and whether src/ differs from it."""
    try:
        head = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--", "src"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return head + (" with uncommitted changes in src/" if dirty else "")


def _interrupt(signum: int, frame: object) -> None:
    """SIGTERM ends the run through the finally blocks, as Ctrl-C does."""
    raise KeyboardInterrupt


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--size-mib", type=int, default=1024, help="file size for the client runs (MiB)"
    )
    parser.add_argument(
        "--browser",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also measure headless Chromium on the real page (default: on)",
    )
    parser.add_argument(
        "--browser-size-mib", type=int, default=256, help="file size for the browser runs (MiB)"
    )
    parser.add_argument(
        "--client",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also measure the command-line client, python -m pyfiledrop upload (default: on)",
    )
    parser.add_argument(
        "--tus",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also measure tuspy and tus-js-client at /files/ (default: on)",
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="run every measurement N times, keep the best"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=2,
        help="also measure `pyfiledrop serve --workers N` next to one process (1: not)",
    )
    parser.add_argument(
        "--client-send",
        choices=("sendfile", "pread"),
        default="sendfile",
        help="how the client puts chunk bytes on the wire: os.sendfile (default) or "
        "os.preadv into a reused buffer + sendall",
    )
    parser.add_argument(
        "--tmp-dir", default=None, help="where the temp folder goes (default: system temp)"
    )
    args = parser.parse_args()
    if args.size_mib < 1 or args.browser_size_mib < 1 or args.repeat < 1:
        parser.error("sizes and --repeat must be at least 1")

    signal.signal(signal.SIGTERM, _interrupt)

    size = args.size_mib * MIB
    bsize = args.browser_size_mib * MIB
    work = Path(tempfile.mkdtemp(prefix="pyfiledrop-bench-", dir=args.tmp_dir))
    servers: list[Server] = []
    try:
        fs = subprocess.run(["df", "-P", str(work)], capture_output=True, text=True).stdout
        device = fs.splitlines()[-1].split()[0] if fs else "?"
        print(f"pyfiledrop upload benchmark (pyfiledrop at {source_version()})")
        print(f"  machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, {versions()}")
        print(f"  temp folder {work} (on {device}); file, server folders and disk test all there")
        print(
            f"  client: http.client, keep-alive, {CLIENT_PARALLEL} threads/connections, "
            f"chunk bytes by {args.client_send}; 1 MB = 10^6 bytes; best of {args.repeat}"
        )
        print(
            "  timed: first byte sent -> last chunk answered (bare) or status 'complete' with "
            "SHA-256 (pyfiledrop)"
        )
        print("  CPU columns: % of one core over the timed interval (bench = this client process)")
        tuspy_skip = tus_js_skip = None
        if args.tus:
            from importlib.metadata import PackageNotFoundError, version

            try:
                py = f"tuspy {version('tuspy')} (requests {version('requests')})"
            except PackageNotFoundError:
                tuspy_skip, py = "tuspy is not installed (pip install tuspy)", "no tuspy"
            tus_js_skip = tus_js_available()
            js = f"tus-js-client {tus_js_version()}" if tus_js_skip is None else "no tus-js-client"
            print(f"  tus clients: {py}, {js}")
        print(flush=True)

        source = work / "source.bin"
        t = time.perf_counter()
        sha = make_file(source, size)
        print(
            f"random file: {size / MB:.0f} MB ({args.size_mib} MiB) sha256 {sha[:16]}... "
            f"written in {time.perf_counter() - t:.1f} s",
            flush=True,
        )

        bare = bare_server(work)
        servers.append(bare.start())
        pyfd: dict[int, Server] = {}
        pyfd_workers: dict[int, Server] = {}
        largest = max(args.size_mib, args.browser_size_mib)
        for chunk in CHUNK_SIZES:
            pyfd[chunk] = pyfiledrop_server(work, chunk, largest)
            servers.append(pyfd[chunk].start())
            if args.workers > 1:
                pyfd_workers[chunk] = pyfiledrop_server(work, chunk, largest, args.workers)
                servers.append(pyfd_workers[chunk].start())

        startup = 0.0
        if args.client:
            startup = startup_seconds()

        # Client runs, interleaved so drift on a shared machine hits every figure alike.
        runs: dict[str, list[Result]] = {}
        print(f"\nclient runs ({args.size_mib} MiB, {CLIENT_PARALLEL} in flight)", flush=True)
        for rep in range(args.repeat):
            if args.repeat > 1:
                print(f" round {rep + 1}/{args.repeat}")
            os.sync()
            r = measure_disk(work, size)
            runs.setdefault(r.label, []).append(r)
            print_result(r)
            for chunk in CHUNK_SIZES:
                for measure in ("bare", "pyfiledrop", "workers"):
                    if measure == "workers" and chunk not in pyfd_workers:
                        continue
                    os.sync()  # start each run without the last one's dirty pages in flight
                    if measure == "bare":
                        with bare.peak_during("raw chunks"):
                            r = measure_bare(bare, source, size, chunk, args.client_send)
                    else:
                        server = (pyfd if measure == "pyfiledrop" else pyfd_workers)[chunk]
                        with server.peak_during("Dropzone"):
                            r = measure_pyfiledrop(
                                server, source, size, sha, chunk, args.client_send
                            )
                    runs.setdefault(r.label, []).append(r)
                    print_result(r)
            if args.client:
                print(
                    f"  command-line client, {CLIENT_PARALLEL} in flight, process start to exit "
                    f"(Python start + imports alone: {startup:.2f} s):",
                    flush=True,
                )
                for chunk in CHUNK_SIZES:
                    os.sync()
                    with pyfd[chunk].peak_during("cli"):
                        r = measure_cli(pyfd[chunk], source, size, sha, chunk, work)
                    runs.setdefault(r.label, []).append(r)
                    print_result(r)
            if args.tus:
                tus_server = pyfd[TUS_CHUNK]
                print(f"  tus at /files/ of {tus_server.name}, until complete:", flush=True)
                if tuspy_skip:
                    print(f"  {'tuspy':<22} skipped: {tuspy_skip}", flush=True)
                else:
                    os.sync()
                    with tus_server.peak_during("tuspy"):
                        r = measure_tuspy(tus_server, source, size, sha)
                    runs.setdefault(r.label, []).append(r)
                    print_result(r)
                tus_js_plan = (
                    (f"tus-js parallel {TUS_JS_PARALLEL}", {"parallelUploads": TUS_JS_PARALLEL}),
                    (f"tus-js @{chunk_label(TUS_CHUNK)}",
                     {"parallelUploads": 1, "chunkSize": TUS_CHUNK}),
                )  # fmt: skip
                for label, options in tus_js_plan:
                    if tus_js_skip:
                        print(f"  {label:<22} skipped: {tus_js_skip}", flush=True)
                        continue
                    os.sync()
                    with tus_server.peak_during(label):
                        r = measure_tus_js(tus_server, source, size, sha, label, options, work)
                    runs.setdefault(r.label, []).append(r)
                    print_result(r)

        browser_runs: dict[str, list[Result]] = {}
        if args.browser:
            bsource = source
            bsha = sha
            if bsize != size:
                bsource = work / "browser-source.bin"
                bsha = make_file(bsource, bsize)
            print(
                f"\nbrowser runs ({args.browser_size_mib} MiB, headless Chromium, "
                f"{BROWSER_PARALLEL} in flight)",
                flush=True,
            )
            from playwright.sync_api import sync_playwright

            server_pids = {s.pid for s in servers}
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                try:
                    print(f"  Chromium {browser.version}", flush=True)
                    plan = []
                    for chunk in CHUNK_SIZES:
                        plan.append(("bare page", bare, chunk))
                        plan.append(("pyfiledrop page", pyfd[chunk], chunk))
                    # One small untimed drop on each page first: Chromium's first upload of a
                    # session is slower than later ones, and that is not what is measured here.
                    warm = work / "warm-up.bin"
                    warm_sha = make_file(warm, 4 * MIB)
                    for kind, server, chunk in plan[:2]:
                        measure_page(
                            browser,
                            kind,
                            server,
                            chunk,
                            warm,
                            4 * MIB,
                            warm_sha,
                            server_pids,
                        )
                    for rep in range(args.repeat):
                        if args.repeat > 1:
                            print(f" round {rep + 1}/{args.repeat}")
                        for kind, server, chunk in plan:
                            os.sync()
                            with server.peak_during("browser"):
                                r = measure_page(
                                    browser,
                                    kind,
                                    server,
                                    chunk,
                                    bsource,
                                    bsize,
                                    bsha,
                                    server_pids,
                                )
                            browser_runs.setdefault(r.label, []).append(r)
                            print_result(r)
                finally:
                    browser.close()

        for s in servers:
            s.alive()
            s.stop()

        # Summary
        b = {label: best(rs) for label, rs in {**runs, **browser_runs}.items()}
        print("\n" + "=" * 78)
        print(f"SUMMARY (MB/s, 1 MB = 10^6 B; best of {args.repeat})")
        print("=" * 78)
        print(f"  {'disk ceiling (write + fdatasync)':<44} {b['disk'].mbps:8.1f}")
        for chunk in CHUNK_SIZES:
            lab = chunk_label(chunk)
            print(f"  {'bare endpoint @' + lab:<44} {b['bare @' + lab].mbps:8.1f}")
            print(f"  {'pyfiledrop @' + lab:<44} {b['pyfiledrop @' + lab].mbps:8.1f}")
        print("  ratios pyfiledrop / bare:")
        for chunk, aim in ((CHUNK_SIZES[0], AIM_1MB), (CHUNK_SIZES[1], AIM_8MIB)):
            lab = chunk_label(chunk)
            ratio = b["pyfiledrop @" + lab].mbps / b["bare @" + lab].mbps
            mark = "meets" if ratio >= aim else "BELOW"
            print(f"    @{lab:<8} {ratio:5.2f}   (aim >= {aim:.2f}: {mark})")
        if pyfd_workers:
            print(f"  ratios --workers {args.workers} / one process (aim on this machine: >= 1.0):")
            for chunk, server in pyfd_workers.items():
                lab = chunk_label(chunk)
                ratio = b[server.name].mbps / b["pyfiledrop @" + lab].mbps
                print(f"    @{lab:<8} {ratio:5.2f}   ({b[server.name].mbps:.1f} MB/s)")
        if args.client:
            print(f"  command-line client ({CLIENT_PARALLEL} in flight, process start to exit):")
            for chunk in CHUNK_SIZES:
                lab = chunk_label(chunk)
                cli, dz = b["cli @" + lab], b["pyfiledrop @" + lab]
                ratio = cli.mbps / dz.mbps
                verdict = "(no aim)"
                if chunk == 8 * MIB:
                    verdict = f"(aim >= {AIM_CLI:.2f}: {'meets' if ratio >= AIM_CLI else 'BELOW'})"
                print(
                    f"    @{lab:<8} cli {cli.mbps:7.1f}   Dropzone path {dz.mbps:7.1f}   "
                    f"ratio cli / Dropzone {ratio:5.2f}   {verdict}"
                )
        if args.tus:
            dz, disk = b["pyfiledrop @" + chunk_label(TUS_CHUNK)], b["disk"]
            print(
                f"  tus at /files/, until complete (Dropzone path @{chunk_label(TUS_CHUNK)} "
                f"{dz.mbps:.1f}, disk ceiling {disk.mbps:.1f}):"
            )
            tus_rows = (
                (f"tuspy @{chunk_label(TUS_CHUNK)}", "tuspy, 8 MiB PATCHes one by one", tuspy_skip),
                (f"tus-js parallel {TUS_JS_PARALLEL}",
                 f"tus-js-client, parallelUploads {TUS_JS_PARALLEL}", tus_js_skip),
                (f"tus-js @{chunk_label(TUS_CHUNK)}", "tus-js-client, 8 MiB PATCHes one by one",
                 tus_js_skip),
            )  # fmt: skip
            for label, text, skipped in tus_rows:
                if label not in b:
                    print(f"    {text:<42}  skipped: {skipped}")
                    continue
                r = b[label]
                print(
                    f"    {text:<42} {r.mbps:7.1f}   {r.mbps / dz.mbps:5.2f} of Dropzone path   "
                    f"{r.mbps / disk.mbps:5.2f} of disk"
                )
        print(f"  server peak memory (VmHWM over the server's life; aim < {AIM_MEMORY_MB} MB):")
        for s in servers:
            if s.peak_mb is not None and s not in pyfd_workers.values():  # a supervisor's own
                verdict = ""
                if s is not bare:
                    verdict = "   meets" if s.peak_mb < AIM_MEMORY_MB else "   ABOVE AIM"
                print(f"    {s.name:<26} {s.peak_mb:7.1f} MB{verdict}")
                if s.kind_peaks:
                    during = ", ".join(
                        f"{k} {peak:.1f} ({rise:+.1f})" for k, (peak, rise) in s.kind_peaks.items()
                    )
                    print(f"      peak during each kind of run (rise during it), MB: {during}")
        if browser_runs:
            print(
                f"  browser, {args.browser_size_mib} MiB, headless Chromium, "
                f"{BROWSER_PARALLEL} in flight:"
            )
            for chunk in CHUNK_SIZES:
                lab = chunk_label(chunk)
                bp, pp = b["bare page @" + lab], b["pyfiledrop page @" + lab]
                ratio = pp.mbps / bp.mbps
                mark = "meets" if ratio >= AIM_BROWSER else "BELOW"
                print(
                    f"    @{lab:<8} bare page {bp.mbps:7.1f}   pyfiledrop page {pp.mbps:7.1f}   "
                    f"ratio {ratio:5.2f}   (aim >= {AIM_BROWSER:.2f}: {mark})"
                )
        print("=" * 78, flush=True)
        return 0
    except BenchError as exc:
        print(f"\nBENCHMARK FAILED: {exc}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted: stopping the servers, removing the temp folder", file=sys.stderr)
        return 130
    finally:
        for proc in CLIENTS:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        for s in servers:
            try:
                s.stop()
            except Exception as exc:  # noqa: BLE001  # keep stopping the others
                print(f"could not stop {s.name}: {exc}", file=sys.stderr)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
