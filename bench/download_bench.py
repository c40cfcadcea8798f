"""Download speed of pyfiledrop against nginx (and copyparty, when installed) serving the same file
in the same run.

    python bench/download_bench.py                    # 1 GiB, 5 rounds
    python bench/download_bench.py --size-mib 256 --rounds 3
    python bench/download_bench.py --tmp-dir /tmp     # the file on a disk instead of a tmpfs

One random file (default 1 GiB) is made in a temp folder (default on /dev/shm, a tmpfs, so the disk
is not the limit) and uploaded to `pyfiledrop serve` with `pyfiledrop upload` (its storage in the
same folder); nginx (Debian's, `sendfile on`, one worker) serves the same file from a folder of its
own, and copyparty (`python -m copyparty`, if importable) too. Each round downloads from every
server in turn with `curl -o /dev/null` (1 MB = 10^6 bytes): the whole file, then one Range of the
middle half. Medians of the rounds are printed with the ratio pyfiledrop / nginx (aim: >= 0.8),
and the pyfiledrop process's peak RSS over the downloads (VmHWM, restarted from the current RSS
before them): a download must not pull the file into memory. Before timing, every server's full
download and middle range are checked byte for byte (SHA-256) once.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

MB = 1_000_000
MIB = 1 << 20
AIM = 0.8
AIM_MEMORY_MB = 150
TEMP_PATHS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


@dataclass
class Target:
    name: str
    url: str
    pid: int


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_listening(port: int, proc: subprocess.Popen[bytes], name: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{name} did not start listening")


@contextmanager
def running(command: list[str], port: int, name: str, log: Path) -> Iterator[int]:
    """A server process, its pid; stopped (SIGTERM, then SIGKILL) when the block ends."""
    with open(log, "wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_listening(port, proc, name)
        yield proc.pid
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def make_file(path: Path, size: int) -> None:
    with open(path, "wb") as out:
        for offset in range(0, size, 8 * MIB):
            out.write(os.urandom(min(8 * MIB, size - offset)))


def sha256_of(path: Path, start: int = 0, end: int | None = None) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        f.seek(start)
        left = (end if end is not None else os.path.getsize(path)) - start
        while left > 0:
            block = f.read(min(left, 8 * MIB))
            digest.update(block)
            left -= len(block)
    return digest.hexdigest()


def pyfiledrop(stack: ExitStack, work: Path, source: Path) -> Target:
    """`pyfiledrop serve` on the tmpfs, the file uploaded with `pyfiledrop upload`."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    serve = [sys.executable, "-m", "pyfiledrop", "serve", "--host", "127.0.0.1", "--port",
             str(port), "-s", str(work / "storage"), "-c", str(work / "chunks"), "-a"]  # fmt: skip
    pid = stack.enter_context(running(serve, port, "pyfiledrop", work / "pyfiledrop.log"))
    upload = [sys.executable, "-m", "pyfiledrop", "upload", str(source), "--url", url,
              "--state-file", str(work / "upload-state.json")]  # fmt: skip
    done = subprocess.run(upload, capture_output=True, text=True, check=True)
    link = done.stdout.strip().splitlines()[-1]
    return Target("pyfiledrop", link, pid)


def nginx(stack: ExitStack, source: Path) -> Target:
    """Debian's nginx with its own config in a world-readable temp folder (its workers run as
    another user), serving a hard link (or copy) of the file with sendfile, as Debian ships it."""
    binary = shutil.which("nginx", path=os.environ.get("PATH", "") + ":/usr/sbin")
    if binary is None:
        raise RuntimeError("nginx is not installed (apt-get install nginx)")
    folder = Path(tempfile.mkdtemp(prefix="download-bench-nginx-", dir=source.parent.parent))
    stack.callback(shutil.rmtree, folder, True)
    folder.chmod(0o755)
    (folder / "www").mkdir(mode=0o755)
    served = folder / "www" / source.name
    try:
        os.link(source, served)
    except OSError:
        shutil.copyfile(source, served)
    served.chmod(0o644)
    port = free_port()
    temp = "".join(f"{kind}_temp_path {folder / kind};\n" for kind in TEMP_PATHS)
    conf = folder / "nginx.conf"
    conf.write_text(
        f"daemon off;\nworker_processes 1;\npid {folder / 'nginx.pid'};\n"
        f"error_log {folder / 'error.log'} warn;\nevents {{ worker_connections 64; }}\n"
        f"http {{\n{temp}access_log off;\nsendfile on;\ntcp_nopush on;\n"
        f"server {{ listen 127.0.0.1:{port}; root {folder / 'www'}; }}\n}}\n"
    )
    command = [binary, "-e", str(folder / "error.log"), "-p", str(folder), "-c", str(conf)]
    pid = stack.enter_context(running(command, port, "nginx", folder / "stdout.log"))
    return Target("nginx", f"http://127.0.0.1:{port}/{source.name}", pid)


def copyparty(stack: ExitStack, work: Path, source: Path) -> Target | None:
    """copyparty serving the file's folder read-only, if it is installed."""
    if importlib.util.find_spec("copyparty") is None:
        return None
    port = free_port()
    command = [sys.executable, "-m", "copyparty", "-i", "127.0.0.1", "-p", str(port), "-q",
               "--no-robots", "-v", f"{source.parent}::r"]  # fmt: skip
    pid = stack.enter_context(running(command, port, "copyparty", work / "copyparty.log"))
    return Target("copyparty", f"http://127.0.0.1:{port}/{source.name}", pid)


def curl(url: str, out: str = "/dev/null", span: tuple[int, int] | None = None) -> float:
    """Seconds curl took to download `url` (or the range [start, end)) into `out`."""
    command = ["curl", "-sS", "--fail", "-o", out, "-w", "%{size_download} %{time_total}", url]
    if span is not None:
        command += ["-r", f"{span[0]}-{span[1] - 1}"]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    size, seconds = done.stdout.split()
    expected = None if span is None else span[1] - span[0]
    if expected is not None and int(size) != expected:
        raise RuntimeError(f"{url}: {size} bytes for a range of {expected}")
    return float(seconds)


def check(target: Target, source: Path, span: tuple[int, int], work: Path) -> None:
    """Untimed: the full file and the range come back byte for byte."""
    copy = work / "check.bin"
    for asked in (None, span):
        curl(target.url, str(copy), asked)
        start, end = asked or (0, source.stat().st_size)
        if sha256_of(copy) != sha256_of(source, start, end):
            raise RuntimeError(f"{target.name}: wrong bytes for {asked or 'the whole file'}")
        copy.unlink()


def restart_peak(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def rss_mb(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024 / MB
    raise RuntimeError(f"no {field} for {pid}")


def measure(targets: list[Target], size: int, rounds: int) -> dict[tuple[str, str], list[float]]:
    """MB/s of each download, rounds alternating between the servers."""
    span = (size // 4, size - size // 4)
    speeds: dict[tuple[str, str], list[float]] = {}
    kinds: list[tuple[str, Callable[[str], float], int]] = [
        ("full", lambda url: curl(url), size),
        ("range", lambda url: curl(url, span=span), span[1] - span[0]),
    ]
    for _ in range(rounds):
        for target in targets:
            for kind, download, length in kinds:
                speed = length / download(target.url) / MB
                speeds.setdefault((target.name, kind), []).append(speed)
    return speeds


def report(speeds: dict[tuple[str, str], list[float]], names: list[str]) -> None:
    print(f"{'server':<12} {'download':<9} {'median MB/s':>12}   rounds")
    for (name, kind), values in speeds.items():
        rounds = " ".join(f"{v:.0f}" for v in values)
        print(f"{name:<12} {kind:<9} {statistics.median(values):>12.0f}   {rounds}")
    for other in names:
        for kind in ("full", "range"):
            ours = statistics.median(speeds[("pyfiledrop", kind)])
            theirs = statistics.median(speeds[(other, kind)])
            aim = f"   (aim >= {AIM})" if other == "nginx" else ""
            print(f"ratio pyfiledrop / {other} ({kind}): {ours / theirs:.2f}{aim}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=1024, help="the file's size (MiB)")
    parser.add_argument("--rounds", type=int, default=5, help="downloads per server and kind")
    default_tmp = "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()
    parser.add_argument("--tmp-dir", default=default_tmp, help="where the file and servers live")
    args = parser.parse_args()
    size = args.size_mib * MIB
    with ExitStack() as stack:
        work = Path(tempfile.mkdtemp(prefix="download-bench-", dir=args.tmp_dir))
        stack.callback(shutil.rmtree, work, True)
        source = work / "payload.bin"
        make_file(source, size)
        targets = [pyfiledrop(stack, work, source), nginx(stack, source)]
        party = copyparty(stack, work, source)
        targets += [party] if party else []
        span = (size // 4, size - size // 4)
        for target in targets:
            check(target, source, span, work)
        ours = targets[0].pid
        restart_peak(ours)
        before = rss_mb(ours, "VmRSS")
        speeds = measure(targets, size, args.rounds)
        peak = rss_mb(ours, "VmHWM")
        print(f"file: {size / MB:.0f} MB in {args.tmp_dir}; {args.rounds} rounds; "
              f"range: bytes {span[0]}-{span[1] - 1}")  # fmt: skip
        report(speeds, [t.name for t in targets[1:]])
        print(f"pyfiledrop RSS: {before:.0f} MB before the downloads, peak {peak:.0f} MB during "
              f"them (aim < {AIM_MEMORY_MB} MB)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
