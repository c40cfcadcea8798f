"""The one source of wall-clock time for the core's decisions about an upload's life.

Records are stamped with it (created, updated, completed, removed) and expiry is judged by it, so
a test can hand every part the same settable clock and move time instead of sleeping. Leases and
heartbeats are not timed by it: the metadata stores keep their own (PostgreSQL's is the
database's), since they decide who is alive, not what has expired.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch."""


class SystemClock:
    """The machine's clock."""

    def now(self) -> float:
        return time.time()


SYSTEM = SystemClock()
