"""`MetaStore.summary` as SQL for both stores: two passes over the uploads table, no index needed
(bench/admin_bench.py: 100,000 uploads)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pyfiledrop.core.interfaces import Day, Summary
from pyfiledrop.core.model import State

DAY = 86400
BY_STATE = "SELECT state, count(*), coalesce(sum(size), 0) FROM uploads GROUP BY state"


def by_day(day: str, mark: str) -> str:
    """Uploads and finished bytes per day from `mark` on; `day` is the store's expression for
    the day number of `created_at` (whole days since the epoch, UTC)."""
    return (
        f"SELECT {day} AS day, count(*), coalesce(sum(CASE WHEN state IN ('complete', 'expired') "
        f"THEN size ELSE 0 END), 0) FROM uploads WHERE created_at >= {mark} "
        "GROUP BY day ORDER BY day"
    )


def summary_of(states: Iterable[tuple[Any, ...]], days: Iterable[tuple[Any, ...]]) -> Summary:
    counts, stored = {}, 0
    for state, count, size in states:
        counts[State(state)] = int(count)
        if state == State.COMPLETE.value:
            stored = int(size)
    return Summary(
        counts, stored, [Day(float(day) * DAY, int(count), int(size)) for day, count, size in days]
    )
