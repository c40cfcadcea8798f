"""How long uploads live: durations as people write them, and the server's limits.

A finished file lives `max_life` seconds from its completion (None: for ever); its uploader may
ask for less, never more. An unfinished upload that receives nothing for `idle_limit` seconds is
abandoned and its partial data removed. Every `clean_every` seconds each process looks for what
has outlived its time.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from pyfiledrop import errors

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"^([0-9]{1,9})([smhd])$")
WEEK = 7 * 86400.0
CLEAN_EVERY = 10.0  # seconds between clean-up passes, in every process (one of them does the work)


def parse_duration(text: str) -> float:
    """Seconds in `30s`, `15m`, `12h`, `7d` or `0`; raise ValueError for anything else."""
    value = text.strip()
    if value == "0":
        return 0.0
    found = _DURATION.match(value)
    if not found:
        raise ValueError(f"{text[:40]!r} is not a duration such as 30s, 15m, 12h, 7d or 0")
    return float(int(found.group(1)) * UNITS[found.group(2)])


def format_duration(seconds: float) -> str:
    """The largest whole unit that writes `seconds` exactly: 7d, 36h, 90s."""
    for unit, size in sorted(UNITS.items(), key=lambda item: -item[1]):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def when(moment: float | None) -> str:
    """A moment for a person: 2026-12-02 08:02 UTC."""
    if moment is None:
        return "an unknown date"
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(moment))


@dataclass(frozen=True)
class Lifetimes:
    """The server's `--expire` (None: files are kept), `--incomplete-ttl` and
    `--cleanup-interval`."""

    max_life: float | None = None
    idle_limit: float = WEEK
    clean_every: float = CLEAN_EVERY

    def life_for(self, requested: str | None) -> float | None:
        """The life a new upload gets: what its uploader asked for (`1h`; `0` for ever), else the
        server's limit. Refuse (400, naming the limit) a malformed or a longer request."""
        if requested is None or requested.strip() == "":
            return self.max_life
        limit = (
            f"at most {format_duration(self.max_life)}"
            if self.max_life
            else "any duration, or 0 to keep the file"
        )
        try:
            seconds = parse_duration(requested)
        except ValueError as exc:
            raise errors.BAD_REQUEST(f"expire: {exc}; this server allows {limit}.") from None
        life = seconds or None
        if self.max_life is not None and (life is None or life > self.max_life):
            raise errors.BAD_REQUEST(
                f"expire {requested.strip()!r} is longer than this server keeps files: {limit}."
            )
        return life
