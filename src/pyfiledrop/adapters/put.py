"""Plain PUT uploads, as transfer.sh users type them: `curl -T film.mkv https://host/` (curl
sends PUT /film.mkv) or PUT /upload/<name>. The body is the file; it is stored as it arrives
and finished at its end. `?expire=1h` asks for a shorter life, `?path=` gives the file's
relative path in a folder, as on POST /upload; the download terms come as headers
(`core/sharing.py`).

The size limit is kept as bytes arrive (the stream sink refuses the first byte too many), and a
declared Content-Length above it is refused before the body is read: curl, sending
`Expect: 100-continue`, then sends nothing at all. Like a tus PATCH, the body must keep coming:
every `pace_bytes` within the request timeout, else 408.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from pyfiledrop import errors
from pyfiledrop.adapters.body import Body
from pyfiledrop.adapters.reply import Describe, finished
from pyfiledrop.core.accounts import Uploader
from pyfiledrop.core.service import UploadService
from pyfiledrop.core.sharing import terms_of


def routes(
    service: UploadService,
    describe: Describe,
    uploader_of: Callable[[Request], Uploader],
    pace: tuple[float, int],
) -> list[Route]:
    async def put(request: Request) -> Response:
        name = request.path_params.get("name", "")
        if not name:
            raise errors.BAD_REQUEST("Name the file in the URL: PUT /<name>, as curl -T does.")
        declared = request.headers.get("content-length", "")
        limit = service.limits.max_size
        if declared.isdigit() and int(declared) > limit:
            raise errors.TOO_LARGE(
                f"The file is {declared} bytes; this server accepts at most {limit}."
            )
        query = request.query_params
        content_type = request.headers.get("content-type", "")
        terms = terms_of(request.headers)
        try:
            done = await service.receive_plain(
                uploader_of(request), name, content_type, Body(request, pace),
                query.get("expire"), query.get("path"), terms,
            )  # fmt: skip
        except ClientDisconnect:
            return Response(status_code=400)  # nobody is left to read it
        except TimeoutError:
            seconds, size = pace
            raise errors.TIMEOUT(f"No {size} bytes arrived within {seconds:g} s.") from None
        return await finished(request, done, describe)

    return [
        Route("/upload/{name}", put, methods=["PUT"]),
        Route("/{name}", put, methods=["PUT"]),
        Route("/", put, methods=["PUT"]),
    ]
