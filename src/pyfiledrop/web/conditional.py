"""Conditional GET and HEAD for downloads (RFC 9110 §13.1): If-None-Match, a list of entity tags
compared weakly, or `*`; and If-Modified-Since, which counts only when If-None-Match is absent."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from starlette.datastructures import Headers

_ENTITY_TAG = re.compile(r'[\s,]*((?:W/)?"[\x21\x23-\x7e\x80-\xff]*")\s*(?:,|$)')


def entity_tags(header: str) -> list[str] | None:
    """The entity tags of an If-None-Match value, or None when it is not a list of them."""
    found, position = [], 0
    while header[position:].strip(" \t,"):
        match = _ENTITY_TAG.match(header, position)
        if not match:
            return None
        found.append(match.group(1))
        position = match.end()
    return found


def _http_date(value: str) -> datetime | None:
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def not_modified(request: Headers, etag: str, last_modified: str) -> bool:
    """Whether a GET or HEAD with these request headers is answered 304 Not Modified."""
    if_none_match = request.get("if-none-match")
    if if_none_match is not None:
        if if_none_match.strip() == "*":
            return True
        tags = entity_tags(if_none_match) or []
        return any(tag.removeprefix("W/") == etag.removeprefix("W/") for tag in tags)
    since = _http_date(request.get("if-modified-since", ""))
    modified = _http_date(last_modified)
    return since is not None and modified is not None and modified <= since
