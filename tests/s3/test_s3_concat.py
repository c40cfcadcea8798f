"""tus concatenation on S3 storage: which parts the store copies (the plan), and a final upload made
through `pyfiledrop serve --storage s3://...` on a real SeaweedFS."""

from __future__ import annotations

import hashlib
import os
import time

import httpx
from hypothesis import given
from hypothesis import strategies as st

from pyfiledrop.storage.s3.concat import COPY_SPAN, Part, Piece, plan
from pyfiledrop.storage.s3.unfinished import MIN_PART
from tests.conftest import Server
from tests.s3.conftest import MiB
from tests.seaweed import SeaweedFS
from tests.tus.helpers import TUS, head, new_upload, patch


def copied(source: int, start: int, end: int) -> Part:
    return Part((Piece(source, start, end),), copied=True)


def gathered(*pieces: tuple[int, int, int]) -> Part:
    return Part(tuple(Piece(*p) for p in pieces), copied=False)


def test_small_sources_are_gathered_and_large_ones_copied() -> None:
    assert plan([MiB, 6 * MiB, 3], MIN_PART, COPY_SPAN) == [
        gathered((0, 0, MiB), (1, 0, 6 * MiB)),  # 6 MiB less the 4 MiB of a top-up is too short
        gathered((2, 0, 3)),
    ]
    assert plan([2 * MiB] * 3, MIN_PART, COPY_SPAN) == [
        gathered((0, 0, 2 * MiB), (1, 0, 2 * MiB), (2, 0, 2 * MiB))
    ]
    assert plan([6 * MiB + 5, MiB, 11 * MiB + 3, 3], MIN_PART, COPY_SPAN) == [
        copied(0, 0, 6 * MiB + 5),
        gathered((1, 0, MiB), (2, 0, 4 * MiB)),
        copied(2, 4 * MiB, 11 * MiB + 3),
        gathered((3, 0, 3)),
    ]
    assert plan([3 * COPY_SPAN - 1], MIN_PART, COPY_SPAN) == [
        copied(0, 0, COPY_SPAN - 1),
        copied(0, COPY_SPAN - 1, 2 * COPY_SPAN - 1),
        copied(0, 2 * COPY_SPAN - 1, 3 * COPY_SPAN - 1),
    ]
    assert plan([0, 0], MIN_PART, COPY_SPAN) == []


@given(st.lists(st.integers(0, 40), max_size=12))
def test_every_byte_once_in_order_in_parts_s3_accepts(sizes: list[int]) -> None:
    low, high = 5, 12  # the minimum part and the largest copy, scaled down
    parts = plan(sizes, low, high)
    placed = [(p.source, i) for part in parts for p in part.pieces for i in range(p.start, p.end)]
    assert placed == [(s, i) for s, size in enumerate(sizes) for i in range(size)]
    assert all(part.size >= low for part in parts[:-1])
    assert all(part.size > 0 for part in parts)
    for part in parts:
        if part.copied:
            assert len(part.pieces) == 1 and part.size <= high
        else:
            assert part.size < 2 * low  # what is held in memory at once stays small
    for source, size in enumerate(sizes):  # a large source is copied but for one top-up
        sent = sum(p.end - p.start for part in parts if not part.copied for p in part.pieces
                   if p.source == source)  # fmt: skip
        if size >= 2 * low:
            assert sent < low


def test_tus_final_upload_on_s3(s3_server: Server, seaweed: SeaweedFS) -> None:
    """Partials of sizes across the 5 MiB minimum part and the 8 MiB stream part (so some have
    parts in their multipart upload, some only staged bytes): the final downloads byte for byte,
    its SHA-256 is recorded, and nothing of the partials is left in the bucket."""
    sizes = [6 * MiB + 5, MiB, 9 * MiB + 3, 3]
    parts = [os.urandom(n) for n in sizes]
    data = b"".join(parts)
    with s3_server.client() as client:
        extensions = client.options("/files/").headers["tus-extension"].split(",")
        assert "concatenation" in extensions
        urls = []
        for part in parts:
            url = new_upload(client, len(part), Upload_Concat="partial")
            for start in range(0, len(part), 4 * MiB):
                assert patch(client, url, start, part[start : start + 4 * MiB]).status_code == 204
            urls.append(url)
        reply = client.post(
            "/files/", headers={**TUS, "Upload-Concat": "final;" + " ".join(urls)}, timeout=120
        )
        assert reply.status_code == 201, reply.text
        final = reply.headers["location"]
        state = head(client, final)
        assert state.headers["upload-offset"] == str(len(data))
        link = state.headers["pyfiledrop-download-url"]
        assert client.get(final, headers=TUS).content == data
    download = httpx.get(link, timeout=60)
    assert download.content == data
    assert download.headers["etag"] == f'"{hashlib.sha256(data).hexdigest()}"'
    ids = [url.rstrip("/").rsplit("/", 1)[1] for url in urls]
    s3 = seaweed.client()
    deadline = time.monotonic() + 20
    while True:  # the partials are removed in the background
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket="e2e")
        keys = [o["Key"] for page in pages for o in page.get("Contents", [])]
        keys += [u["Key"] for u in s3.list_multipart_uploads(Bucket="e2e").get("Uploads", [])]
        left = [k for k in keys if any(i in k for i in ids)]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert left == []
