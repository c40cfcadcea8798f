"""The fault suite in full: load, memory per request, crashes, full disks and idle connections.

    python bench/faults.py            # the full sizes (bench/README.md)
    python bench/faults.py --quick    # the sizes CI runs (tests/faults/)

Runs the scenarios of tests/faults/scenarios.py (the tests run the same functions, smaller) against
real `pyfiledrop serve` processes on 127.0.0.1, each in its own folder under one temp folder that
is removed at the end, with every server stopped and every tmpfs unmounted, also on failure,
Ctrl-C or SIGTERM. The full-disk scenarios need root (they mount a tmpfs) and are skipped with a
note otherwise. Prints each scenario's figures and problems; any problem ends the run with
"FAULTS FAILED" and exit status 1.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.faults import scenarios as sc  # noqa: E402
from tests.faults.figures import Figures, ScenarioFailed  # noqa: E402
from tests.faults.full_disk import ONE, SPLIT, full_disk  # noqa: E402
from tests.faults.servers import FaultServer, is_root  # noqa: E402

SIZES = {
    "full": {"uploaders": 200, "tus": 20, "held": 600, "rounds": 10, "per_round": 20, "idle": 300},
    "quick": {"uploaders": 20, "tus": 3, "held": 300, "rounds": 2, "per_round": 8, "idle": 60},
}
Scenario = Callable[[Path], Figures]


def on_server(run: Callable[[FaultServer], Figures], *args: str) -> Scenario:
    """A scenario on a fresh server in its own folder, stopped afterwards whatever happens."""

    def scenario(root: Path) -> Figures:
        server = FaultServer(root, "-a", *args).start()
        try:
            time.sleep(0.5)
            server.note_idle_rss()
            return run(server)
        finally:
            server.stop()

    return scenario


def scenarios(size: dict[str, int]) -> list[tuple[str, Scenario | str]]:
    """(name, scenario) in the order they run; a string instead of a scenario says why it is
    skipped."""
    no_root = "skipped: needs root to mount a tmpfs"
    return [
        ("load", on_server(lambda s: sc.concurrent_uploads(s, size["uploaders"], size["tus"]))),
        ("requests held open", on_server(lambda s: sc.requests_held_open(s, size["held"]))),
        ("kill rounds", on_server(lambda s: sc.kill_rounds(s, size["rounds"], size["per_round"]))),
        ("kill while finishing", on_server(sc.kill_while_finishing)),
        ("leftovers at start", on_server(sc.leftovers_removed_at_start)),
        (
            "full disk, one file system",
            (lambda r: full_disk(r, ONE)) if is_root() else no_root,
        ),
        ("full disk, split", (lambda r: full_disk(r, SPLIT)) if is_root() else no_root),
        ("idle connections", on_server(lambda s: sc.idle_connections(s, size["idle"]))),
        ("slow disk", slow_disk if is_root() else no_root),
    ]


def slow_disk(root: Path) -> Figures:
    """bench/slow_disk.py with its aim enforced: GET / and the status call answer with a p99
    under 100 ms during a full-speed upload to a disk throttled to 30 MB/s."""
    script = Path(__file__).parent / "slow_disk.py"
    done = subprocess.run(
        [sys.executable, str(script), "--strict", "--tmp-dir", str(root.parent)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    figures = Figures("slow disk")
    verdict = done.stdout.partition("== verdict ==")[2].strip().splitlines()
    for line in verdict:
        key, _, value = line.strip().partition("  ")
        if key.startswith("aim:"):
            key, _, value = line.strip().partition(": ")
        figures.values[key] = value.strip()
    if done.returncode != 0:
        figures.problems.append(verdict[-1] if verdict else done.stderr.strip()[-300:])
    return figures.check()


def show(name: str, verdict: str, seconds: float, figures: Figures | None, error: str) -> None:
    print(f"\n== {name}: {verdict} ({seconds:.0f} s)")
    if figures is not None:
        width = max((len(k) for k in figures.values), default=0)
        for key, value in figures.values.items():
            print(f"   {key:<{width}}  {value}")
        for problem in figures.problems:
            print(f"   ! {problem}")
    elif error:
        print("   ! " + error.replace("\n", "\n     "))
    sys.stdout.flush()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="CI's sizes, for a quick check")
    parser.add_argument(
        "--only", action="append", default=[], help="run only scenarios naming this (repeatable)"
    )
    args = parser.parse_args()
    size = SIZES["quick" if args.quick else "full"]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the cleanup below runs
    tmp = Path(tempfile.mkdtemp(prefix="pyfiledrop-faults-"))
    failed: list[str] = []
    print(f"pyfiledrop fault suite ({'quick' if args.quick else 'full'}): {size}")
    try:
        for number, (name, scenario) in enumerate(scenarios(size)):
            if args.only and not any(word in name for word in args.only):
                continue
            if isinstance(scenario, str):
                show(name, scenario, 0, None, "")
                continue
            started = time.monotonic()
            figures, error = None, ""
            try:
                figures = scenario(tmp / f"{number}")
                verdict = "ok"
            except ScenarioFailed as exc:
                figures, verdict = exc.figures, "FAILED"
            except Exception as exc:  # a scenario that could not run at all is a failure too
                error, verdict = f"{type(exc).__name__}: {exc}", "FAILED"
            if verdict != "ok":
                failed.append(name)
            show(name, verdict, time.monotonic() - started, figures, error)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if failed:
        print(f"\nFAULTS FAILED: {', '.join(failed)}")
        return 1
    print("\nall fault scenarios passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
