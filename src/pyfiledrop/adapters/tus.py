"""The tus 1.0.0 resumable upload protocol at /files/.

Core (HEAD, PATCH, OPTIONS) and the extensions creation, creation-with-upload,
creation-defer-length, termination, checksum, expiration and concatenation. Upload URLs carry the
server's random upload id: knowing the URL is what lets a client resume (tus clients keep no
cookies), so it is the capability. Errors are plain text with the status the specification names.

Expiration: an unfinished upload expires `--incomplete-ttl` after it last received bytes
(`Upload-Expires`), and is 410 from then on. A finished upload lives as long as any file
(`--expire`, or less if the Upload-Metadata key `expire` asks, such as `1h`); after that its HEAD
and GET are 410 too.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from email.utils import formatdate
from urllib.parse import urlparse

from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from pyfiledrop import errors
from pyfiledrop.adapters.body import Body
from pyfiledrop.core.accounts import Uploader
from pyfiledrop.core.model import State, Upload
from pyfiledrop.core.service import UploadService
from pyfiledrop.core.sharing import terms_of
from pyfiledrop.logs import note_refusal

VERSION = "1.0.0"
EXTENSIONS = "creation,creation-with-upload,creation-defer-length,termination,checksum,expiration"
CHECKSUMS = {"md5": hashlib.md5, "sha1": hashlib.sha1, "sha256": hashlib.sha256}
OCTET_STREAM = "application/offset+octet-stream"
CORS_HEADERS = {
    "Access-Control-Allow-Methods": "POST, HEAD, PATCH, OPTIONS, GET, DELETE",
    "Access-Control-Allow-Headers": (
        "Authorization, Origin, X-Requested-With, X-Request-ID, X-HTTP-Method-Override, "
        "Content-Type, Upload-Length, Upload-Offset, Tus-Resumable, Upload-Metadata, "
        "Upload-Defer-Length, Upload-Concat, Upload-Checksum, Pyfiledrop-Owner, "
        "Pyfiledrop-Download-Password, Pyfiledrop-Max-Downloads"
    ),
    "Access-Control-Max-Age": "86400",
}
EXPOSED = (
    "Upload-Offset, Location, Upload-Length, Tus-Version, Tus-Resumable, Tus-Max-Size, "
    "Tus-Extension, Upload-Metadata, Upload-Defer-Length, Upload-Concat, Upload-Expires, "
    "Pyfiledrop-Download-Url"
)
_NUMBER = re.compile(r"^[0-9]{1,19}$")
_METADATA_KEY = re.compile(r"^[!-+\--~]+$")  # printable ASCII without space and comma
_MAX_METADATA = 8192
MAX_PARTS = 256  # partial uploads one final upload may name

FileResponder = Callable[[Request, Upload], Awaitable[Response]]
LinkMaker = Callable[[Request, Upload], str]
OwnerOf = Callable[[Request], Uploader]  # who makes an upload with this request


def parse_metadata(header: str) -> dict[str, str]:
    """Upload-Metadata: comma-separated `key base64value` pairs (the value may be absent)."""
    if len(header) > _MAX_METADATA:
        raise errors.BAD_REQUEST("Upload-Metadata is too long.")
    found: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in header.split(","))):
        key, _, value = pair.partition(" ")
        if not _METADATA_KEY.match(key) or key in found:
            raise errors.BAD_REQUEST(f"Upload-Metadata has a bad or repeated key: {key[:40]!r}.")
        try:
            found[key] = base64.b64decode(value.strip(), validate=True).decode("utf-8", "replace")
        except binascii.Error as exc:
            raise errors.BAD_REQUEST(f"Upload-Metadata value of {key!r} is not base64.") from exc
    return found


def plain_error(exc: errors.UploadError, method: str = "GET") -> Response:
    """A tus error: plain text (no body for HEAD) with the status the specification names."""
    note_refusal(exc)
    response = PlainTextResponse("" if method == "HEAD" else exc.message, status_code=exc.status)
    response.headers["Tus-Resumable"] = VERSION
    return response


def _number(request: Request, header: str) -> int | None:
    value = request.headers.get(header)
    if value is None:
        return None
    if not _NUMBER.match(value.strip()):
        raise errors.BAD_REQUEST(f"{header} must be a whole number of bytes.")
    return int(value)


class Tus:
    """The /files/ endpoints, bound to the stream uploads of the core."""

    def __init__(
        self,
        service: UploadService,
        *,
        max_size: int,
        timeout: float,
        pace_bytes: int,
        allow_downloads: bool,
        download: FileResponder,
        link: LinkMaker,
        location: LinkMaker,
        owner: OwnerOf,
    ) -> None:
        self.service = service
        self.extensions = EXTENSIONS + (",concatenation" if service.concatenation else "")
        self.max_size = max_size
        self.pace = (timeout, pace_bytes)  # each pace_bytes of a body within timeout s
        self.allow_downloads = allow_downloads
        self.download = download
        self.link = link
        self.location = location
        self.owner = owner

    def routes(self) -> list[Route]:
        return [
            Route("/files/", self.collection, methods=["POST", "OPTIONS"]),
            Route(
                "/files/{upload_id}",
                self.member,
                methods=["GET", "HEAD", "PATCH", "DELETE", "POST", "OPTIONS"],
                name="tus_upload",
            ),
        ]

    # --- dispatch -------------------------------------------------------------------------------

    async def collection(self, request: Request) -> Response:
        if request.method == "OPTIONS":
            return self._headers(request, Response(status_code=204), options=True)
        return await self._answer(request, self._create, "POST")

    async def member(self, request: Request) -> Response:
        if request.method == "OPTIONS":
            return self._headers(request, Response(status_code=204), options=True)
        method = request.method
        if method == "POST":  # the override is for clients that can send nothing but POST
            method = request.headers.get("x-http-method-override", "").upper()
        handler = {
            "HEAD": self._head,
            "PATCH": self._patch,
            "DELETE": self._delete,
            "GET": self._get,
        }.get(method)
        if handler is None:
            return self._headers(request, PlainTextResponse("Method not allowed.", 405))
        return await self._answer(request, handler, method)

    async def _answer(
        self,
        request: Request,
        handler: Callable[[Request], Awaitable[Response]],
        method: str,
    ) -> Response:
        try:
            if method != "GET" and request.headers.get("tus-resumable") != VERSION:
                raise errors.PRECONDITION(f"This server speaks tus {VERSION} only.")
            response = await handler(request)
        except errors.UploadError as exc:
            response = plain_error(exc, request.method)
        except ClientDisconnect:
            response = Response(status_code=400)
        return self._headers(request, response)

    def _headers(self, request: Request, response: Response, options: bool = False) -> Response:
        headers = response.headers
        headers["Tus-Resumable"] = VERSION
        headers["X-Content-Type-Options"] = "nosniff"
        if options or response.status_code == 412:
            headers["Tus-Version"] = VERSION
        if options:
            headers["Tus-Extension"] = self.extensions
            headers["Tus-Max-Size"] = str(self.max_size)
            headers["Tus-Checksum-Algorithm"] = ",".join(CHECKSUMS)
        origin = request.headers.get("origin")
        if origin:
            headers["Access-Control-Allow-Origin"] = origin
            headers["Access-Control-Expose-Headers"] = EXPOSED
            headers["Vary"] = "Origin"
            if options:
                headers.update(CORS_HEADERS)
        return response

    # --- handlers -------------------------------------------------------------------------------

    async def _create(self, request: Request) -> Response:
        self._refuse_long_body(request, self.max_size)
        metadata_header = request.headers.get("upload-metadata")
        metadata = parse_metadata(metadata_header or "")
        filename = metadata.get("filename") or metadata.get("name") or ""
        content_type = metadata.get("filetype") or metadata.get("type") or ""
        expire = metadata.get("expire")
        terms = terms_of(request.headers)  # who may download it, and how often
        concat = request.headers.get("upload-concat", "")
        owner = self.owner(request)
        if concat.startswith("final;"):
            urls = concat[len("final;") :].split()
            if not urls:
                raise errors.BAD_REQUEST("Upload-Concat: final; names no partial uploads.")
            if len(urls) > MAX_PARTS:
                raise errors.BAD_REQUEST(f"A final upload may name at most {MAX_PARTS} partials.")
            parts = [await self.service.stream(self._id_of(url)) for url in urls]
            upload = await self.service.concatenate(
                owner, filename, content_type, metadata_header, concat, parts, expire, terms
            )
            return self._created(request, upload)
        if concat not in ("", "partial"):
            raise errors.BAD_REQUEST("Upload-Concat must be 'partial' or 'final;<urls>'.")
        length = _number(request, "upload-length")
        deferred = request.headers.get("upload-defer-length")
        if deferred is not None and deferred != "1":
            raise errors.BAD_REQUEST("Upload-Defer-Length must be 1.")
        if (length is None) == (deferred is None):
            raise errors.BAD_REQUEST("Send either Upload-Length or Upload-Defer-Length: 1.")
        upload = await self.service.create_stream(
            owner,
            filename,
            content_type,
            length,
            metadata=metadata_header,
            concat=concat or None,
            expire=expire,
            relative_path=metadata.get("relativePath"),  # Uppy's, for a file of a folder
            terms=terms,
        )
        if request.headers.get("content-type") == OCTET_STREAM:
            upload = await self._receive(request, upload, 0)
        elif length == 0:
            upload = await self.service.finish_if_whole(upload)  # an empty file is complete now
        return self._created(request, upload)

    def _created(self, request: Request, upload: Upload) -> Response:
        response = Response(status_code=201)
        response.headers["Location"] = self.location(request, upload)
        self._describe(request, upload, response)
        return response

    def _id_of(self, url: str) -> str:
        path = urlparse(url).path.rstrip("/")
        if not path.startswith("/files/"):
            raise errors.BAD_REQUEST(f"{url[:80]!r} is not an upload of this server.")
        return path.rsplit("/", 1)[1]

    async def _find(self, request: Request) -> Upload:
        """The upload, unless it expired: finished or not, removed by the clean-up or not."""
        service = self.service
        upload = service.kept(await service.stream(request.path_params["upload_id"]))
        if upload.state == State.RECEIVING and service.clock.now() > service.idle_until(upload):
            raise errors.GONE("This upload expired before it was finished.")
        return upload

    async def _head(self, request: Request) -> Response:
        upload = await self._find(request)
        response = Response(status_code=200, headers={"Cache-Control": "no-store"})
        self._describe(request, upload, response)
        return response

    async def _patch(self, request: Request) -> Response:
        if request.headers.get("content-type") != OCTET_STREAM:
            raise errors.UNSUPPORTED_MEDIA(f"PATCH bodies must be {OCTET_STREAM}.")
        offset = _number(request, "upload-offset")
        if offset is None:
            raise errors.BAD_REQUEST("Upload-Offset is missing.")
        upload = await self._find(request)
        if (upload.concat or "").startswith("final;"):
            raise errors.NOT_ALLOWED("A concatenated upload cannot be written to.")
        upload = await self._receive(request, upload, offset)
        response = Response(status_code=204)
        self._describe(request, upload, response)
        return response

    async def _receive(self, request: Request, upload: Upload, offset: int) -> Upload:
        length = _number(request, "upload-length")
        if length is not None:
            upload = await self.service.set_length(upload, length)
        algorithm, expected = self._checksum(request)
        digest = CHECKSUMS[algorithm]() if algorithm else None
        room = self.max_size if upload.layout is None else upload.layout.size - offset
        self._refuse_long_body(request, room)
        body = Body(request, pace=self.pace)

        async def data() -> AsyncIterator[bytes]:
            async for piece in body:
                if digest:
                    digest.update(piece)
                yield piece
            if digest and digest.digest() != expected:
                raise errors.CHECKSUM_MISMATCH("The data does not match Upload-Checksum.")

        try:
            return await self.service.append(upload, offset, data(), keep_partial=digest is None)
        except TimeoutError as exc:
            seconds, size = self.pace
            raise errors.TIMEOUT(f"No {size} bytes arrived within {seconds:g} s.") from exc

    @staticmethod
    def _refuse_long_body(request: Request, room: int) -> None:
        """A Content-Length above `room` is refused before a byte of the body is read."""
        declared = _number(request, "content-length")
        if declared is not None and declared > room:
            raise errors.TOO_LARGE(f"The body is longer than the {max(room, 0)} bytes allowed.")

    @staticmethod
    def _checksum(request: Request) -> tuple[str | None, bytes]:
        header = request.headers.get("upload-checksum")
        if header is None:
            return None, b""
        algorithm, _, encoded = header.strip().partition(" ")
        if algorithm not in CHECKSUMS:
            raise errors.BAD_REQUEST(f"Checksum algorithm {algorithm[:20]!r} is not supported.")
        try:
            digest = base64.b64decode(encoded.strip(), validate=True)
        except binascii.Error as exc:
            raise errors.BAD_REQUEST("The Upload-Checksum digest is not base64.") from exc
        if len(digest) != CHECKSUMS[algorithm]().digest_size:
            raise errors.BAD_REQUEST(f"Upload-Checksum has no valid {algorithm} digest.")
        return algorithm, digest

    async def _delete(self, request: Request) -> Response:
        await self.service.terminate(await self.service.stream(request.path_params["upload_id"]))
        return Response(status_code=204)

    async def _get(self, request: Request) -> Response:
        if not self.allow_downloads:
            raise errors.DOWNLOADS_DISABLED("Downloads are turned off on this server.")
        upload = await self._find(request)
        if upload.state != State.COMPLETE:
            raise errors.NOT_FOUND("This upload is not complete.")
        return await self.download(request, upload)

    def _describe(self, request: Request, upload: Upload, response: Response) -> None:
        headers = response.headers
        layout = upload.layout
        headers["Upload-Offset"] = str(upload.offset)
        if layout is None:
            headers["Upload-Defer-Length"] = "1"
        else:
            headers["Upload-Length"] = str(layout.size)
        if upload.metadata:
            headers["Upload-Metadata"] = upload.metadata
        if upload.concat:
            headers["Upload-Concat"] = upload.concat
        if upload.state == State.RECEIVING:
            headers["Upload-Expires"] = formatdate(self.service.idle_until(upload), usegmt=True)
        if upload.state == State.COMPLETE:
            headers["Pyfiledrop-Download-Url"] = self.link(request, upload)
