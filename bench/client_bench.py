"""`pyfiledrop upload` against copyparty's own client (u2c -j4) uploading the same files to
copyparty, in the same run: many small files, or (`--big-mib`) one big file, which is also
written by `dd` with fdatasync to the same file system (the disk's ceiling).

Each round: a fresh pyfiledrop server (its storage and chunks in `--where`), `pyfiledrop upload`
of every file (a fresh state file: nothing known before), timed from process start to exit
(every file's hash checked by the client); then a fresh copyparty on the same file system and
`u2c.py -j4` (which hashes every file too), timed the same way; then, for a big file, `dd`.
Rounds alternate; medians and the ratios (above 1: pyfiledrop is faster) are printed.

    python bench/client_bench.py [--count 500] [--size 20000] [--rounds 3] [--where /tmp]
    python bench/client_bench.py --big-mib 1024 --rounds 5 --where /dev/shm

`--where /dev/shm` puts both servers' storage on a tmpfs (copyparty then needs `--wram`, given).
copyparty is installed for the benchmark only: `pip install copyparty`.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from download_bench import free_port, running  # noqa: E402


def make_files(folder: Path, count: int, size: int) -> list[Path]:
    folder.mkdir(parents=True)
    paths = []
    for n in range(count):
        path = folder / f"file-{n:05d}.bin"
        with open(path, "wb") as f:
            for start in range(0, size, 8 << 20):
                f.write(os.urandom(min(8 << 20, size - start)))
        paths.append(path)
    return paths


def dd_round(work: Path, source: Path) -> float:
    """A plain copy of the file by `dd` onto the same file system, fdatasync at the end."""
    took, _ = timed(["dd", f"if={source}", f"of={work / 'dd.out'}", "bs=8M", "conv=fdatasync",
                     "status=none"])  # fmt: skip
    return took


def timed(command: list[str], cwd: Path | None = None) -> tuple[float, str]:
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, cwd=cwd)
    took = time.monotonic() - started
    if done.returncode != 0:
        raise RuntimeError(f"{command[:4]} failed: {done.stderr[-2000:]}")
    return took, done.stdout


def pyfiledrop_round(work: Path, files: list[Path], parallel: int) -> float:
    with ExitStack() as stack:
        port = free_port()
        command = [sys.executable, "-m", "pyfiledrop", "serve", "--host", "127.0.0.1",
                   "-p", str(port), "-s", str(work / "storage"), "-c", str(work / "chunks"),
                   "-a", "--log-level", "warning"]  # fmt: skip
        stack.enter_context(running(command, port, "pyfiledrop", work / "server.log"))
        upload = [sys.executable, "-m", "pyfiledrop", "upload", *map(str, files),
                  "--url", f"http://127.0.0.1:{port}", "--parallel", str(parallel),
                  "--state-file", str(work / "state.json")]  # fmt: skip
        took, out = timed(upload)
        links = [line for line in out.splitlines() if "/download/" in line]
        if len(links) != len(files):
            raise RuntimeError(f"{len(links)} links for {len(files)} files")
        return took


def copyparty_round(work: Path, folder: Path, tmpfs: bool) -> float:
    import copyparty

    u2c = Path(copyparty.__file__).parent / "web" / "a" / "u2c.py"
    store = work / "copyparty"
    store.mkdir()
    with ExitStack() as stack:
        port = free_port()
        command = [sys.executable, "-m", "copyparty", "-i", "127.0.0.1", "-p", str(port), "-q",
                   "--no-robots", "-v", f"{store}::rw", "--hist", str(work / "hist")]  # fmt: skip
        if tmpfs:
            command.append("--wram")
        stack.enter_context(running(command, port, "copyparty", work / "copyparty.log"))
        took, _ = timed([sys.executable, str(u2c), "-j", "4", f"http://127.0.0.1:{port}/",
                         str(folder)])  # fmt: skip
        stored = sum(1 for p in store.rglob("*.bin"))
        if stored != len(list(folder.iterdir())):
            raise RuntimeError(f"copyparty stored {stored} files")
        return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--size", type=int, default=20_000, help="bytes per file")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--parallel", type=int, default=4, help="pyfiledrop upload --parallel")
    parser.add_argument("--where", default="/tmp", help="the file system the servers store on")
    parser.add_argument("--big-mib", type=int, default=0, help="one file of this size instead")
    args = parser.parse_args()
    if args.big_mib:
        args.count, args.size = 1, args.big_mib << 20
    party = importlib.util.find_spec("copyparty") is not None
    ours: list[float] = []
    theirs: list[float] = []
    plain: list[float] = []
    with tempfile.TemporaryDirectory(dir=args.where) as top:
        files = make_files(Path(top) / "files", args.count, args.size)
        for n in range(args.rounds):
            with tempfile.TemporaryDirectory(dir=args.where) as work:
                ours.append(pyfiledrop_round(Path(work), files, args.parallel))
            if party:
                with tempfile.TemporaryDirectory(dir=args.where) as work:
                    tmpfs = args.where.startswith("/dev/shm")
                    theirs.append(copyparty_round(Path(work), files[0].parent, tmpfs))
            if args.big_mib:
                with tempfile.TemporaryDirectory(dir=args.where) as work:
                    plain.append(dd_round(Path(work), files[0]))
            print(f"round {n + 1}: pyfiledrop {ours[-1]:.2f} s"
                  + (f", u2c -j4 {theirs[-1]:.2f} s" if party else "")
                  + (f", dd {plain[-1]:.2f} s" if plain else ""), flush=True)  # fmt: skip
    print(f"\n{args.count} files of {args.size} bytes on {args.where}, medians of {args.rounds}:")
    print(f"  pyfiledrop upload --parallel {args.parallel}: {statistics.median(ours):.2f} s")
    if party:
        print(f"  copyparty u2c -j4:                 {statistics.median(theirs):.2f} s")
        print(f"  u2c / pyfiledrop: {statistics.median(theirs) / statistics.median(ours):.2f}"
              " (above 1: pyfiledrop is faster)")  # fmt: skip
    else:
        print("  (copyparty is not installed: pip install copyparty for the comparison)")
    if plain:
        print(f"  dd bs=8M conv=fdatasync:          {statistics.median(plain):.2f} s")
        print(f"  dd / pyfiledrop: {statistics.median(plain) / statistics.median(ours):.2f}"
              " (1: as fast as a plain copy on this file system)")  # fmt: skip


if __name__ == "__main__":
    main()
