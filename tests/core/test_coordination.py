"""This process among others: the heartbeat loop forgets instances of hosts that vanished."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from pyfiledrop.core import coordination
from pyfiledrop.core.coordination import Instance
from pyfiledrop.meta.sqlite import SQLiteMetaStore


def test_the_heartbeat_loop_forgets_instances_silent_for_long(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Times scaled down: a beat every 50 ms, silent for 0.5 s is silent for long."""
    monkeypatch.setattr(coordination, "BEAT", 0.05)
    monkeypatch.setattr(coordination, "SILENT", 0.5)

    async def go() -> None:
        meta = SQLiteMetaStore(tmp_path / "meta.sqlite3")
        try:
            await meta.heartbeat("vanished", "gone-host", 1)
            assert await meta.claim("assemble:u1", "vanished:0", "vanished", 3600)
            await asyncio.sleep(1.0)
            me = Instance(meta)
            await me.beat()
            beating = asyncio.create_task(me.run())
            await asyncio.sleep(0.3)
            beating.cancel()
            assert await meta.instances_on("gone-host") == {}
            assert await meta.instances_on(me.host) == {me.id: me.pid}
            assert await meta.claim("assemble:u1", me.holder(), me.id, 60), "its claim went too"
        finally:
            await meta.close()

    asyncio.run(go())
