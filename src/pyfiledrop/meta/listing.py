"""`MetaStore.list_uploads` as SQL, for both stores: the filters, the order and the keyset.

Keyset pagination: a page asks for the rows after the last one shown, `(key, id) > (:key, :id)`
in the listing's order, and reads one row more than it shows to know whether another page
follows. With `LIMIT` the database keeps only that many rows while it scans (a top-N sort), so a
page costs one pass over the matching rows however deep it is; `OFFSET n` sorts and skips n rows
more on every page (46-61 times slower than keyset after 99,000 of 100,000 uploads on SQLite).

No index serves the orders, on purpose (bench/list_bench.py, 100,000 uploads, 2 CPUs: a page
took 11-21 ms on SQLite and 17-83 ms on PostgreSQL whatever the filter and order, deep pages too;
3-5 times that with both CPUs busy with other work).
Indexes on (created_at, id), (filename, id) and (size, id) made unfiltered pages take 1-3 ms,
but SQLite's planner then walked the whole index for a filter that matches few rows (a name that
is nowhere, one owner's uploads: 217 ms, ten times the scan), and one on `updated_at`, which
every chunk changes, would cost PostgreSQL its in-place (HOT) updates on the upload path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pyfiledrop.core.interfaces import Listing, Page, Position, Sort
from pyfiledrop.core.model import Upload

# The sort key of each order; an unknown size sorts below every known one (-1).
KEYS = {
    Sort.CREATED: "created_at",
    Sort.UPDATED: "updated_at",
    Sort.SIZE: "coalesce(size, -1)",
    Sort.NAME: "filename",
}


def escape_like(text: str) -> str:
    """`text` as a LIKE pattern that matches it literally (escape character `\\`)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def listing_sql(
    listing: Listing,
    columns: str,
    mark: Callable[[str], str],
    *,
    like: str = "LIKE",
    name_key: str = "filename",
) -> tuple[str, dict[str, Any]]:
    """The SELECT for one page of `listing` and its named values.

    `mark(name)` writes a placeholder in the store's dialect; `like` is the operator that ignores
    ASCII case; `name_key` the expression that orders names by code point.
    """
    if listing.limit < 1:
        raise ValueError(f"a page holds at least one upload, not {listing.limit}")
    key = name_key if listing.sort is Sort.NAME else KEYS[listing.sort]
    where: list[str] = []
    values: dict[str, Any] = {}

    def add(condition: str, **named: Any) -> None:
        where.append(condition.format(**{name: mark(name) for name in named}))
        values.update(named)

    if listing.states:
        names = {f"state{n}": state.value for n, state in enumerate(listing.states)}
        where.append(f"state IN ({', '.join(mark(name) for name in names)})")
        values.update(names)
    if listing.created_before is not None:
        add("created_at < {before}", before=listing.created_before)
    if listing.created_after is not None:
        add("created_at >= {after}", after=listing.created_after)
    if listing.name_contains:
        pattern = f"%{escape_like(listing.name_contains)}%"
        add(f"filename {like} {{pattern}} ESCAPE '\\'", pattern=pattern)
    if listing.owner is not None:
        add("owner = {owner}", owner=listing.owner)
    order = "DESC" if listing.descending else "ASC"
    if listing.after is not None:
        beyond = "<" if listing.descending else ">"
        add(f"({key}, id) {beyond} ({{key}}, {{id}})", key=listing.after.key, id=listing.after.id)
    sql = (
        f"SELECT {columns}, {key} FROM uploads"
        + (f" WHERE {' AND '.join(where)}" if where else "")
        + f" ORDER BY {key} {order}, id {order} LIMIT {mark('limit')}"
    )
    values["limit"] = listing.limit + 1  # one more: is there another page?
    return sql, values


def page_of(rows: list[tuple[Any, ...]], limit: int, to_upload: Callable[..., Upload]) -> Page:
    """The page that `rows` (the upload's columns, then its sort key) make."""
    shown = rows[:limit]
    uploads = [to_upload(row[:-1]) for row in shown]
    more = len(rows) > limit
    return Page(uploads, Position(shown[-1][-1], uploads[-1].id) if more else None)
