"""Request bodies take turns (`--max-streams`): a body beyond the cap waits unread, a stalled or
trickling body gives its turn away, and a wait past the header timeout is answered with 503."""

from __future__ import annotations

import asyncio
import os
import threading
import time
import uuid

import pytest

from pyfiledrop.web.admission import Turns
from tests.web.raw import connect, head, read_reply

KiB = 1024
MiB = 1024 * KiB


def chunk_head(size: int) -> bytes:
    """The head of a raw one-chunk Dropzone upload of `size` bytes, a new upload each time."""
    query = (
        f"dzuuid={uuid.uuid4()}&dzchunkindex=0&dztotalfilesize={size}&dzchunksize={size}"
        f"&dztotalchunkcount=1&dzchunkbyteoffset=0&filename=turn.bin"
    )
    return head("POST", f"/upload?{query}", Content_Length=size)


# --- the turns themselves ---------------------------------------------------------------------


def test_turns_beyond_the_capacity_wait_and_are_handed_over_in_order() -> None:
    async def run() -> list[int]:
        turns = Turns(2)
        assert await turns.take(0) and await turns.take(0)
        order: list[int] = []

        async def waiter(n: int) -> None:
            assert await turns.take(5)
            order.append(n)

        waiting = [asyncio.create_task(waiter(n)) for n in range(3)]
        await asyncio.sleep(0.05)
        assert order == [], "no turn is free"
        for _ in range(3):
            turns.give_back()
            await asyncio.sleep(0.01)
        await asyncio.gather(*waiting)
        assert turns.taken == 2, "handing a turn over neither adds nor loses one"
        return order

    assert asyncio.run(run()) == [0, 1, 2]


def test_a_wait_that_times_out_or_is_cancelled_leaves_no_turn_behind() -> None:
    async def run() -> None:
        turns = Turns(1)
        assert await turns.take()
        assert not await turns.take(0.05), "no turn came within the timeout"
        cancelled = asyncio.create_task(turns.take())
        await asyncio.sleep(0.01)
        cancelled.cancel()
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        turns.give_back()
        assert turns.taken == 0, "the turn went to neither the timed-out nor the cancelled wait"
        assert await turns.take(0)

    asyncio.run(run())


# --- through a real server --------------------------------------------------------------------


def test_a_stalled_body_gives_its_turn_to_the_next_request_and_finishes_later(
    make_server,
) -> None:  # type: ignore[no-untyped-def]
    server = make_server("--max-streams", "1")
    body_a, body_b = os.urandom(MiB), os.urandom(MiB)
    with connect(server) as a, connect(server) as b:
        a.sendall(chunk_head(MiB) + body_a[: 256 * KiB])  # takes the only turn, then stalls
        time.sleep(0.3)
        sent = time.monotonic()
        b.sendall(chunk_head(MiB) + body_b)
        reply_b = read_reply(b)
        waited = time.monotonic() - sent
        assert reply_b.status == 200, reply_b.body
        assert waited > 0.4, "the second body went ahead while the first one held the only turn"
        a.sendall(body_a[256 * KiB :])  # flows again: takes a turn again and completes
        reply_a = read_reply(a)
        assert reply_a.status == 200, reply_a.body


def test_a_body_that_finds_no_turn_within_the_header_timeout_gets_503(
    make_server,
) -> None:  # type: ignore[no-untyped-def]
    server = make_server("--max-streams", "1", "--header-timeout", "1")
    size = 3 * MiB
    body = os.urandom(size)
    replies: dict[str, int] = {}

    def flowing() -> None:
        """64 KiB every 50 ms: a body arriving at speed keeps its turn throughout."""
        with connect(server) as sock:
            sock.sendall(chunk_head(size))
            for start in range(0, size, 64 * KiB):
                sock.sendall(body[start : start + 64 * KiB])
                time.sleep(0.05)
            replies["flowing"] = read_reply(sock).status

    first = threading.Thread(target=flowing)
    first.start()
    time.sleep(0.3)
    with connect(server) as sock:
        sock.sendall(chunk_head(MiB) + os.urandom(64 * KiB))
        refused = read_reply(sock)
    first.join(timeout=30)
    assert refused.status == 503
    assert refused.json()["code"] == "too_many_streams"
    assert refused.headers["retry-after"] == "1"
    assert refused.headers["connection"] == "close"
    assert replies == {"flowing": 200}
