"""A chunk's body read while its claim is taken (core/receiving.py's ReadAhead): the bytes come
out whole and in order, no more than the limit is held while waiting, and neither a failing body
nor a cancelled request cancels the claim, whose outcome the service must still learn."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from pyfiledrop.core.receiving import ReadAhead


class Body:
    """Pieces of 10 bytes, counting how many were read; `fail_at` raises instead of a piece."""

    def __init__(self, count: int, fail_at: int | None = None) -> None:
        self.count, self.fail_at, self.read = count, fail_at, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for n in range(self.count):
            await asyncio.sleep(0)
            if n == self.fail_at:
                raise ConnectionResetError("the client went away")
            self.read += 1
            yield bytes([n]) * 10


async def collect(ahead: ReadAhead) -> bytes:
    return b"".join([bytes(p) async for p in ahead.pieces()])


def test_the_body_is_read_while_waiting_and_comes_out_whole_and_in_order() -> None:
    async def run() -> None:
        body, claim = Body(8), asyncio.get_running_loop().create_future()
        ahead = ReadAhead(body)
        asyncio.get_running_loop().call_later(0.05, claim.set_result, "claimed")
        assert await ahead.until(claim, limit=35) == "claimed"
        assert body.read == 4, "read up to the limit (35 bytes: four pieces), then waited"
        assert await collect(ahead) == b"".join(bytes([n]) * 10 for n in range(8))

    asyncio.run(run())


def test_a_short_body_ends_before_the_wait_does() -> None:
    async def run() -> None:
        body, claim = Body(2), asyncio.get_running_loop().create_future()
        ahead = ReadAhead(body)
        asyncio.get_running_loop().call_later(0.05, claim.set_result, True)
        assert await ahead.until(claim) is True
        assert await collect(ahead) == bytes([0]) * 10 + bytes([1]) * 10

    asyncio.run(run())


def test_a_failing_body_raises_and_leaves_the_claim_to_finish() -> None:
    async def run() -> None:
        claim = asyncio.get_running_loop().create_future()
        ahead = ReadAhead(Body(5, fail_at=2))
        with pytest.raises(ConnectionResetError):
            await ahead.until(claim)
        assert not claim.cancelled()
        claim.set_result(True)  # the service then lets go of it

    asyncio.run(run())


def test_a_request_cancelled_while_waiting_does_not_cancel_the_claim() -> None:
    async def run() -> None:
        claim = asyncio.get_running_loop().create_future()
        ahead = ReadAhead(Body(3))
        waiting = asyncio.ensure_future(ahead.until(claim))
        await asyncio.sleep(0.01)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert not claim.cancelled()

    asyncio.run(run())
