"""Memory over one large upload through the real page: does the browser's memory stay flat, and the
server's peak under 150 MB?

One file (4 GiB by default) is dropped on pyfiledrop's page in headless Chromium (Debian's, at its
default settings: Dropzone, 1 MB chunks) and sent to a fresh `pyfiledrop serve` on the same
machine. Every half second the benchmark samples:
  browser RSS   the resident memory of every Chromium process (browser, renderer, network
                service, ...) added up: what the page costs the person's machine
  JS heap       the page's JavaScript heap in use (CDP Runtime.getHeapUsage)
  sent          the bytes the server has received so far (its chunks folder's usage)
Printed: the figures before the drop, then at each tenth of the upload, and the peaks. "Flat"
means the last tenth holds no more than the first tenth does (the slope is printed in MB per GiB
sent). The server's VmHWM (peak RSS over its life) is printed next to the 150 MB aim.

    python bench/page_memory.py [--size-mib 4096] [--where /tmp]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent))
from download_bench import free_port, running  # noqa: E402
from upload_bench import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

MIB = 1 << 20
AIM_SERVER_MB = 150


def make_file(path: Path, size: int) -> str:
    """`size` bytes, no two 16 MiB blocks alike (one random block, numbered); their SHA-256."""
    block = bytearray(os.urandom(16 * MIB))
    digest = hashlib.sha256()
    with open(path, "wb") as f:
        for n in range(-(-size // len(block))):
            block[:8] = n.to_bytes(8, "little")
            piece = bytes(block[: min(len(block), size - n * len(block))])
            f.write(piece)
            digest.update(piece)
    return digest.hexdigest()


def rss_of(pids: list[int]) -> int:
    """Resident bytes of these processes together (those gone meanwhile count 0)."""
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total


def chromium_pids() -> list[int]:
    """Every Chromium process started under this one (the browser and its children)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")[0]
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if command.endswith(b"chromium") and _descends(ppid, os.getpid()):
            found.append(int(entry.name))
    return found


def _descends(pid: int, ancestor: int) -> bool:
    while pid > 1:
        if pid == ancestor:
            return True
        try:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            return False
    return False


def peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM")


def folder_bytes(folder: Path) -> int:
    total = 0
    for path in folder.rglob("*"):
        try:
            total += path.stat().st_blocks * 512
        except OSError:
            continue
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=4096)
    parser.add_argument("--where", default="/tmp", help="the file system for the file and server")
    args = parser.parse_args()
    size = args.size_mib * MIB
    work = Path(tempfile.mkdtemp(prefix="pyfiledrop-page-memory-", dir=args.where))
    try:
        source = work / "big.bin"
        print(f"making a {args.size_mib} MiB file in {work} ...", flush=True)
        sha = make_file(source, size)
        with ExitStack() as stack:
            port = free_port()
            command = [sys.executable, "-m", "pyfiledrop", "serve", "--host", "127.0.0.1",
                       "-p", str(port), "-s", str(work / "storage"), "-c", str(work / "chunks"),
                       "-a", "--log-level", "warning"]  # fmt: skip
            server = stack.enter_context(running(command, port, "pyfiledrop", work / "log"))
            pw = stack.enter_context(sync_playwright())
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            stack.callback(browser.close)
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{port}/")
            cdp = page.context.new_cdp_session(page)
            page.wait_for_selector("input.dz-hidden-input", state="attached")
            pids = chromium_pids()
            time.sleep(1)
            samples: list[tuple[float, int, int, int]] = []  # seconds, sent, RSS, heap

            def sample(started: float) -> None:
                heap = int(cdp.send("Runtime.getHeapUsage")["usedSize"])
                sent = min(size, folder_bytes(work / "chunks") + folder_bytes(work / "storage"))
                samples.append((time.monotonic() - started, sent, rss_of(pids), heap))

            started = time.monotonic()
            sample(started)
            page.set_input_files("input.dz-hidden-input", str(source))
            done = ".dz-preview.dz-complete, .dz-preview.dz-error"
            while page.query_selector(done) is None:
                page.wait_for_timeout(500)
                sample(started)
            if page.query_selector(".dz-preview.dz-complete") is None:
                raise SystemExit(f"the upload failed: {page.inner_text('body')[-500:]}")
            shown = page.evaluate("localStorage.getItem('pyfiledrop.uploads')") or ""
            if sha not in shown:
                raise SystemExit("the page's SHA-256 differs from the file's")
            sample(started)
            server_peak = peak_rss(server)
        report(samples, size, server_peak)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def report(samples: list[tuple[float, int, int, int]], size: int, server_peak: int) -> None:
    mb = 1e6
    base = samples[0]
    print(f"\n{size / MIB:.0f} MiB through the page in {samples[-1][0]:.1f} s")
    print("  sent     seconds   browser RSS (MB)   JS heap (MB)")
    print(f"  before   {0:7.1f}   {base[2] / mb:16.0f}   {base[3] / mb:12.1f}")
    tenths: dict[int, tuple[float, int, int, int]] = {}
    for sample in samples[1:]:
        tenths.setdefault(min(10, sample[1] * 10 // size), sample)
    for tenth, (seconds, _, rss, heap) in sorted(tenths.items()):
        print(f"  {tenth * 10:4d} %   {seconds:7.1f}   {rss / mb:16.0f}   {heap / mb:12.1f}")
    during = samples[1:]
    print(f"  peak browser RSS {max(s[2] for s in during) / mb:.0f} MB, "
          f"peak JS heap {max(s[3] for s in during) / mb:.1f} MB")  # fmt: skip
    first = [s for s in during if s[1] <= size * 0.2] or during[:1]
    last = [s for s in during if s[1] >= size * 0.8] or during[-1:]
    grow = (max(s[2] for s in last) - max(s[2] for s in first)) / mb
    gib = (last[-1][1] - first[0][1]) / (1 << 30)
    slope = grow / gib if gib else 0.0
    print(f"  browser RSS from the first fifth to the last: {grow:+.0f} MB "
          f"({slope:+.1f} MB per GiB sent)")  # fmt: skip
    print(f"  server peak RSS (VmHWM) {server_peak / mb:.0f} MB (aim < {AIM_SERVER_MB} MB)")


if __name__ == "__main__":
    main()
