"""The local part writer gathers a run before it writes; a run that stops growing is written
anyway, so a request whose body stalls holds none of its bytes in memory."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from pyfiledrop.storage.local import FLUSH_BYTES, IDLE_FLUSH, LocalStorage


def test_a_run_that_stops_growing_is_written_without_a_flush(tmp_path: Path) -> None:
    async def run() -> tuple[bytes, bytes, bytes, bytes]:
        storage = LocalStorage(tmp_path / "chunks", tmp_path / "storage")
        await storage.create("u1")
        partial = tmp_path / "chunks" / "u1.part"
        writer = await storage.part_writer("u1", 0, 0)
        first, second = os.urandom(FLUSH_BYTES // 4), os.urandom(FLUSH_BYTES // 2)
        await writer.write(first)
        await asyncio.sleep(IDLE_FLUSH / 2)
        early = partial.read_bytes()
        await asyncio.sleep(IDLE_FLUSH + 0.5)
        stalled = partial.read_bytes()
        await writer.write(second)  # the body flows again, after the idle write
        await writer.flush()
        await writer.close()
        return early, stalled, partial.read_bytes()[: len(first) + len(second)], first + second

    early, stalled, whole, sent = asyncio.run(run())
    assert early == b"", "a run that is still growing is not written piece by piece"
    assert stalled == sent[: FLUSH_BYTES // 4], "the stalled run was written as it was"
    assert whole == sent
