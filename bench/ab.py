"""The Dropzone path of two revisions of pyfiledrop, in alternating rounds on the same file.

    python bench/ab.py HEAD~1 HEAD                  # 1 MB chunks, 8 rounds of 256 MiB
    python bench/ab.py 3f22fbb WORKTREE --chunk 8388608 --rounds 6

Each revision's `src/` is taken with `git archive` (WORKTREE: the files as they are now) and run
as `pyfiledrop serve` from there; the client is upload_bench.py's (4 chunks in flight, raw bodies
by sendfile, timed until the status call reports the file complete with its SHA-256). Rounds
alternate which revision goes first, so drift on a shared machine hits both alike. Prints each
run, the medians and their ratio B/A: on a noisy machine trust ratios of many rounds, not one.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import upload_bench as ub  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def source_tree(revision: str, into: Path) -> Path:
    """The `src/` folder of `revision` (or of the working tree) copied under `into`."""
    into.mkdir(parents=True)
    if revision == "WORKTREE":
        shutil.copytree(ROOT / "src", into / "src", ignore=shutil.ignore_patterns("*.egg-info"))
    else:
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", revision, "src"], check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into / "src"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("a", help="a git revision, or WORKTREE")
    parser.add_argument("b", help="a git revision, or WORKTREE")
    parser.add_argument("--chunk", type=int, default=1_000_000, help="chunk size in bytes")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--size-mib", type=int, default=256)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pyfiledrop-ab-"))
    try:
        trees = {
            name: source_tree(name, work / f"tree-{n}") for n, name in enumerate([args.a, args.b])
        }
        size = args.size_mib * ub.MIB
        source = work / "source.bin"
        sha = ub.make_file(source, size)
        speeds: dict[str, list[float]] = {name: [] for name in trees}
        for round_ in range(args.rounds):
            order = list(trees) if round_ % 2 == 0 else list(trees)[::-1]
            for name in order:
                folder = work / f"run-{round_}-{name}"
                folder.mkdir()
                os.environ["PYTHONPATH"] = str(trees[name])
                server = ub.pyfiledrop_server(folder, args.chunk, args.size_mib).start()
                try:
                    result = ub.measure_pyfiledrop(
                        server, source, size, sha, args.chunk, "sendfile"
                    )
                finally:
                    server.stop()
                speeds[name].append(result.mbps)
                print(f"round {round_ + 1}: {name:<12} {result.mbps:7.1f} MB/s", flush=True)
        medians = {name: statistics.median(values) for name, values in speeds.items()}
        for name, median in medians.items():
            print(f"{name:<12} median {median:7.1f} MB/s over {args.rounds} rounds")
        a, b = medians.values()
        print(f"B/A {b / a:.3f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
