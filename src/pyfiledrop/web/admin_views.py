"""What the admin API reads from a request and writes into its answers: the listing's query
(state, name, order, cursor, page size), an upload as a row, and the summary's 30 days.

Rows show what the store records: the account an upload was made under, the client address it
came from and the downloads delivered whole among it.
"""

from __future__ import annotations

import math
import re
from typing import Any

from starlette.datastructures import QueryParams

from pyfiledrop import errors
from pyfiledrop.core.interfaces import Day, Listing, Position, Sort, Summary
from pyfiledrop.core.model import State, Upload
from pyfiledrop.web.mine import cursor, position

PAGE_LIMIT = 100  # uploads per page at most
PAGE_DEFAULT = 50
DAYS = 30  # the summary's chart
DAY = 86400
NAME_LIMIT = 200  # characters of a name search
LATEST = 253402300799.0  # 9999-12-31 23:59:59 UTC: the last moment a date input can name
_LIMIT = re.compile(r"^[0-9]{1,3}$")
_ORDERS = {"asc": False, "desc": True}


def listing(query: QueryParams) -> Listing:
    """The listing a query asks for; 400 naming the parameter that is wrong."""
    states = []
    for value in query.getlist("state"):
        try:
            states.append(State(value))
        except ValueError:
            known = ", ".join(state.value for state in State)
            raise errors.BAD_REQUEST(f"`state` must be one of {known}, not {value!r}.") from None
    try:
        sort = Sort(query.get("sort", Sort.CREATED.value))
    except ValueError:
        known = ", ".join(sort.value for sort in Sort)
        raise errors.BAD_REQUEST(f"`sort` must be one of {known}.") from None
    order = query.get("order", "desc")
    if order not in _ORDERS:
        raise errors.BAD_REQUEST("`order` must be asc or desc.")
    limit = query.get("limit", str(PAGE_DEFAULT))
    if not _LIMIT.match(limit) or not 1 <= int(limit) <= PAGE_LIMIT:
        raise errors.BAD_REQUEST(f"`limit` must be a whole number from 1 to {PAGE_LIMIT}.")
    name = query.get("q", "").strip()
    if len(name) > NAME_LIMIT:
        raise errors.BAD_REQUEST(f"`q` is longer than {NAME_LIMIT} characters.")
    after = query.get("after")
    return Listing(
        states=tuple(dict.fromkeys(states)),
        name_contains=name or None,
        sort=sort,
        descending=_ORDERS[order],
        after=page_start(after, sort, order) if after else None,
        limit=int(limit),
    )


def page_cursor(found: Position | None, sort: Sort, descending: bool) -> str | None:
    """`next` for the client: the position, bound to the order it belongs to."""
    if found is None:
        return None
    return f"{sort.value}-{'desc' if descending else 'asc'}.{cursor(found)}"


def page_start(value: str, sort: Sort, order: str) -> Position:
    """The position of a cursor made for this very order; 400 for another order's or a forged
    one (a position in names means nothing among sizes)."""
    bound, _, rest = value.partition(".")
    if bound != f"{sort.value}-{order}":
        raise errors.BAD_REQUEST(
            "`after` belongs to another order or is not a cursor this server gave out: start "
            "again from the first page."
        )
    return position(rest, text=sort is Sort.NAME)


def row(upload: Upload, now: float, received: int | None) -> dict[str, Any]:
    """One upload as the admin API shows it; `received` counts the chunks of a chunked upload
    being received."""
    found: dict[str, Any] = {
        "id": upload.id,
        "state": upload.state.value,
        "name": upload.filename,
        "relative_path": upload.relative_path,
        "size": upload.size,
        "owner": upload.owner[:12],
        "account": upload.account,
        "address": upload.address,
        "protocol": upload.protocol,
        "created_at": upload.created_at,
        "updated_at": upload.updated_at,
        "expires_at": upload.expires_at,
        "past_expiry": upload.expired(now),
        "sha256": upload.sha256,
        "removed_at": upload.removed_at,
        "freed_bytes": upload.freed_bytes,
        "error": upload.error,
        "downloads": upload.downloads,  # delivered whole
        "max_downloads": upload.max_downloads,
    }
    if upload.state == State.RECEIVING:
        found |= progress(upload, now, received)
    return found


def progress(upload: Upload, now: float, received: int | None) -> dict[str, Any]:
    """How far a receiving upload is: from its received chunks (chunked) or its stored offset
    (stream); its speed is the bytes so far over the time since it was made."""
    layout = upload.layout
    if upload.protocol == "dropzone" and layout is not None:
        count = received or 0
        done = min(layout.size, count * layout.chunk_size)
        share: float | None = count / layout.chunk_count
    else:
        done = upload.offset
        share = done / layout.size if layout and layout.size else None
    elapsed = max(now - upload.created_at, 1.0)
    return {
        "received_bytes": done,
        "percent": None if share is None else math.floor(share * 1000) / 10,
        "bytes_per_second": round(done / elapsed),
    }


def summary(found: Summary, now: float) -> dict[str, Any]:
    """The summary with every state (0 for none) and each of the last `DAYS` days (UTC), days
    without uploads included, so the chart has a bar (maybe empty) for each."""
    by_start = {day.start: day for day in found.days}
    today = math.floor(now / DAY) * DAY
    days = []
    for n in range(DAYS - 1, -1, -1):
        start = float(today - n * DAY)
        day = by_start.get(start, Day(start, 0, 0))
        days.append({"start": day.start, "uploads": day.uploads, "bytes": day.bytes})
    return {
        "now": now,
        "states": {state.value: found.states.get(state, 0) for state in State},
        "stored_bytes": found.stored_bytes,
        "content_bytes": found.content_bytes,
        "saved_bytes": max(0, found.stored_bytes - found.content_bytes),
        "days": days,
    }


def since(now: float) -> float:
    """The first second of the chart's first day (UTC)."""
    return float(math.floor(now / DAY) * DAY - (DAYS - 1) * DAY)


def expiry(body: Any, now: float) -> float | None:
    """The new `expires_at` a request's JSON asks for: a moment after now, or null for ever."""
    if not isinstance(body, dict) or "expires_at" not in body:
        raise errors.BAD_REQUEST('Send {"expires_at": <seconds since the epoch> or null}.')
    value = body["expires_at"]
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise errors.BAD_REQUEST("`expires_at` must be seconds since the epoch, or null.")
    if value <= now:
        raise errors.BAD_REQUEST(
            "`expires_at` must be in the future; to remove the file now, delete it."
        )
    if value > LATEST:
        raise errors.BAD_REQUEST("`expires_at` is after the year 9999; send null to keep it.")
    return float(value)
