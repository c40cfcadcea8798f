"""`MetaStore.summary` as SQL for both stores: the uploads per state with the bytes of complete
ones, and the uploads per day, each store asking in the way that scans least.

SQLite (100,000 uploads, one CPU): grouping counts and sizes by state walks the state index and
looks up every row (70 ms); the counts alone come from that index (5 ms) and the complete
uploads' sizes from one pass (26 ms). PostgreSQL scans the table whatever it is asked: one pass
for counts and sizes together, not two. The days are one more pass that keeps only the last
days' rows (18 ms on SQLite). No index serves these, and none is added: see meta/listing.py.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pyfiledrop.core.interfaces import Day, Summary
from pyfiledrop.core.model import State

DAY = 86400
COUNTS = "SELECT state, count(*) FROM uploads GROUP BY state"  # SQLite: from the state index
STORED = "SELECT coalesce(sum(size), 0) FROM uploads WHERE state = 'complete'"
BY_STATE = "SELECT state, count(*), coalesce(sum(size), 0) FROM uploads GROUP BY state"
CONTENTS = "SELECT coalesce(sum(size), 0) FROM contents WHERE state = 'present'"  # small
FORGET_ABANDONED = "DELETE FROM uploads WHERE state = 'abandoned' AND content IS NULL"


def by_day(day: str, mark: str) -> str:
    """Uploads and finished bytes per day from `mark` on; `day` is the store's expression for
    the day number of `created_at` (whole days since the epoch, UTC)."""
    return (
        f"SELECT {day} AS day, count(*), coalesce(sum(CASE WHEN state IN ('complete', 'expired') "
        f"THEN size ELSE 0 END), 0) FROM uploads WHERE created_at >= {mark} "
        "GROUP BY day ORDER BY day"
    )


def summary_of(
    counts: Iterable[tuple[Any, ...]], stored: int, contents: int, days: Iterable[tuple[Any, ...]]
) -> Summary:
    """The summary from rows of (state, count[, ...]), the complete uploads' bytes, the contents'
    bytes, and rows of (day number, uploads, bytes)."""
    return Summary(
        {State(row[0]): int(row[1]) for row in counts},
        int(stored),
        int(contents),
        [Day(float(day) * DAY, int(count), int(size)) for day, count, size in days],
    )
