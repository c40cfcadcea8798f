"""The HTTP side of Dropzone uploads: POST /upload (chunks and plain uploads), the status call,
asking by hash and the page's cancel. `dropzone.py` reads the requests; these routes answer with
the upload as `describe` shows it (an `UploadError` raised here becomes the app's JSON refusal).
A plain upload (`curl -F file=@f`) is answered with its link as text unless the client asks for
JSON (`reply.py`); a chunk always with JSON."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pyfiledrop import errors
from pyfiledrop.adapters import dropzone
from pyfiledrop.adapters.body import Body
from pyfiledrop.adapters.reply import finished
from pyfiledrop.core.accounts import Uploader
from pyfiledrop.core.service import UploadService
from pyfiledrop.core.sharing import terms_of

_FORM_SLACK = 64 * 1024  # room for the multipart headers and dz* fields around a chunk
_MAX_WAIT = 30  # seconds a status call may be held open
_SECONDS = re.compile(r"^[0-9]{1,9}$")

Describe = Callable[..., Awaitable[dict[str, Any]]]  # (request, upload, with_chunks=False)


def routes(
    service: UploadService,
    describe: Describe,
    owner_of: Callable[[Request], str],
    uploader_of: Callable[[Request], Uploader],
    timeout: float,
) -> list[Route]:
    async def upload(request: Request) -> Response:
        declared = request.headers.get("content-length")
        limit = service.limits.max_size + _FORM_SLACK
        body = Body(request)
        owner = uploader_of(request)
        terms = terms_of(request.headers)  # read on every chunk, kept by the first
        try:
            if declared and declared.isdigit() and int(declared) > limit:
                raise errors.TOO_LARGE(f"The request is larger than the {limit} bytes allowed.")
            content_type = request.headers.get("content-type", "")
            async with asyncio.timeout(timeout):
                if dropzone.is_raw(request.query_params):
                    done = await dropzone.receive_raw(
                        service, owner, request.query_params, content_type, body, terms
                    )
                else:
                    done = await dropzone.receive(service, owner, content_type, body, terms)
        except ClientDisconnect:
            return Response(status_code=400)  # nobody is left to read it
        except TimeoutError:
            raise errors.TIMEOUT(f"The chunk took longer than {timeout:g} s.") from None
        if done.protocol == "plain":  # a whole file: its link as text, for curl -F
            return await finished(request, done, describe)
        return JSONResponse(await describe(request, done))

    async def status(request: Request) -> Response:
        """`?wait=N` holds the answer up to N s (at most 30) until the file is finished."""
        found = await service.owned(owner_of(request), request.path_params["client_id"])
        wait = request.query_params.get("wait", "0")
        if not _SECONDS.match(wait):  # str.isdigit() is true for "²", which int() refuses
            raise errors.BAD_REQUEST("wait must be a whole number of seconds.")
        if int(wait) > 0:
            found = await service.settled(found, min(int(wait), _MAX_WAIT))
        return JSONResponse(await describe(request, found, with_chunks=True))

    async def known(request: Request) -> Response:
        """Finish an upload at once from content the asker already uploaded (404: send it)."""
        terms = terms_of(request.headers)
        done = await dropzone.known(service, uploader_of(request), request.query_params, terms)
        return JSONResponse(await describe(request, done))

    async def remove(request: Request) -> Response:
        """The page's cancel: the upload and its bytes are removed, whatever its state (204).
        Only its creator may; this checks the cookie without giving out a new one."""
        found = await service.owned(str(request.state.owner), request.path_params["client_id"])
        await service.delete(found)
        return Response(status_code=204)

    return [
        Route("/upload", upload, methods=["POST"]),
        Route("/upload/known", known, methods=["POST"]),
        Route("/upload/{client_id}", status),
        Route("/upload/{client_id}", remove, methods=["DELETE"]),
    ]
