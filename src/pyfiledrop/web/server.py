"""Runs the ASGI app under uvicorn (uvloop + httptools, the fast path) with the limits the HTTP edge
needs against idle, slow and hostile clients, which uvicorn alone does not set.

`EdgeProtocol` is uvicorn's httptools protocol plus:
- a deadline for the request head (request line and headers), `--header-timeout`: counted from the
  connection's start, or from the first byte of a later request on a kept-alive connection. A
  client that sent part of a head gets 408; one that sent nothing is closed without a word. (Idle
  kept-alive connections are closed by uvicorn after `timeout_keep_alive`, 5 s.)
- a size limit for the head, `MAX_HEAD_BYTES`: 431 Request Header Fields Too Large above it, read no
  further than that (plus one read from the socket).
- a cap on open connections, `--max-connections`, idle ones included: a connection accepted while
  the cap is reached answers its request with 503 and is closed. Slots are held from
  accept to close. (Request bodies also wait for one of `--max-streams` turns: web/admission.py.)
- reading paused once a request's head is complete, until the app asks for its body, and small
  socket reads (`HEAD_READ`) until then: a request waiting for a turn holds at most 16 KiB of its
  body.
- a lingering close: a connection closed before its request body has fully arrived (an answer
  given early, a refusal) first sends the answer and a FIN, then reads and drops what the client
  still sends for at most `LINGER_SECONDS` or `LINGER_BYTES`, then closes. Closing at once would
  make the kernel reset the connection, and the client would see a reset instead of the answer.

- the ASGI `http.response.pathsend` and `http.response.zerocopysend` extensions: files go from the
  page cache to the socket with `os.sendfile` (web/sendfile.py).
- the `pyfiledrop.delivery` extension: whether a response reached its client whole
  (web/delivery.py), for downloads that count.

`close_when_body_unread` makes every answer given before its request body was read say
`Connection: close`, which is what starts the lingering close.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import resource
import signal
from collections.abc import Callable
from typing import Any

import httptools
import uvicorn
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from pyfiledrop import errors
from pyfiledrop.logs import Seen
from pyfiledrop.web import delivery
from pyfiledrop.web.admission import Gate, Turns, has_body, take_turns
from pyfiledrop.web.requestlog import access_log, redact, refused
from pyfiledrop.web.sendfile import FileSender, extensions

MAX_HEAD_BYTES = 64 * 1024
LINGER_SECONDS = 2.0
LINGER_BYTES = 128 * 1024 * 1024
FILES_BESIDES_CONNECTIONS = 128  # databases, partial files, the finishing work's files
HEAD_READ = 16 * 1024  # the most read from a socket at once while a request's head is awaited
BODY_READ = 256 * 1024  # ... and while its body arrives (uvloop's own read size)
# Every read lands here and is copied out at once (one event loop per process).
_READS = memoryview(bytearray(BODY_READ))
log = logging.getLogger("pyfiledrop.server")

Renderer = Callable[[str, errors.UploadError], Response]


class SizedReads(asyncio.BufferedProtocol):
    """Hands an `EdgeProtocol` what arrives, read in pieces of the size it needs. (uvloop lets a
    protocol choose its buffer only when it is not an `asyncio.Protocol`, as uvicorn's are.)"""

    def __init__(self, edge: EdgeProtocol) -> None:
        self.edge = edge

    def get_buffer(self, sizehint: int) -> memoryview:
        """Small reads until a request's head is complete: a request that then waits for a
        turn holds no more than HEAD_READ bytes of its body."""
        return _READS[: BODY_READ if self.edge.in_body else HEAD_READ]

    def buffer_updated(self, nbytes: int) -> None:
        self.edge.data_received(bytes(_READS[:nbytes]))

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.edge.connection_made(transport)  # type: ignore[arg-type]

    def connection_lost(self, exc: Exception | None) -> None:
        self.edge.connection_lost(exc)

    def eof_received(self) -> None:
        self.edge.eof_received()

    def pause_writing(self) -> None:
        self.edge.pause_writing()

    def resume_writing(self) -> None:
        self.edge.resume_writing()


class _Transport(asyncio.Transport):
    """The socket's transport as uvicorn sees it: closing goes through the protocol, which lingers
    while a request body is still arriving; nothing is written once lingering has begun."""

    def __init__(self, real: asyncio.Transport, protocol: EdgeProtocol) -> None:
        super().__init__()
        self.real = real
        self._protocol = protocol

    def close(self) -> None:
        self._protocol.close_connection()

    def is_closing(self) -> bool:
        return self._protocol.lingering or self.real.is_closing()

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._protocol.lingering:
            self.real.write(data)

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.real.get_extra_info(name, default)

    def pause_reading(self) -> None:
        self.real.pause_reading()

    def resume_reading(self) -> None:
        self.real.resume_reading()

    def is_reading(self) -> bool:
        return self.real.is_reading()

    def abort(self) -> None:
        self.real.abort()


class EdgeProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a head deadline and size limit, a connection cap and a
    lingering close (see the module docstring)."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
        *,
        gate: Gate,
        header_timeout: float,
        render: Renderer,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.gate = gate
        self.header_timeout = header_timeout
        self.render = render
        self.lingering = False
        self._real: asyncio.Transport | None = None
        self._files: FileSender | None = None
        self._admitted = False
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_open = False  # a request has begun and its head is not complete yet
        self._head_seen = 0
        self._message_open = False  # a request has begun and its body has not fully arrived
        self.in_body = False  # the app has a request whose body has not fully arrived
        self._refused = False  # the current request was answered here; the app never sees it
        self._dropped = 0

    # --- connection life ------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._real = transport
        self._files = FileSender(transport)
        super().connection_made(_Transport(transport, self))
        self._admitted = self.gate.admit(self)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self.gate.release(self)
        self._cancel_head_timer()
        if self._files is not None:
            self._files.wake()
        super().connection_lost(exc)

    def close_connection(self) -> None:
        """Close now, or linger first when the request body is still arriving."""
        assert self._real is not None
        if self.lingering or self._real.is_closing():
            self._real.close()
            return
        if not self._message_open:
            self._real.close()
            return
        self.lingering = True
        self._cancel_head_timer()
        if self._real.can_write_eof():
            self._real.write_eof()  # the answer, then a FIN: the client can read it now
        self._real.resume_reading()
        self.loop.call_later(LINGER_SECONDS, self._real.close)

    def data_received(self, data: bytes) -> None:
        if self.lingering:
            self._dropped += len(data)
            if self._dropped > LINGER_BYTES and self._real is not None:
                self._real.close()
            return
        super().data_received(data)
        if self._head_open and not self.lingering:
            # Overcounts only when a pipelined request's head shares a read with the body before.
            self._head_seen += len(data)
            if self._head_seen > MAX_HEAD_BYTES:
                self._refuse(self._too_large())

    def _unsupported_upgrade_warning(self) -> None:
        """No WebSockets here (`ws="none"`, so a connection never changes protocol and keeps its
        slot until it closes): an Upgrade request is served as plain HTTP, without two warnings
        in the log for each one."""

    # --- parser callbacks -----------------------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self.scheme == "http":  # over TLS the bytes pass through the encryption
            self.scope["extensions"] = extensions()
        self._message_open = self._head_open = True
        self._head_seen = 0
        self._refused = False
        if self._head_timer is None:
            self._arm_head_timer()

    def on_headers_complete(self) -> None:
        self._cancel_head_timer()
        self._head_open = False
        head = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
        if head > MAX_HEAD_BYTES:
            self._refuse(self._too_large())
        elif not self._admitted:
            self._refuse(
                errors.TOO_MANY_CONNECTIONS(
                    "The server is serving as many connections as it can; try again shortly."
                )
            )
        else:
            super().on_headers_complete()
            assert self._files is not None
            # Before the app's task first runs, so the app gets this `send`.
            self.cycle.send = self._files.wrap(self.cycle)  # type: ignore[method-assign,assignment]
            assert self._real is not None
            delivery.offer(self.scope, self._real, self.cycle)  # type: ignore[arg-type]
            self.in_body = True
            if has_body(self.cycle.scope):  # type: ignore[arg-type]
                self.flow.pause_reading()  # until the app asks for the body: it may wait a turn

    def on_body(self, body: bytes) -> None:
        if not self._refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        self._message_open = self.in_body = False
        if not self._refused:
            super().on_message_complete()

    # --- refusals -------------------------------------------------------------------------------

    def _arm_head_timer(self) -> None:
        self._head_timer = self.loop.call_later(self.header_timeout, self._head_too_slow)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if not self._head_open:  # not a byte of a request yet: nothing to answer
            self.transport.close()
            return
        self._refuse(
            errors.HEADERS_TOO_SLOW(
                f"The request headers took longer than {self.header_timeout:g} s to arrive."
            )
        )

    @staticmethod
    def _too_large() -> errors.UploadError:
        return errors.HEADERS_TOO_LARGE(
            f"The request line and headers are larger than {MAX_HEAD_BYTES // 1024} KiB."
        )

    def _refuse(self, exc: errors.UploadError) -> None:
        """Answer the current request here, without the app, and close the connection."""
        self._refused = True
        try:
            path = httptools.parse_url(self.url).path.decode("ascii", "replace")
        except httptools.HttpParserInvalidURLError:
            path = "/"
        client = self.client[0] if self.client else None
        # The method is parsed before the URL starts; before that, httptools has none to give.
        method = self.parser.get_method().decode("ascii", "replace") if self.url else "-"
        refused(exc, Seen(client, method, redact(path)))
        response = self.render(path, exc)
        head = [STATUS_LINE[response.status_code]]
        for name, value in response.raw_headers:
            head += [name, b": ", value, b"\r\n"]
        head += [b"connection: close\r\n\r\n", bytes(response.body)]
        self.transport.write(b"".join(head))
        self.transport.close()


def close_when_body_unread(app: ASGIApp) -> ASGIApp:
    """Answers sent before the request body was read in full say `Connection: close`."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        unread = has_body(scope)

        async def tracked_receive() -> Message:
            nonlocal unread
            message = await receive()
            if message["type"] != "http.request" or not message.get("more_body", False):
                unread = False
            return message

        async def closing_send(message: Message) -> None:
            if message["type"] == "http.response.start" and unread:
                message = {**message, "headers": [*message.get("headers", []),
                                                   (b"connection", b"close")]}  # fmt: skip
            await send(message)

        await app(scope, tracked_receive, closing_send)

    return wrapped


def raise_open_file_limit() -> int:
    """Raise the soft limit on open files to the hard one (each connection holds one); the soft
    limit in force afterwards."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = max(soft, 1 << 20)
    if soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    return soft


def serve(
    make_app: Callable[[], ASGIApp],
    render: Renderer,
    *,
    host: str,
    port: int,
    header_timeout: float,
    max_connections: int,
    max_streams: int,
    workers: int = 1,
    shutdown_timeout: int = 30,
    log_requests: bool = False,
) -> None:
    """Serve the app made by `make_app`; with `workers` > 1, in that many processes sharing one
    listening socket (each makes its own app after the fork: they share only the database and
    the storage, which is all the upload core relies on). The limits are per process.

    At SIGTERM the server stops accepting connections and gives the requests in flight
    `shutdown_timeout` seconds; those still running then are cut (a chunk cut off is not recorded,
    and its client sends it again), and the count is logged. Every refusal is logged, and with
    `log_requests` every request (web/requestlog.py)."""
    open_files = raise_open_file_limit()
    if max_connections > open_files - FILES_BESIDES_CONNECTIONS:
        max_connections = max(1, open_files - FILES_BESIDES_CONNECTIONS)
        log.warning(
            f"the open-file limit ({open_files}) allows {max_connections} connections; "
            "--max-connections lowered to that"
        )
    gate = Gate(max_connections)

    def protocol(*args: Any, **kwargs: Any) -> SizedReads:
        edge = EdgeProtocol(
            *args, **kwargs, gate=gate, header_timeout=header_timeout, render=render
        )
        return SizedReads(edge)

    def config(app: ASGIApp) -> Config:
        turns = take_turns(app, Turns(max_streams), header_timeout, render)
        return Config(
            close_when_body_unread(access_log(turns, log_requests)),
            host=host,
            port=port,
            loop="uvloop",
            http=protocol,  # type: ignore[arg-type]
            ws="none",
            proxy_headers=False,  # links use X-Forwarded-* from --forwarded-allow-ips (links.py)
            lifespan="on",
            timeout_graceful_shutdown=shutdown_timeout,
            log_config=None,  # logs.configure has set the handlers, format and levels
            access_log=False,  # web/requestlog.py logs requests, without download tokens
            server_header=False,  # no "server: uvicorn": what runs here is nobody's business
        )

    if workers == 1:
        uvicorn.Server(config(make_app())).run()
        return
    listening = Config(make_app, host=host, port=port, log_config=None).bind_socket()
    supervise(workers, lambda: uvicorn.Server(config(make_app())).run(sockets=[listening]))


def supervise(workers: int, work: Callable[[], None]) -> None:
    """Run `work` in `workers` forked processes until SIGTERM or SIGINT, which are passed on to
    them; a process that dies on its own is started again."""
    children: set[int] = set()
    stopping = False

    def start() -> None:
        pid = os.fork()
        if pid == 0:  # the child: no threads or event loop were started before the fork
            # Not the parent's handlers: a SIGTERM before uvicorn has set its own must stop this
            # worker, not run `stop` on the parent's copy of `children` and be lost.
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.default_int_handler)
            code = 0
            try:
                work()
            except BaseException:
                code = 1
            os._exit(code)
        children.add(pid)

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for _ in range(workers):
        start()
    while children:
        try:
            pid, _ = os.wait()
        except ChildProcessError:
            break
        children.discard(pid)
        if not stopping:
            start()
