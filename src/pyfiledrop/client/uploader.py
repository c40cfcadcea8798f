"""Uploading one file to a pyfiledrop server: parallel chunks, retries with backoff, resume.

It speaks the server's chunk protocol (the one its page uses through Dropzone, with raw bodies),
not tus: chunks go in parallel straight to their offsets with no server-side concatenation
afterwards, and the server's status call says which chunks it already holds, so a second run
sends only the rest.

Sending a file again: before sending, the client may ask the server by the file's SHA-256
(POST /upload/known); when this client (its cookie) already uploaded that content, the upload is
complete at once. Knowing the digest costs a read of the whole file before the first byte is
sent, so the client asks only when that is likely to pay:
- it sent this very file before (same path, size and modification time, as `make` and `rsync`
  judge files): the digest it recorded then, no read at all;
- it sent some file of exactly this size to this server, and the file takes more than one
  chunk: one read first (the digest is then reused to check the server's, so nothing is read
  twice); a file that fits one chunk costs one request either way, and sending it is that
  request (many small files of one size would otherwise each cost a question first);
- otherwise it sends at once and hashes while it sends, as before.
"""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from pyfiledrop.client.state import Resumable, StateFile, key_of
from pyfiledrop.client.transport import Connections, FileRange, Reply, TransportError
from pyfiledrop.core.model import Layout

COOKIE = "pyfiledrop_client"
RETRY_STATUSES = {408, 423, 429, 500, 502, 503, 504, 507}
FINISH_TIMEOUT = 600.0  # seconds to wait for the server to hash and store a file


class UploadFailed(Exception):
    """The upload cannot go on; the message is one line for a person."""


@dataclass(frozen=True)
class Uploaded:
    path: Path
    size: int
    sha256: str
    download_url: str | None
    known: bool = False  # the server had the content: nothing was sent


class Uploader:
    """Uploads files to the server at `url`; one instance can serve several files in turn."""

    def __init__(
        self,
        url: str,
        state: StateFile,
        *,
        chunk_size: int,
        parallel: int,
        retries: int = 5,
        backoff: float = 0.5,
        expire: str | None = None,
        authorization: str | None = None,
        terms: dict[str, str] | None = None,
    ) -> None:
        """`expire`: how long the server should keep the files (`1h`), None for its limit;
        `authorization`: the credentials the server needs, if it needs any
        (`transport.credentials`); `terms`: the headers that set who may download the files
        and how often (`terms_headers`)."""
        self.url = url.rstrip("/")
        self.expire = expire
        self.terms = terms or {}
        self.state = state
        self.chunk_size = chunk_size
        self.parallel = parallel
        self.retries = retries
        self.backoff = backoff
        self.http = Connections(self.url, authorization=authorization)
        self._cookie: str | None = None
        self._cookie_lock = threading.Lock()
        # Chunk requests in flight, for all the files being uploaded at once together.
        self._slots = threading.Semaphore(parallel)
        # One pool for the chunks of every file: its threads, and so their keep-alive
        # connections (one per thread), last from file to file.
        self._senders = ThreadPoolExecutor(parallel, thread_name_prefix="chunks")

    def __enter__(self) -> Uploader:
        return self

    def __exit__(self, *exc: object) -> None:
        self._senders.shutdown(cancel_futures=True)
        self.http.close()

    def upload(
        self, path: Path, advance: Callable[[int], None], relative_path: str | None = None
    ) -> Uploaded:
        """Send the chunks the server does not have, then wait for and check its SHA-256.

        `advance(n)` is called as bytes are known to be on the server (also for resumed ones);
        `relative_path` is where the file is in a folder being uploaded, for the server to keep.
        """
        extra = {"path": relative_path} if relative_path else {}
        size = path.stat().st_size
        layout = Layout(size, self.chunk_size, Layout.expected_count(size, self.chunk_size))
        key = key_of(self.url, path, self.chunk_size, relative_path)
        upload, have = self._resume(key)
        local_digest: dict[str, str] = {}
        if not have:
            known = self._ask_by_hash(upload, path, layout, local_digest, extra)
            if known is not None:
                self.state.forget(key)
                advance(size)
                return known
        # A file of one chunk is hashed here afterwards: less than starting a thread for it.
        hasher = threading.Thread(target=_hash_file, args=(path, local_digest), daemon=True)
        if "sha256" not in local_digest and layout.chunk_count > 1:
            hasher.start()
        if have:
            advance(sum(layout.length(i) for i in have))
        missing = [i for i in range(layout.chunk_count) if i not in have]
        finished = None
        if missing:
            finished = self._send_chunks(upload, path, layout, missing, advance, extra)
        status = finished or self._wait_finished(upload)
        if hasher.is_alive():
            hasher.join()
        elif "sha256" not in local_digest:
            _hash_file(path, local_digest)
        if status.get("sha256") != local_digest.get("sha256"):
            raise UploadFailed(
                f"the server's SHA-256 {status.get('sha256')} differs from the file's "
                f"{local_digest.get('sha256')}"
            )
        self.state.forget(key)
        self.state.remember_sent(self.url, path, status["sha256"])
        return Uploaded(path, size, status["sha256"], status.get("download_url"))

    def _ask_by_hash(
        self, upload: Resumable, path: Path, layout: Layout, digest: dict[str, str],
        extra: dict[str, str],
    ) -> Uploaded | None:  # fmt: skip
        """The upload completed at once from content this client sent before, or None (send
        it). Fills `digest` when it hashed the file to ask."""
        known = self.state.sent(self.url, path)
        if (
            known is None
            and layout.chunk_count > 1
            and layout.size in self.state.sent_sizes(self.url)
        ):
            _hash_file(path, digest)
            known = digest["sha256"]
        if known is None:
            return None
        query = {
            "dzuuid": upload.upload_id, "filename": path.name, "sha256": known,
            "dztotalfilesize": str(layout.size), "dzchunksize": str(layout.chunk_size),
            "dztotalchunkcount": str(layout.chunk_count), **extra,
        }  # fmt: skip
        if self.expire is not None:
            query["expire"] = self.expire
        reply = self._request("POST", "/upload/known", upload, params=query, headers=self.terms)
        if reply.status != 200:  # 404: not known (or an older server): send it
            return None
        status = reply.json()
        if status.get("state") != "complete" or status.get("sha256") != known:
            return None
        return Uploaded(path, layout.size, known, status.get("download_url"), known=True)

    # --- resume ---------------------------------------------------------------------------------

    def _resume(self, key: str) -> tuple[Resumable, set[int]]:
        """The upload to go on with and the chunks the server has, or a fresh upload."""
        known = self.state.get(key)
        if known is not None:
            status = self._status(known)
            if status and status["state"] == "receiving":
                return known, set(status.get("received", []))
            if status and status["state"] in ("assembling", "complete"):
                return known, set(range(status.get("chunk_count") or 0))
        fresh = Resumable(str(uuid.uuid4()), self._new_cookie())
        self.state.put(key, fresh)
        return fresh, set()

    def _status(self, upload: Resumable, wait: int = 0) -> dict[str, Any] | None:
        reply = self._request(
            "GET", f"/upload/{upload.upload_id}", upload, params={"wait": wait} if wait else None
        )
        return reply.json() if reply.status == 200 else None

    def _new_cookie(self) -> str:
        """The server's client cookie, taken once and kept in the state file: it binds our
        uploads to us, and what the server tells by hash is only about uploads made with it."""
        with self._cookie_lock:  # several files start at once: one cookie for them all
            if self._cookie is None:
                self._cookie = self.state.cookie(self.url)
            if self._cookie is None:
                reply = self._request("GET", "/", None)
                self._cookie = reply.cookie(COOKIE)
                if reply.status in (401, 403, 429):  # credentials are needed, or were wrong
                    raise UploadFailed(_reason(reply))
                if reply.status != 200 or not self._cookie:
                    raise UploadFailed(f"{self.url} did not answer like a pyfiledrop server")
                self.state.set_cookie(self.url, self._cookie)
            return self._cookie

    # --- sending --------------------------------------------------------------------------------

    def _send_chunks(
        self,
        upload: Resumable,
        path: Path,
        layout: Layout,
        indexes: list[int],
        advance: Callable[[int], None],
        extra: dict[str, str],
    ) -> dict[str, Any] | None:
        """Send these chunks, several at once, with the `extra` query fields; the upload's
        status when the answer to one of them says it is complete (the server finished it at
        once), else None."""
        fields = {
            "dzuuid": upload.upload_id,
            "dztotalfilesize": str(layout.size),
            "dzchunksize": str(layout.chunk_size),
            "dztotalchunkcount": str(layout.chunk_count),
            **extra,  # the relative path: sent with every chunk, as `expire`
        }
        if self.expire is not None:  # sent with every chunk: whichever arrives first makes it
            fields["expire"] = self.expire
        stop = threading.Event()
        complete: list[dict[str, Any]] = []

        def send(index: int) -> None:
            if stop.is_set():
                return
            data = FileRange(path, layout.offset(index), layout.length(index))
            form = fields | {"dzchunkindex": str(index), "dzchunkbyteoffset": str(data.offset)}
            with self._slots:
                status = self._post_chunk(upload, form, path.name, data)
            if status.get("state") == "complete":
                complete.append(status)
            advance(data.length)

        if len(indexes) == 1:  # a small file: on this thread's own connection
            send(indexes[0])
        else:
            futures = [self._senders.submit(send, index) for index in indexes]
            done, _ = wait(futures, return_when=FIRST_EXCEPTION)
            stop.set()
            for future in futures:
                future.cancel()  # those not started: the others' turn
            wait(futures)
            for future in done:
                future.result()  # raises the first failure
        return complete[0] if complete else None

    def _post_chunk(
        self, upload: Resumable, form: dict[str, str], name: str, data: FileRange
    ) -> dict[str, Any]:
        """The chunk as the raw body, its fields in the query: the server parses no form. The
        upload's status as the server answered."""
        query = form | {"filename": name}
        headers = {"Content-Type": "application/octet-stream", **self.terms}  # kept by the first
        reply = self._request("POST", "/upload", upload, params=query, body=[data], headers=headers)
        if reply.status != 200:
            raise UploadFailed(f"chunk {form['dzchunkindex']}: {_reason(reply)}")
        status: dict[str, Any] = reply.json()
        return status

    def _wait_finished(self, upload: Resumable) -> dict[str, Any]:
        deadline = time.monotonic() + FINISH_TIMEOUT
        while time.monotonic() < deadline:
            status = self._status(upload, wait=30)
            if status is None:
                raise UploadFailed("the server no longer knows this upload")
            if status["state"] == "complete":
                return status
            if status["state"] == "expired":
                raise UploadFailed("the server finished the file, but it has already expired")
            if status["state"] not in ("receiving", "assembling"):  # failed, or abandoned
                raise UploadFailed(f"the server could not finish the file: {status.get('error')}")
        raise UploadFailed("the server did not finish the file in time")

    def _request(self, method: str, path: str, upload: Resumable | None, **kwargs: Any) -> Reply:
        """One request, retried with exponential backoff on network errors and busy answers."""
        headers = {"Accept": "application/json", **kwargs.pop("headers", {})}
        if upload is not None:
            headers["Cookie"] = f"{COOKIE}={upload.cookie}"
        for attempt in range(self.retries + 1):
            try:
                reply = self.http.request(method, path, headers, **kwargs)
            except TransportError as exc:
                if attempt == self.retries:
                    raise UploadFailed(f"cannot reach {self.url}: {exc}") from exc
            else:
                if reply.status not in RETRY_STATUSES or attempt == self.retries:
                    return reply
            time.sleep(self.backoff * 2**attempt)
        raise AssertionError("unreachable")


def terms_headers(password: str | None, max_downloads: int | None) -> dict[str, str]:
    """The headers that give uploads a download password and a most number of downloads; the
    password percent-encoded as UTF-8 (a header carries only Latin-1)."""
    found = {}
    if password is not None:
        found["Pyfiledrop-Download-Password"] = quote(password, safe="")
    if max_downloads is not None:
        found["Pyfiledrop-Max-Downloads"] = str(max_downloads)
    return found


def _reason(reply: Reply) -> str:
    try:
        message = reply.json().get("error")
    except (ValueError, AttributeError):
        message = None
    return f"{reply.status} {message or reply.reason}"


def _hash_file(path: Path, out: dict[str, str]) -> None:
    with open(path, "rb") as f:
        out["sha256"] = hashlib.file_digest(f, "sha256").hexdigest()
