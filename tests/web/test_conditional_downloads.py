"""Conditional GET and HEAD of downloads, as RFC 9110 §13.1 has them."""

from __future__ import annotations

import os
from email.utils import formatdate, parsedate_to_datetime

import httpx
import pytest

from tests.conftest import Server
from tests.dz import DzFile

KiB = 1024


@pytest.fixture
def download(server: Server) -> tuple[str, str, str]:
    """A finished file's link, its ETag and its Last-Modified."""
    with server.client() as client:
        f = DzFile(os.urandom(4 * KiB), 4 * KiB)
        f.send_all(client)
        url = str(f.wait_complete(client)["download_url"])
    first = httpx.get(url)
    return url, first.headers["etag"], first.headers["last-modified"]


@pytest.mark.parametrize(
    ("if_none_match", "status"),
    [
        ("{etag}", 304),
        ('"other", {etag}', 304),
        ('"other",{etag} , "more"', 304),
        ("W/{etag}", 304),  # weak comparison
        ("*", 304),
        ('"x{bare}y"', 200),
        ('"abc"{bare}"def"', 200),  # holds '"<tag>"' as a substring, but is no list of tags
        ("{bare}", 200),  # not an entity tag (no quotes)
        ('"other"', 200),
        ("", 200),
    ],
)
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_if_none_match_is_a_list_of_entity_tags_compared_weakly(
    download: tuple[str, str, str], if_none_match: str, status: int, method: str
) -> None:
    url, etag, _ = download
    value = if_none_match.format(etag=etag, bare=etag.strip('"'))
    reply = httpx.request(method, url, headers={"If-None-Match": value})
    assert reply.status_code == status
    assert reply.headers["etag"] == etag
    if status == 304:
        assert reply.content == b""


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_if_modified_since_counts_when_there_is_no_if_none_match(
    download: tuple[str, str, str], method: str
) -> None:
    url, etag, last_modified = download
    modified = parsedate_to_datetime(last_modified).timestamp()
    later, earlier = formatdate(modified + 60, usegmt=True), formatdate(modified - 60, usegmt=True)
    assert (
        httpx.request(method, url, headers={"If-Modified-Since": last_modified}).status_code == 304
    )
    assert httpx.request(method, url, headers={"If-Modified-Since": later}).status_code == 304
    assert httpx.request(method, url, headers={"If-Modified-Since": earlier}).status_code == 200
    assert httpx.request(method, url, headers={"If-Modified-Since": "yesterday"}).status_code == 200
    both = {"If-Modified-Since": later, "If-None-Match": '"other"'}
    assert httpx.request(method, url, headers=both).status_code == 200, "If-None-Match decides"
