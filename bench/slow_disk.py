"""Does a slow disk freeze every client? Probe latency during a max-speed upload to a slow disk.

Run as root from the repository root (needs mkfs.ext4, losetup, mount and cgroup v1 blkio):

    python bench/slow_disk.py [--rate-mb 30] [--size-mib 512] [--server-cmd "..."] [--strace]

Two phases in one run, the same upload and the same probes in each:
  unthrottled  `pyfiledrop serve` with its storage and chunks folders in a temp folder on the
               normal disk: the baseline
  throttled    the same server with both folders on a file-backed ext4 on a loop device, its
               process (all threads) in a cgroup v1 blkio group whose write (and read) rate to
               that loop device is limited to --rate-mb MB/s

Upload: one file of --size-mib MiB through the Dropzone chunk protocol as the page sends it
(binaryBody: dz* fields and filename in the query string, the raw chunk as body, the cookie from
GET /), 1 MB chunks, 4 in flight, each on its own keep-alive connection, as fast as the server
answers; timed until GET /upload/<dzuuid> reports "complete" with the right SHA-256.

Probes, from a separate process, every --probe-ms (50) ms each, while the upload runs:
  GET /                 on a fresh connection per probe, and on one keep-alive connection
  GET /upload/<dzuuid>  (the status call of the upload in progress), the same two ways
Fresh-connection probes go out on a fixed schedule whether or not earlier ones were answered;
a keep-alive connection has one request at a time, so its percentiles also count the probes it
could not send while it waited (each with the time it would have waited).

Printed for each phase: p50 / p99 / max latency of each probe, errors and resets, the longest
stretch with no probe answered (a freeze), the upload's throughput; what the server's event-loop
thread was doing (sampled from /proc), and for the throttled phase how many bytes went through
the throttle. At the end: throttled / unthrottled p99 and the throttled p99 against the 100 ms aim.

Everything (server, probe process, strace, mount, loop device, cgroup, temp folder, any changed
vm.dirty_* setting) is undone on exit, also on failure, Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import itertools
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
MB = 1_000_000
MIB = 1 << 20
BLKIO = Path("/sys/fs/cgroup/blkio")
AIM_P99_S = 0.100
PROBE_TIMEOUT_S = 120
MAX_OUTSTANDING = 2000  # fresh probes waiting for an answer at once
KINDS = ("page fresh", "page keep-alive", "status fresh", "status keep-alive")  # every --probe-ms
IDLE_S = 1.0  # and GET / on a keep-alive connection left idle in between
IDLE_LABEL = "keep-alive idle 1s"
RESETS = (
    ConnectionResetError,
    BrokenPipeError,
    ConnectionAbortedError,
    http.client.RemoteDisconnected,
)
# x86_64 system call numbers, to name what the event-loop thread is blocked in (/proc/.../syscall)
SYSCALLS = {
    0: "read", 1: "write", 2: "open", 3: "close", 4: "stat", 5: "fstat", 7: "poll", 8: "lseek",
    9: "mmap", 17: "pread64", 18: "pwrite64", 19: "readv", 20: "writev", 32: "dup",
    44: "sendto", 45: "recvfrom", 46: "sendmsg", 47: "recvmsg", 74: "fsync", 75: "fdatasync",
    76: "truncate", 77: "ftruncate", 82: "rename", 87: "unlink", 202: "futex", 221: "fadvise64",
    232: "epoll_wait", 257: "openat", 262: "newfstatat", 263: "unlinkat", 264: "renameat",
    281: "epoll_pwait", 285: "fallocate", 288: "accept4", 316: "renameat2", 332: "statx",
}  # fmt: skip


class BenchError(RuntimeError):
    """The measurement itself went wrong: refused chunk, wrong hash, server died."""


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def run(*cmd: str) -> str:
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise BenchError(f"{shlex.join(cmd)} failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout.strip()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ms(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds * 1000:.0f} ms" if seconds < 10 else f"{seconds:.1f} s"


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


# --- the slow disk --------------------------------------------------------------------------------


@dataclass
class SlowDisk:
    mount: Path
    device: str  # /dev/loopN
    devno: str  # "MAJ:MIN"
    cgroup: Path


def make_slow_disk(stack: ExitStack, work: Path, image_bytes: int, rate: int) -> SlowDisk:
    """A file-backed ext4 on a loop device, mounted in `work`, and a blkio cgroup that limits
    writes and reads to that device to `rate` bytes/s. Undone by `stack`."""
    image = work / "disk.img"
    with open(image, "wb") as f:
        f.truncate(image_bytes)
    # Initialise inode tables and journal now, not in the background during the measurement.
    run("mkfs.ext4", "-q", "-F", "-E", "lazy_itable_init=0,lazy_journal_init=0", str(image))
    device = run("losetup", "-f", "--show", str(image))
    stack.callback(detach_loop, device)
    mount = work / "mnt"
    mount.mkdir()
    run("mount", "-t", "ext4", device, str(mount))
    stack.callback(unmount, mount)
    rdev = os.stat(device).st_rdev
    devno = f"{os.major(rdev)}:{os.minor(rdev)}"
    cgroup = BLKIO / f"pyfiledrop-slowdisk-{os.getpid()}"
    cgroup.mkdir()
    stack.callback(remove_cgroup, cgroup)
    for kind in ("write", "read"):
        (cgroup / f"blkio.throttle.{kind}_bps_device").write_text(f"{devno} {rate}")
    stack.callback(lift_throttle, cgroup, devno)  # runs first: queued I/O drains at full speed
    return SlowDisk(mount, device, devno, cgroup)


def lift_throttle(cgroup: Path, devno: str) -> None:
    for kind in ("write", "read"):
        try:
            (cgroup / f"blkio.throttle.{kind}_bps_device").write_text(f"{devno} 0")
        except OSError:
            pass


def remove_cgroup(cgroup: Path) -> None:
    for _ in range(50):
        try:
            pids = (cgroup / "cgroup.procs").read_text().split()
        except OSError:
            return
        for pid in pids:  # anything still in it goes back to the root group
            try:
                (BLKIO / "cgroup.procs").write_text(pid)
            except OSError:
                pass
        try:
            cgroup.rmdir()
            return
        except OSError:
            time.sleep(0.1)
    log(f"could not remove {cgroup}")


def unmount(mount: Path) -> None:
    for _ in range(30):
        if subprocess.run(["umount", str(mount)], capture_output=True).returncode == 0:
            return
        time.sleep(0.5)
    subprocess.run(["umount", "-l", str(mount)], capture_output=True)
    log(f"{mount} was busy; detached lazily")


def detach_loop(device: str) -> None:
    for _ in range(20):
        if subprocess.run(["losetup", "-d", device], capture_output=True).returncode == 0:
            return
        time.sleep(0.5)
    log(f"could not detach {device}")


def loop_written(device: str) -> int:
    """Bytes written to a block device so far (/sys/block/<dev>/stat, sectors of 512 bytes)."""
    fields = Path(f"/sys/block/{Path(device).name}/stat").read_text().split()
    return int(fields[6]) * 512


def cgroup_written(cgroup: Path, devno: str) -> int:
    """Bytes the cgroup's tasks sent to the device through the throttle."""
    for line in (cgroup / "blkio.throttle.io_service_bytes").read_text().splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == devno and parts[1] == "Write":
            return int(parts[2])
    return 0


# --- the page-cache budget ------------------------------------------------------------------------

DIRTY_KNOBS = ("dirty_bytes", "dirty_background_bytes", "dirty_ratio", "dirty_background_ratio")


def vm(name: str) -> int:
    return int(Path(f"/proc/sys/vm/{name}").read_text())


def meminfo(name: str) -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1]) * 1024
    return 0


def dirty_budget() -> tuple[int, int, str]:
    """(background threshold, hard threshold) in bytes, roughly as the kernel computes them
    (against MemAvailable, close to its 'dirtyable' memory), and how they are set."""
    available = meminfo("MemAvailable")
    hard = vm("dirty_bytes") or available * vm("dirty_ratio") // 100
    background = vm("dirty_background_bytes") or available * vm("dirty_background_ratio") // 100
    how = ", ".join(f"{k} {vm(k)}" for k in DIRTY_KNOBS)
    return background, hard, how


def set_dirty_bytes(stack: ExitStack, hard: int) -> None:
    """Machine-wide: vm.dirty_bytes = hard, vm.dirty_background_bytes = hard / 2, restored
    (ratios and bytes as they were) when `stack` closes."""
    saved = {k: vm(k) for k in DIRTY_KNOBS}

    def restore() -> None:
        # Writing a *_ratio zeroes its *_bytes and the other way round: write the ones in use last.
        for pair in (
            ("dirty_ratio", "dirty_bytes"),
            ("dirty_background_ratio", "dirty_background_bytes"),
        ):
            ratio, nbytes = pair
            order = (ratio, nbytes) if saved[nbytes] else (nbytes, ratio)
            for k in order:
                if saved[k] or k == ratio:
                    Path(f"/proc/sys/vm/{k}").write_text(str(saved[k]))

    stack.callback(restore)
    Path("/proc/sys/vm/dirty_background_bytes").write_text(str(hard // 2))
    Path("/proc/sys/vm/dirty_bytes").write_text(str(hard))


# --- the server -----------------------------------------------------------------------------------


class Server:
    def __init__(self, command: list[str], folder: Path, cgroup: Path | None) -> None:
        self.port = free_port()
        self.folder = folder
        self.command = [
            *command, "--host", "127.0.0.1", "--port", str(self.port),
            "-s", str(folder / "storage"), "-c", str(folder / "chunks"),
        ]  # fmt: skip
        self.cgroup = cgroup
        self.log = folder / "server.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> Server:
        cgroup = self.cgroup

        def join_cgroup() -> None:  # in the child, before exec: every thread it ever has is in
            if cgroup is not None:
                (cgroup / "cgroup.procs").write_text(str(os.getpid()))

        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                self.command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                cwd=ROOT, preexec_fn=join_cgroup, start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            self.alive()
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/favicon.ico")
                conn.getresponse().read()
                conn.close()
                break
            except OSError:
                time.sleep(0.05)
        else:
            raise BenchError("the server did not answer within 30 s")
        if (
            cgroup is not None
            and str(self.pid) not in (cgroup / "cgroup.procs").read_text().split()
        ):
            raise BenchError(f"the server (pid {self.pid}) is not in {cgroup}")
        return self

    def alive(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            raise BenchError(f"the server is not running:\n{self.tail()}")

    def tail(self) -> str:
        try:
            return self.log.read_text()[-3000:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        except ProcessLookupError:
            pass


# --- the event-loop thread, sampled from /proc ----------------------------------------------------


class LoopSampler:
    """Every few ms: is the server's main thread (the event loop) blocked in the kernel (state D),
    and in which system call. Costs the server nothing."""

    def __init__(self, pid: int, every: float = 0.005) -> None:
        self.base = f"/proc/{pid}/task/{pid}"
        self.every = every
        self.samples = 0
        self.blocked: Counter[str] = Counter()
        self.dirty_peak = 0
        self.writeback_peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> LoopSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        n = 0
        while not self._stop.wait(self.every):
            try:
                stat = Path(self.base + "/stat").read_text()
                syscall = Path(self.base + "/syscall").read_text().split()
            except OSError:
                return
            self.samples += 1
            if stat[stat.rindex(")") + 2] == "D":
                name = (
                    SYSCALLS.get(int(syscall[0]), f"syscall {syscall[0]}")
                    if syscall[0].isdigit()
                    else "?"
                )
                self.blocked[name] += 1
            n += 1
            if n % 20 == 0:
                self.dirty_peak = max(self.dirty_peak, meminfo("Dirty"))
                self.writeback_peak = max(self.writeback_peak, meminfo("Writeback"))

    def summary(self) -> str:
        if not self.samples:
            return "no samples"
        total = sum(self.blocked.values())
        parts = ", ".join(
            f"{name} {count / self.samples:.0%}" for name, count in self.blocked.most_common(5)
        )
        return f"blocked in the kernel {total / self.samples:.0%} of the time" + (
            f" ({parts})" if parts else ""
        )


# --- the probes (a separate process: `slow_disk.py _probe ...`) ----------------------------------


def probe_main(port: int, cookie: str, dzuuid: str, every: float) -> None:
    """Probe until stdin says stop; print a JSON list of [kind, start, latency, outcome] on stdout.

    Waits for a line on stdin to begin, and stops at the next one (or EOF).
    """
    paths = {"page": "/", "status": f"/upload/{dzuuid}"}
    headers = {"Cookie": cookie}
    records: list[tuple[str, float, float, str]] = []
    lock = threading.Lock()
    stop = threading.Event()
    outstanding = threading.BoundedSemaphore(MAX_OUTSTANDING)

    def note(kind: str, start: float, outcome: str) -> None:
        with lock:
            records.append((kind, start, time.monotonic() - start, outcome))

    def once(conn: http.client.HTTPConnection, path: str) -> str:
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        resp.read()
        return "ok" if resp.status == 200 else f"http {resp.status}"

    def classify(exc: BaseException) -> str:
        if isinstance(exc, RESETS):
            return "reset"
        if isinstance(exc, (socket.timeout, TimeoutError)):
            return "timeout"
        return f"error {type(exc).__name__}"

    def fresh(kind: str, path: str, start: float) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=PROBE_TIMEOUT_S)
        try:
            outcome = once(conn, path)
        except Exception as exc:  # noqa: BLE001
            outcome = classify(exc)
        conn.close()
        note(kind, start, outcome)
        outstanding.release()  # after the note: the records are complete once all are back

    def fresh_loop(name: str, path: str) -> None:
        slot = time.monotonic()
        while not stop.is_set():
            if outstanding.acquire(blocking=False):
                threading.Thread(
                    target=fresh, args=(f"{name} fresh", path, slot), daemon=True
                ).start()
            else:
                note(f"{name} fresh", slot, "not sent")
            slot += every
            stop.wait(max(0.0, slot - time.monotonic()))

    def keepalive_loop(name: str, path: str, gap: float = every, label: str = "keep-alive") -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=PROBE_TIMEOUT_S)
        slot = time.monotonic()
        while not stop.is_set():
            start = time.monotonic()
            try:
                outcome = once(conn, path)
            except Exception as exc:  # noqa: BLE001
                outcome = classify(exc)
                conn.close()  # the next probe reconnects
            note(f"{name} {label}", start, outcome)
            slot = max(slot + gap, time.monotonic())
            stop.wait(max(0.0, slot - time.monotonic()))
        conn.close()

    sys.stdin.readline()
    threads = [
        threading.Thread(target=loop, args=(name, path), daemon=True)
        for name, path in paths.items()
        for loop in (fresh_loop, keepalive_loop)
    ]
    # An idle keep-alive connection, as a browser's between two requests: does a freeze that
    # starts while it is idle get it closed (its keep-alive timer running out) or reset?
    threads.append(
        threading.Thread(target=keepalive_loop, args=("page", "/", IDLE_S, IDLE_LABEL), daemon=True)
    )
    for t in threads:
        t.start()
    sys.stdin.readline()
    stop.set()
    for t in threads:
        t.join()
    # Let the fresh probes still out come back: take every slot of the semaphore.
    deadline = time.monotonic() + PROBE_TIMEOUT_S
    for _ in range(MAX_OUTSTANDING):
        if not outstanding.acquire(timeout=max(0.0, deadline - time.monotonic())):
            break
    with lock:
        json.dump(records, sys.stdout)
    sys.stdout.flush()


@dataclass
class ProbeStats:
    kind: str
    latencies: list[float]  # answered probes (for keep-alive with the probes it could not send)
    answered: int
    errors: Counter[str]

    @property
    def resets(self) -> int:
        return self.errors.get("reset", 0)


def probe_stats(
    records: list[tuple[str, float, float, str]], every: float
) -> tuple[list[ProbeStats], list[tuple[float, float]]]:
    """Per kind of probe: latencies and failures; and the stretches with no probe answered, as
    (start, length), longest first."""
    kinds: dict[str, ProbeStats] = {}
    answers: list[float] = []
    first = min((r[1] for r in records), default=0.0)
    for kind, start, latency, outcome in records:
        stats = kinds.setdefault(kind, ProbeStats(kind, [], 0, Counter()))
        if outcome != "ok":
            stats.errors[outcome.split()[0] if outcome.startswith("error") else outcome] += 1
            continue
        stats.answered += 1
        stats.latencies.append(latency)
        answers.append(start + latency)
        if "keep-alive" in kind:  # the probes a steady client would have sent meanwhile
            gap = IDLE_S if kind.endswith(IDLE_LABEL) else every
            missed = latency - gap
            while missed > 0:
                stats.latencies.append(missed)
                missed -= gap
    answers.sort()
    gaps = [(a, b - a) for a, b in zip([first, *answers], answers, strict=False)]
    gaps.sort(key=lambda g: -g[1])
    order = [*KINDS, f"page {IDLE_LABEL}"]
    return [kinds[k] for k in order if k in kinds], gaps


# --- the upload ----------------------------------------------------------------------------------


def get_cookie(port: int) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/")
    resp = conn.getresponse()
    resp.read()
    conn.close()
    return (resp.getheader("Set-Cookie") or "").split(";", 1)[0]


def make_file(path: Path, size: int) -> str:
    digest = hashlib.sha256()
    with open(path, "wb") as f:
        left = size
        while left:
            block = os.urandom(min(16 * MIB, left))
            digest.update(block)
            f.write(block)
            left -= len(block)
        f.flush()
        os.fsync(f.fileno())
    return digest.hexdigest()


@dataclass
class UploadResult:
    size: int
    last_answer: float  # seconds from the first chunk until the last chunk was answered
    complete: float  # ... until the status call said complete
    retries: int
    retry_reasons: Counter[str] = field(default_factory=Counter)

    @property
    def mbps(self) -> float:
        return self.size / self.complete / MB


class Upload:
    """Dropzone 6 binaryBody chunks: dz* fields and filename in the query, the chunk as body."""

    def __init__(self, port: int, cookie: str, path: Path, size: int, chunk: int, sha: str) -> None:
        self.port, self.cookie, self.path, self.size, self.chunk, self.sha = (
            port, cookie, path, size, chunk, sha,
        )  # fmt: skip
        self.dzuuid = str(uuid.uuid4())
        self.count = max(1, -(-size // chunk))
        self.retries = 0
        self.retry_reasons: Counter[str] = Counter()
        self._lock = threading.Lock()

    def connect(self) -> http.client.HTTPConnection:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=300)
        conn.connect()
        return conn

    def send(
        self, conn: http.client.HTTPConnection, fd: int, index: int
    ) -> http.client.HTTPConnection:
        """Send chunk `index`, retrying (on a new connection) up to 10 times, as Dropzone would."""
        offset = index * self.chunk
        length = min(self.chunk, self.size - offset)
        query = urlencode({
            "dzuuid": self.dzuuid, "dzchunkindex": index, "dztotalfilesize": self.size,
            "dzchunksize": self.chunk, "dztotalchunkcount": self.count,
            "dzchunkbyteoffset": offset, "filename": "slow-disk.bin",
        })  # fmt: skip
        for attempt in itertools.count():
            try:
                conn.putrequest("POST", f"/upload?{query}", skip_accept_encoding=True)
                conn.putheader("Content-Type", "application/octet-stream")
                conn.putheader("Content-Length", str(length))
                conn.putheader("Cookie", self.cookie)
                conn.endheaders()
                assert conn.sock is not None
                sent = 0
                while sent < length:
                    n = os.sendfile(conn.sock.fileno(), fd, offset + sent, length - sent)
                    if n == 0:
                        raise BenchError("the file is shorter than expected")
                    sent += n
                resp = conn.getresponse()
                body = resp.read()
                if resp.status == 200:
                    return conn
                reason = f"HTTP {resp.status}"
                if resp.status < 500 and resp.status != 408:
                    raise BenchError(f"chunk {index} refused: {reason} {body[:300]!r}")
            except (OSError, http.client.HTTPException) as exc:
                reason = "reset" if isinstance(exc, RESETS) else type(exc).__name__
            with self._lock:
                self.retries += 1
                self.retry_reasons[reason] += 1
            if attempt >= 10:
                raise BenchError(f"chunk {index} failed 10 times, last: {reason}")
            conn.close()
            time.sleep(min(2.0, 0.1 * 2**attempt))
            conn = self.connect()
        raise AssertionError  # unreachable

    def run(self, parallel: int, after_first: Callable[[], None]) -> UploadResult:
        fd = os.open(self.path, os.O_RDONLY)
        indexes = itertools.count(1)
        failures: list[BaseException] = []
        try:
            start = time.monotonic()
            conn = self.send(self.connect(), fd, 0)  # creates the upload: the status call exists
            conn.close()
            after_first()

            def work() -> None:
                conn = self.connect()
                try:
                    while not failures:
                        index = next(indexes)
                        if index >= self.count:
                            return
                        conn = self.send(conn, fd, index)
                except BaseException as exc:  # noqa: BLE001  # reported below
                    failures.append(exc)
                finally:
                    conn.close()

            threads = [threading.Thread(target=work, daemon=True) for _ in range(parallel)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            if failures:
                raise failures[0]
            last_answer = time.monotonic() - start
            status = self.wait_complete()
            complete = time.monotonic() - start
        finally:
            os.close(fd)
        if status.get("state") != "complete" or status.get("sha256") != self.sha:
            raise BenchError(f"the upload did not complete with the right SHA-256: {status}")
        return UploadResult(self.size, last_answer, complete, self.retries, self.retry_reasons)

    def wait_complete(self) -> dict[str, object]:
        deadline = time.monotonic() + 3600
        status: dict[str, object] = {}
        while time.monotonic() < deadline:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=300)
                conn.request(
                    "GET", f"/upload/{self.dzuuid}?wait=30", headers={"Cookie": self.cookie}
                )
                resp = conn.getresponse()
                status = json.loads(resp.read())
                conn.close()
            except (OSError, http.client.HTTPException, ValueError):
                time.sleep(0.2)
                continue
            if status.get("state") in ("complete", "failed"):
                return status
        return status


# --- strace ---------------------------------------------------------------------------------------

STRACE_CALLS = "fdatasync,fsync,fadvise64,pwrite64,openat,unlink,rename"
_STRACE_CALL = re.compile(r"^(?P<tid>\d+)\s+(?P<time>[\d:.]+)\s+(?P<call>\w+)\((?P<args>.*)$")
_STRACE_RESUMED = re.compile(
    r"^(?P<tid>\d+)\s+[\d:.]+\s+<\.\.\. (?P<call>\w+) resumed>(?P<rest>.*)$"
)
_STRACE_DURATION = re.compile(r"<(?P<dur>\d+\.\d+)>$")


def strace_calls(trace: Path) -> list[tuple[str, int, str, str, float]]:
    """(wall-clock start, thread id, call, arguments, seconds) of each finished call in an
    `strace -f -tt -T -y` trace; a call that other threads' lines split ("... <unfinished ...>",
    then "<... call resumed> ...") is joined again."""
    calls = []
    pending: dict[int, tuple[str, str, str]] = {}
    for line in trace.read_text(errors="replace").splitlines():
        if resumed := _STRACE_RESUMED.match(line):
            began = pending.pop(int(resumed["tid"]), None)
            dur = _STRACE_DURATION.search(resumed["rest"])
            if began and dur:
                calls.append((began[0], int(resumed["tid"]), began[1], began[2], float(dur["dur"])))
            continue
        call = _STRACE_CALL.match(line)
        if not call:
            continue
        if line.endswith("<unfinished ...>"):
            pending[int(call["tid"])] = (call["time"], call["call"], call["args"])
        elif dur := _STRACE_DURATION.search(line):
            calls.append(
                (call["time"], int(call["tid"]), call["call"], call["args"], float(dur["dur"]))
            )
    return calls


def start_strace(pid: int, out: Path) -> subprocess.Popen[bytes]:
    if shutil.which("strace") is None:
        raise BenchError("strace is missing: apt-get install -y strace")
    proc = subprocess.Popen(
        ["strace", "-f", "-tt", "-T", "-y", "-e", f"trace={STRACE_CALLS}", "-o", str(out),
         "-p", str(pid)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # attached once the main thread has a tracer
        status = Path(f"/proc/{pid}/status").read_text()
        if re.search(r"^TracerPid:\s+[1-9]", status, re.M):
            time.sleep(0.3)  # and the other threads
            return proc
        time.sleep(0.05)
    raise BenchError("strace did not attach")


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        proc.wait()


def strace_summary(trace: Path, pid: int, mount: Path) -> list[str]:
    """Per system call and thread (event loop or another): count, total and longest time; and the
    slowest calls with the file they were on."""
    rows: dict[tuple[str, str], list[float]] = {}
    slow: list[tuple[float, str, int, str, str]] = []
    for when, tid, call, args, dur in strace_calls(trace):
        thread = "event loop" if tid == pid else "other thread"
        rows.setdefault((call, thread), []).append(dur)
        paths = re.findall(r"<([^<>]*)>", args)
        where = (paths[0] if paths else args[:60]).replace(str(mount), "<mnt>")
        slow.append((dur, when, tid, call, where))
    out = [f"  {'call':<12} {'thread':<13} {'count':>6} {'total':>9} {'max':>9}"]
    for (call, thread), durs in sorted(rows.items(), key=lambda kv: -sum(kv[1])):
        out.append(
            f"  {call:<12} {thread:<13} {len(durs):>6} {sum(durs):>8.2f}s {max(durs):>8.3f}s"
        )
    slow.sort(reverse=True)
    out.append("  slowest calls (wall clock, thread id, call, file):")
    for dur, when, tid, call, where in slow[:12]:
        who = "event loop" if tid == pid else f"thread {tid}"
        out.append(f"    {when}  {who:<13} {call:<10} {dur:7.3f}s  {where}")
    return out


# --- one phase -----------------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    upload: UploadResult
    stats: list[ProbeStats]
    gaps: list[tuple[float, float]]
    loop: str
    notes: list[str]

    def p99(self, kind: str) -> float | None:
        for s in self.stats:
            if s.kind == kind:
                return percentile(s.latencies, 99)
        return None

    @property
    def worst_p99(self) -> float:
        return max((percentile(s.latencies, 99) or 0.0) for s in self.stats)


def run_phase(
    name: str,
    args: argparse.Namespace,
    stack: ExitStack,
    folder: Path,
    source: Path,
    sha: str,
    disk: SlowDisk | None,
) -> Phase:
    folder.mkdir(parents=True, exist_ok=True)
    run("sync")  # start with nothing dirty from before (the test file, the other phase)
    server = Server(shlex.split(args.server_cmd), folder, disk.cgroup if disk else None)
    stack.callback(server.stop)
    if disk:  # on the way out, queued I/O first drains at full speed, so the server can stop
        stack.callback(lift_throttle, disk.cgroup, disk.devno)
    server.start()
    log(f"[{name}] server pid {server.pid} on port {server.port}, folders in {folder}")
    cookie = get_cookie(server.port)
    upload = Upload(server.port, cookie, source, args.size_mib * MIB, args.chunk_size, sha)
    probe = subprocess.Popen(
        [sys.executable, __file__, "_probe", str(server.port), cookie, upload.dzuuid,
         str(args.probe_ms / 1000)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip

    def kill_probe() -> None:
        if probe.poll() is None:
            probe.kill()
            probe.wait()

    stack.callback(kill_probe)
    tracer: subprocess.Popen[bytes] | None = None
    trace = folder / "strace.txt"
    if args.strace and disk:
        tracer = start_strace(server.pid, trace)
        stack.callback(stop_process, tracer)
    notes: list[str] = []
    before = (
        (loop_written(disk.device), cgroup_written(disk.cgroup, disk.devno)) if disk else (0, 0)
    )

    def go() -> None:
        assert probe.stdin is not None
        probe.stdin.write("go\n")
        probe.stdin.flush()

    with LoopSampler(server.pid) as sampler:
        try:
            result = upload.run(args.parallel, go)
        except BenchError as exc:
            raise BenchError(f"[{name}] {exc}\nserver log:\n{server.tail()}") from exc
        time.sleep(1.0)  # a last second of probes after the upload completed
        assert probe.stdin is not None
        probe.stdin.write("stop\n")
        probe.stdin.flush()
        out, _ = probe.communicate(timeout=PROBE_TIMEOUT_S + 30)
    server.alive()
    if probe.returncode != 0:
        raise BenchError(f"[{name}] the probe process failed ({probe.returncode})")
    stats, gaps = probe_stats(json.loads(out), args.probe_ms / 1000)
    if disk:
        total = loop_written(disk.device) - before[0]
        throttled = cgroup_written(disk.cgroup, disk.devno) - before[1]
        notes.append(
            f"written to {disk.device} during the run: {total / MB:.0f} MB, of which "
            f"{throttled / MB:.0f} MB ({throttled / max(total, 1):.0%}) was issued by the server's "
            f"own threads and went through the {args.rate_mb:g} MB/s throttle (cgroup v1 does not "
            "throttle writeback by kernel threads: flusher, journal)"
        )
    notes.append(
        f"page cache during the upload: Dirty peaked at {sampler.dirty_peak / MB:.0f} MB, "
        f"Writeback at {sampler.writeback_peak / MB:.0f} MB"
    )
    if tracer is not None:
        time.sleep(0.5)
        tracer.send_signal(signal.SIGINT)  # detach
        tracer.wait(30)
        notes.append(f"strace -f -tt -T -y -e trace={STRACE_CALLS} -p {server.pid} (server pid):")
        notes.extend(strace_summary(trace, server.pid, disk.mount if disk else folder))
        if args.strace_out:
            shutil.copyfile(trace, args.strace_out)
            notes.append(f"  raw trace copied to {args.strace_out}")
    server.stop()
    return Phase(name, result, stats, gaps, sampler.summary(), notes)


# --- report ---------------------------------------------------------------------------------------


def report(phase: Phase, every: float) -> list[str]:
    u = phase.upload
    lines = [
        f"== {phase.name} ==",
        f"upload: {u.size / MB:.0f} MB in {u.complete:.1f} s = {u.mbps:.1f} MB/s until complete "
        f"(last chunk answered at {u.last_answer:.1f} s); chunk retries {u.retries}"
        + (f" ({dict(u.retry_reasons)})" if u.retries else ""),
        f"  {'probe':<26} {'answered':>8} {'p50':>8} {'p99':>8} {'max':>8}  errors",
    ]
    for s in phase.stats:
        errs = ", ".join(f"{k} {v}" for k, v in sorted(s.errors.items())) or "none"
        lines.append(
            f"  {s.kind:<26} {s.answered:>8} {ms(percentile(s.latencies, 50)):>8} "
            f"{ms(percentile(s.latencies, 99)):>8} {ms(max(s.latencies, default=None)):>8}  {errs}"
        )
    resets = sum(s.resets for s in phase.stats)
    errors = sum(sum(s.errors.values()) for s in phase.stats) - resets
    longest = phase.gaps[0] if phase.gaps else (0.0, 0.0)
    start = min((g[0] for g in phase.gaps), default=0.0)
    stalls = [g for g in phase.gaps if g[1] >= 0.5]
    lines.append(f"  resets {resets}, other errors {errors}")
    lines.append(
        f"  longest freeze (no probe answered): {ms(longest[1])} at +{longest[0] - start:.1f} s; "
        f"stretches >= 0.5 s: {len(stalls)}, {sum(g[1] for g in stalls):.1f} s in all"
        + (
            " [" + ", ".join(f"{ms(g[1])} at +{g[0] - start:.1f}s" for g in stalls[:6]) + "]"
            if stalls
            else ""
        )
    )
    lines.append(f"  server event-loop thread: {phase.loop}")
    lines.extend("  " + n if not n.startswith("  ") else n for n in phase.notes)
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--rate-mb", type=float, default=30, help="write (and read) limit, MB/s (default 30)"
    )
    parser.add_argument("--size-mib", type=int, default=512, help="file size, MiB (default 512)")
    parser.add_argument(
        "--chunk-size", type=int, default=1_000_000, help="bytes per chunk (default 1000000)"
    )
    parser.add_argument("--parallel", type=int, default=4, help="chunks in flight (default 4)")
    parser.add_argument(
        "--probe-ms", type=float, default=50, help="probe interval per probe (default 50)"
    )
    parser.add_argument(
        "--server-cmd",
        default=f"{shlex.quote(sys.executable)} -m pyfiledrop serve",
        help="command that starts the server; --host --port -s -c are appended "
        "(default: this Python -m pyfiledrop serve)",
    )
    parser.add_argument(
        "--tmp-dir", default=None, help="where the temp folder goes (the normal disk)"
    )
    parser.add_argument("--no-baseline", action="store_true", help="skip the unthrottled phase")
    parser.add_argument(
        "--dirty-mb",
        type=int,
        default=0,
        help="MACHINE-WIDE during the run: vm.dirty_bytes = N MB, dirty_background_bytes = N/2 MB "
        "(restored at the end); default: leave them alone",
    )
    parser.add_argument(
        "--strace", action="store_true", help="strace the throttled server's threads"
    )
    parser.add_argument("--strace-out", default=None, help="keep the raw strace output here")
    parser.add_argument("--strict", action="store_true", help="exit 1 when the aim is missed")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root: it mounts a loop device and makes a blkio cgroup")
    if not (BLKIO / "cgroup.procs").exists():
        raise SystemExit(f"cgroup v1 blkio is not mounted at {BLKIO}")

    def on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    size = args.size_mib * MIB
    rate = int(args.rate_mb * MB)
    status = 0
    with ExitStack() as stack:
        work = Path(tempfile.mkdtemp(prefix="slowdisk-", dir=args.tmp_dir))
        stack.callback(shutil.rmtree, work, True)
        if args.dirty_mb:
            set_dirty_bytes(stack, args.dirty_mb * MB)
        background, hard, how = dirty_budget()
        source = work / "upload.bin"
        log(f"writing a {args.size_mib} MiB test file to {source}")
        sha = make_file(source, size)
        disk = make_slow_disk(stack, work, size + max(size // 4, 256 * MIB) + 128 * MIB, rate)
        header = [
            f"pyfiledrop slow-disk benchmark: {shlex.join(sys.argv)}",
            f"server: {args.server_cmd}  (this checkout: {git_head()})",
            f"upload: {args.size_mib} MiB ({size / MB:.0f} MB), {args.chunk_size} B raw-body "
            f"Dropzone chunks, {args.parallel} in flight; probes every {args.probe_ms:g} ms each: "
            "GET / and GET /upload/<dzuuid>, on fresh and on keep-alive connections",
            f"throttled disk: ext4 on {disk.device} ({disk.devno}), blkio write and read limit "
            f"{args.rate_mb:g} MB/s for the server's cgroup; unthrottled: {work} on "
            f"{run('findmnt', '-no', 'SOURCE', '--target', str(work))}",
            f"dirty page budget: background writeback from {background / MB:.0f} MB, writers "
            f"throttled from {hard / MB:.0f} MB ({how}); machine: {os.cpu_count()} CPUs, "
            f"{meminfo('MemTotal') / 1e9:.1f} GB RAM",
        ]
        phases: list[Phase] = []
        try:
            if not args.no_baseline:
                phases.append(
                    run_phase(
                        "unthrottled (normal disk)", args, stack, work / "plain", source, sha, None
                    )
                )
            phases.append(
                run_phase(
                    f"throttled ({args.rate_mb:g} MB/s loop device)",
                    args,
                    stack,
                    disk.mount / "pyfiledrop",
                    source,
                    sha,
                    disk,
                )  # fmt: skip
            )
        except BenchError as exc:
            print("\n".join(header))
            print(f"BENCHMARK FAILED: {exc}")
            return 1
        lines = [*header, ""]
        for phase in phases:
            lines += [*report(phase, args.probe_ms / 1000), ""]
        slow = phases[-1]
        base = phases[0] if len(phases) > 1 else None
        lines.append("== verdict ==")
        for kind in KINDS:
            p99 = slow.p99(kind)
            base_p99 = base.p99(kind) if base else None
            ratio = ""
            if base_p99 and p99 is not None:
                ratio = f", {p99 / base_p99:.1f}x unthrottled ({ms(base_p99)})"
            lines.append(f"  p99 {kind:<18} throttled {ms(p99):>8}{ratio}")
        met = slow.worst_p99 < AIM_P99_S and all(s.resets == 0 and not s.errors for s in slow.stats)
        lines.append(
            f"  aim: every probe's p99 < {AIM_P99_S * 1000:.0f} ms and no errors on the slow disk: "
            + ("MET" if met else f"MISSED (worst p99 {ms(slow.worst_p99)})")
        )
        print("\n".join(lines), flush=True)
        if args.strict and not met:
            status = 1
    return status


def git_head() -> str:
    try:
        head = run("git", "-C", str(ROOT), "log", "-1", "--format=%h")
        src = run("git", "-C", str(ROOT), "log", "-1", "--format=%h", "--", "src")
        dirty = run("git", "-C", str(ROOT), "status", "--porcelain", "--", "src")
        return f"{head}, src/ last changed at {src}" + (
            " plus uncommitted changes" if dirty else ""
        )
    except (BenchError, OSError):
        return "?"


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_probe":
        probe_main(int(sys.argv[2]), sys.argv[3], sys.argv[4], float(sys.argv[5]))
    else:
        try:
            sys.exit(main())
        except KeyboardInterrupt:
            print("interrupted; everything was undone", file=sys.stderr)
            sys.exit(130)
