"""What a fault scenario reports: its figures, its problems, and the checks every scenario runs."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from pyfiledrop.config import Settings
from pyfiledrop.core.finishing import HASHING_AT_ONCE
from pyfiledrop.storage.local import FLUSH_BYTES
from pyfiledrop.web.server import BODY_READ
from tests.faults.servers import FaultServer

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
    """MiB a server may grow above its idle RSS with `in_flight` requests: a fixed allowance, the
    blocks the running digests may hold at once; per body taking its turn (at most
    `--max-streams`) the runs a part writer gathers and writes plus a body read; per other request
    its head and a small read (it waits with its body unread, or stalled with its bytes written)."""
    hashing = HASHING_AT_ONCE * 4
    streaming = min(in_flight, Settings.max_streams) * (2 * FLUSH_BYTES + BODY_READ) / MiB
    waiting = in_flight * 64 * 1024 / MiB
    return 32 + hashing + streaming + waiting


def memory_figures(figures: Figures, server: FaultServer) -> None:
    peak = server.memory_kib("VmHWM")
    figures.values["server idle RSS (MiB)"] = round(server.idle_rss_kib / 1024, 1)
    figures.values["server peak VmHWM (MiB)"] = round(peak / 1024, 1)


def traceback_check(figures: Figures, server: FaultServer) -> None:
    if "Traceback" in server.log_text():
        figures.problems.append(f"a traceback in the server log {server.log}")


def settle(server: FaultServer, seconds: float = 10) -> None:
    """Wait until no upload is `assembling` (or `seconds` pass); the inventory then judges."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not any(r["state"] == "assembling" for r in server.rows()):
            return
        time.sleep(0.05)
