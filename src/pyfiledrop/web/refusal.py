"""The one JSON shape of a refusal: `{"error": <message for a person>, "code": <stable code>}`
with the error's status, noted for the request log. Dropzone shows `error` next to the file when
the reply is a JSON object."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.responses import JSONResponse

from pyfiledrop import errors
from pyfiledrop.logs import note_refusal


def error_response(
    exc: errors.UploadError, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    note_refusal(exc)
    return JSONResponse(
        {"error": exc.message, "code": exc.code}, status_code=exc.status, headers=headers
    )
