"""A TCP proxy for fault tests: forwards 127.0.0.1:<free port> to a server and, per connection,
cuts it after some bytes from the client, delays what it forwards, or trickles it.

The proxy runs its own asyncio loop in a background thread, so synchronous tests and subprocess
clients (the CLI, node, Chromium) can go through it. What happens to a connection is decided when
it is accepted: the next queued `Rule` if any (`then`), else the `plan` (a function of the
connection's number), else the default rule (`set_default`). `cut_budget` caps the cuts made in
all (the connections that reach their cut point first are cut; later ones pass), for clients
such as browsers whose connections a test cannot count on. A cut aborts both sockets (a reset),
as a dropped network or a killed middlebox would, after forwarding exactly `cut_after` bytes
upstream, so a cut lands mid-request when `cut_after` is inside a request body.
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from types import TracebackType

_READ = 64 * 1024


@dataclass(frozen=True)
class Rule:
    """What to do with one connection. The default passes everything through untouched.

    cut_after: abort the connection once this many bytes went upstream (client to server).
    delay: seconds to wait before forwarding each piece, both ways.
    trickle: forward upstream at most this many bytes per second, in small pieces.
    """

    cut_after: int | None = None
    delay: float = 0.0
    trickle: int | None = None


PASS = Rule()
Plan = Callable[[int], Rule]


def random_cuts(every: int, low: int, high: int, seed: int = 0, first: int = 1) -> Plan:
    """Cut every `every`-th connection (counting from `first`) after a random number of upstream
    bytes in [low, high]; pass the others."""
    rng = random.Random(seed)

    def plan(number: int) -> Rule:
        if number >= first and (number - first) % every == 0:
            return Rule(cut_after=rng.randint(low, high))
        return PASS

    return plan


class Proxy:
    """`with Proxy(port) as proxy:` forwards `proxy.url` to 127.0.0.1:`port`."""

    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self.plan: Plan | None = None
        self.cut_budget: int | None = None  # cuts left to make; None: no limit
        self.connections = 0  # accepted so far
        self.cuts = 0  # connections aborted by a cut rule
        self.upstream_bytes = 0
        self._default = PASS
        self._queued: deque[Rule] = deque()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # --- commands (thread-safe) -----------------------------------------------------------------

    def set_default(self, rule: Rule) -> None:
        """The rule for every connection that has no queued rule and no plan."""
        with self._lock:
            self._default = rule

    def then(self, *rules: Rule) -> None:
        """Apply these rules, in order, to the next connections accepted."""
        with self._lock:
            self._queued.extend(rules)

    def set_plan(self, plan: Plan | None) -> None:
        with self._lock:
            self.plan = plan

    def cut_all(self) -> None:
        """Abort every open connection now."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._abort_all)

    # --- life -----------------------------------------------------------------------------------

    def start(self) -> Proxy:
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self._thread.start()
        if not ready.wait(10) or not self.port:
            raise RuntimeError("the proxy did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop = None

    def __enter__(self) -> Proxy:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _run(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        try:
            self._server = loop.run_until_complete(
                asyncio.start_server(self._accept, "127.0.0.1", 0, backlog=1024)
            )
            self.port = int(self._server.sockets[0].getsockname()[1])
            ready.set()
            loop.run_forever()
            self._abort_all()
            self._server.close()
            loop.run_until_complete(asyncio.sleep(0.05))  # let aborted connections wind down
            loop.set_exception_handler(lambda loop, context: None)  # cancelled ones may complain
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        finally:
            ready.set()
            loop.close()

    def _abort_all(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()

    def _rule_for_next(self) -> Rule:
        with self._lock:
            self.connections += 1
            if self._queued:
                return self._queued.popleft()
            if self.plan is not None:
                return self.plan(self.connections)
            return self._default

    # --- forwarding -----------------------------------------------------------------------------

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        rule = self._rule_for_next()
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, up_writer))
        up = asyncio.create_task(self._upstream(reader, up_writer, rule))
        down = asyncio.create_task(self._pump(up_reader, writer, rule.delay))
        try:
            done, _ = await asyncio.wait({up, down}, return_when=asyncio.FIRST_COMPLETED)
            if up in done and up.result() == "cut":
                writer.transport.abort()
                up_writer.transport.abort()
            await asyncio.gather(up, down, return_exceptions=True)
        finally:
            for w in (writer, up_writer):
                w.close()
                self._writers.discard(w)

    async def _upstream(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, rule: Rule
    ) -> str:
        sent = 0
        step = max(1, rule.trickle // 10) if rule.trickle else _READ
        try:
            while True:
                want = step
                if rule.cut_after is not None:
                    if sent >= rule.cut_after:
                        if self._take_cut():
                            return "cut"
                        rule = replace(rule, cut_after=None)  # no cuts left: pass through
                    else:
                        want = min(want, rule.cut_after - sent)
                data = await reader.read(want)
                if not data:
                    if writer.can_write_eof():
                        writer.write_eof()
                    return "eof"
                if rule.delay:
                    await asyncio.sleep(rule.delay)
                if rule.trickle:
                    await asyncio.sleep(len(data) / rule.trickle)
                writer.write(data)
                await writer.drain()
                sent += len(data)
                with self._lock:
                    self.upstream_bytes += len(data)
        except (ConnectionError, OSError):
            return "error"

    def _take_cut(self) -> bool:
        with self._lock:
            if self.cut_budget is not None and self.cuts >= self.cut_budget:
                return False
            self.cuts += 1
            return True

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float
    ) -> str:
        try:
            while data := await reader.read(_READ):
                if delay:
                    await asyncio.sleep(delay)
                writer.write(data)
                await writer.drain()
            if writer.can_write_eof():
                writer.write_eof()
            return "eof"
        except (ConnectionError, OSError):
            return "error"
