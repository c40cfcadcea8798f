"""This process as one of several server processes sharing a metadata store.

Each process is an instance with a random id that beats in the metadata store every `BEAT`
seconds; the claims its requests and tasks hold are live only while it beats. Other processes on
the same host also notice at once when its process is gone (its pid no longer exists), so a
restart after a crash does not wait for the beats to lapse. The row of an instance whose host
vanished is never reaped by pid: the heartbeat loop forgets instances silent for `SILENT` seconds.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import secrets
import socket
from collections.abc import Awaitable, Callable

from pyfiledrop.core.interfaces import MetaStore

BEAT = 5.0  # seconds between heartbeats
INSTANCE_GRACE = 3 * BEAT  # a store holds an instance that has not beaten for this long dead
SILENT = 3600.0  # seconds without a beat after which an instance's row and claims are removed
PRUNE_EVERY = 60  # beats between looks for such instances (the first one is looked at once)


class Instance:
    """This process: its id, its holder ids, its heartbeat."""

    def __init__(self, meta: MetaStore) -> None:
        self.id = secrets.token_hex(8)
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self._meta = meta
        self._holders = itertools.count()

    def holder(self) -> str:
        """A holder id for one request or task of this process, never used twice."""
        return f"{self.id}:{next(self._holders)}"

    async def beat(self) -> None:
        await self._meta.heartbeat(self.id, self.host, self.pid)

    async def reap(self) -> None:
        """Free the claims of processes on this host that are gone (killed, crashed)."""
        others = await self._meta.instances_on(self.host)
        gone = [i for i, pid in others.items() if i != self.id and not _alive(pid)]
        if gone:
            await self._meta.forget_instances(gone)

    async def leave(self) -> None:
        """Free this process's claims at once (a clean stop)."""
        await self._meta.forget_instances([self.id])

    async def run(self) -> None:
        """Beat until cancelled; every `PRUNE_EVERY` beats, starting with the first, forget the
        instances silent for `SILENT` seconds (their claims are dead already; their rows stay)."""
        for beats in itertools.count():
            await asyncio.sleep(BEAT)
            try:
                await self.beat()
                if beats % PRUNE_EVERY == 0:
                    await self._meta.forget_silent(SILENT)
            except Exception:  # a busy or full database: beat again next time
                pass


async def every(seconds: float, work: Callable[[], Awaitable[object]]) -> None:
    """Run `work` every `seconds` until cancelled: the background tasks every process runs. A
    failure (a busy or full database, a store that is down) waits for the next time."""
    while True:
        await asyncio.sleep(seconds)
        try:
            await work()
        except Exception:
            pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, but belongs to another user
        return True
    return True
