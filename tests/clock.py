"""A settable clock for tests: time moves only when a test says so."""

from __future__ import annotations

import time


class FakeClock:
    """The core's `Clock`, starting at the real time (so leases, which the stores time by their
    own clocks, still agree with it) and moved by `advance`."""

    def __init__(self) -> None:
        self.time = time.time()

    def now(self) -> float:
        return self.time

    def advance(self, seconds: float) -> None:
        self.time += seconds
