"""GET /openapi.json: an OpenAPI 3.1 description of every JSON route of the app, written by hand
next to the routes it describes (tests/web/test_openapi.py validates it and checks that every
JSON route of the app is in it). The tus protocol under /files/ has a specification of its own,
linked from here instead of described again.

Paths are relative to the app's own address, its sub-path (--root-path, X-Forwarded-Prefix)
included.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import version
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

JSON = "application/json"
TUS_SPEC = "https://tus.io/protocols/resumable-upload"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _answer(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {"description": description}
    if schema is not None:
        found["content"] = {JSON: {"schema": schema}}
    return found


def _errors(*statuses: int) -> dict[str, Any]:
    return {str(status): {"$ref": "#/components/responses/Error"} for status in statuses}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema,
            "description": description}  # fmt: skip


_NULLABLE_NUMBER = {"type": ["number", "null"]}
_UPLOAD_ID = {"name": "upload_id", "in": "path", "required": True,
              "schema": {"type": "string", "pattern": "^[0-9a-f]{32}$"}}  # fmt: skip
_CLIENT_ID = {"name": "client_id", "in": "path", "required": True,
              "schema": {"type": "string"},
              "description": "The id the client chose (Dropzone's dzuuid); for a PUT, the "
                             "file's name."}  # fmt: skip
_NAME = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"},
         "description": "The file's name."}  # fmt: skip
# {}: nothing, while uploads are open (no --upload-password and no accounts)
_UPLOADER: list[dict[str, list[str]]] = [{}, {"session": []}, {"basic": []}, {"bearer": []}]
_ADMIN: list[dict[str, list[str]]] = [{"adminSession": []}, {"basic": []}, {"bearer": []}]

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object", "required": ["error", "code"],
        "properties": {"error": {"type": "string", "description": "For a person."},
                       "code": {"type": "string", "description": "Stable, for programs."}},
    },
    "Upload": {
        "type": "object", "required": ["id", "state", "filename", "size"],
        "description": "An upload as its owner sees it.",
        "properties": {
            "id": {"type": ["string", "null"]},
            "state": {"type": "string", "enum": ["receiving", "assembling", "complete",
                                                 "failed", "abandoned", "expired", "deleted"]},
            "filename": {"type": "string"},
            "size": {"type": ["integer", "null"]},
            "chunk_count": {"type": "integer"},
            "received": {"type": "array", "items": {"type": "integer"}},
            "sha256": {"type": "string"},
            "expires_at": _NULLABLE_NUMBER,
            "download_url": {"type": "string"},
            "removed_at": _NULLABLE_NUMBER,
            "error": {"type": ["string", "null"]},
        },
    },
    "Page": {
        "type": "object", "required": ["uploads", "next"],
        "properties": {"uploads": {"type": "array", "items": _ref("Upload")},
                       "next": {"type": ["string", "null"], "description": "Give as `after`."}},
    },
    "AdminUpload": {
        "type": "object", "required": ["id", "state", "name", "size", "owner"],
        "properties": {
            "id": {"type": "string"}, "state": {"type": "string"}, "name": {"type": "string"},
            "size": {"type": ["integer", "null"]}, "owner": {"type": "string"},
            "account": {"type": ["string", "null"]}, "address": {"type": ["string", "null"]},
            "protocol": {"type": "string"}, "created_at": {"type": "number"},
            "updated_at": {"type": "number"}, "expires_at": _NULLABLE_NUMBER,
            "past_expiry": {"type": "boolean"}, "sha256": {"type": ["string", "null"]},
            "removed_at": _NULLABLE_NUMBER, "freed_bytes": {"type": ["integer", "null"]},
            "error": {"type": ["string", "null"]}, "received_bytes": {"type": "integer"},
            "percent": _NULLABLE_NUMBER, "bytes_per_second": {"type": "integer"},
            "download_url": {"type": "string"},
        },
    },
    "AdminPage": {
        "type": "object", "required": ["now", "uploads", "next"],
        "properties": {"now": {"type": "number"},
                       "uploads": {"type": "array", "items": _ref("AdminUpload")},
                       "next": {"type": ["string", "null"]}},
    },
    "Summary": {
        "type": "object",
        "required": ["now", "states", "stored_bytes", "content_bytes", "saved_bytes", "days"],
        "properties": {
            "now": {"type": "number"},
            "states": {"type": "object", "additionalProperties": {"type": "integer"}},
            "stored_bytes": {"type": "integer"}, "content_bytes": {"type": "integer"},
            "saved_bytes": {"type": "integer"},
            "days": {"type": "array", "items": {"type": "object", "properties": {
                "start": {"type": "number"}, "uploads": {"type": "integer"},
                "bytes": {"type": "integer"}}}},
        },
    },
    "Health": {
        "type": "object", "required": ["status", "database", "storage"],
        "properties": {"status": {"type": "string", "enum": ["ok", "unhealthy"]},
                       "database": {"type": "string"}, "storage": {"type": "string"},
                       "free_bytes": {"type": "integer"}},
    },
}  # fmt: skip

_PUT = {
    "summary": "A whole file as the body (curl -T)", "security": _UPLOADER,
    "description": "The link as one line of text/plain, or the upload as JSON when Accept names "
                   "application/json. A declared length over the limit is refused before the "
                   "body is read.",
    "parameters": [_query("expire", {"type": "string"}, "How long to keep the file."),
                   _query("path", {"type": "string"}, "The file's relative path in a folder.")],
    "requestBody": {"content": {"application/octet-stream": {}}},
    "responses": {"200": _answer("The finished upload (JSON when asked).", _ref("Upload")),
                  **_errors(400, 401, 408, 413, 429, 503, 507)},
}  # fmt: skip

_CHUNK_FIELDS = [
    _query(name, {"type": kind}, text)
    for name, kind, text in (
        ("dzuuid", "string", "The upload's id, chosen by the client (a UUID)."),
        ("dzchunkindex", "integer", "This chunk's index, from 0."),
        ("dztotalchunkcount", "integer", "How many chunks the file has."),
        ("dzchunksize", "integer", "Bytes per chunk (the last may be shorter)."),
        ("dztotalfilesize", "integer", "The file's size in bytes."),
        ("dzchunkbyteoffset", "integer", "Where this chunk starts in the file."),
        ("filename", "string", "The file's name."),
        ("expire", "string", "How long to keep the file: 30s, 15m, 12h, 7d, or 0."),
    )
]

PATHS: dict[str, Any] = {
    "/upload": {"post": {
        "summary": "Send a chunk, or a whole file", "security": _UPLOADER,
        "description": "Dropzone's chunks as multipart/form-data (the dz* fields, then the file),"
                       " or raw bytes with the fields in the query; without dz* fields, a whole "
                       "file. Refused before anything is stored: 429 too many unfinished "
                       "uploads (per owner, per address, or the account's quota), 507 the "
                       "account's quota of bytes or the server's free space.",
        "parameters": _CHUNK_FIELDS,
        "requestBody": {"content": {"multipart/form-data": {}, "application/octet-stream": {}}},
        "responses": {"200": _answer("The upload as this chunk left it.", _ref("Upload")),
                      **_errors(400, 401, 403, 409, 410, 413, 429, 503, 507)},
    }},
    "/upload/known": {"post": {
        "summary": "Make an upload from content the caller already uploaded", "security": _UPLOADER,
        "parameters": [*_CHUNK_FIELDS, _query("sha256", {"type": "string"}, "The SHA-256.")],
        "responses": {"200": _answer("The upload, complete.", _ref("Upload")),
                      **_errors(400, 401, 404, 507)},
    }},
    "/upload/{client_id}": {
        "parameters": [_CLIENT_ID],
        "get": {
            "summary": "An upload's state and received chunks", "security": _UPLOADER,
            "parameters": [_query("wait", {"type": "integer", "maximum": 30},
                                  "Hold the answer up to this many seconds until it finishes.")],
            "responses": {"200": _answer("The upload.", _ref("Upload")),
                          **_errors(400, 401, 403, 404)},
        },
        "delete": {
            "summary": "Cancel an upload and remove its bytes", "security": _UPLOADER,
            "responses": {"204": _answer("Removed."), **_errors(401, 403, 404)},
        },
        "put": _PUT,
    },
    "/{name}": {"parameters": [_NAME], "put": _PUT},
    "/uploads": {"get": {
        "summary": "The caller's own uploads, newest first", "security": _UPLOADER,
        "description": "Own: those of the owner cookie or Pyfiledrop-Owner header, or of the "
                       "account signed in with.",
        "parameters": [_query("after", {"type": "string"}, "`next` of the page before."),
                       _query("limit", {"type": "integer", "minimum": 1, "maximum": 100}, "")],
        "responses": {"200": _answer("A page.", _ref("Page")), **_errors(400, 401)},
    }},
    "/healthz": {"get": {
        "summary": "Whether this process can take uploads", "security": [{}],
        "responses": {"200": _answer("Healthy.", _ref("Health")),
                      "503": _answer("Unhealthy, and why.", _ref("Health"))},
    }},
    "/admin/api/uploads": {"get": {
        "summary": "A page of every upload", "security": _ADMIN,
        "parameters": [
            _query("state", {"type": "string"}, "Only this state (repeatable)."),
            _query("q", {"type": "string", "maxLength": 200}, "Name contains."),
            _query("sort", {"type": "string", "enum": ["created", "updated", "size", "name"]},
                   ""),
            _query("order", {"type": "string", "enum": ["asc", "desc"]}, ""),
            _query("after", {"type": "string"}, "`next` of the page before."),
            _query("limit", {"type": "integer", "minimum": 1, "maximum": 100}, ""),
        ],
        "responses": {"200": _answer("A page.", _ref("AdminPage")),
                      **_errors(400, 401, 403, 429)},
    }},
    "/admin/api/summary": {"get": {
        "summary": "Counts per state, bytes stored and saved, uploads per day", "security": _ADMIN,
        "responses": {"200": _answer("The summary.", _ref("Summary")), **_errors(401, 403, 429)},
    }},
    "/admin/api/uploads/{upload_id}/delete": {"post": {
        "summary": "Remove an upload and its bytes", "security": _ADMIN,
        "parameters": [_UPLOAD_ID],
        "requestBody": {"required": True, "content": {JSON: {"schema": {"type": "object"}}}},
        "responses": {"200": _answer("Removed.", {"type": "object", "properties": {
            "deleted": {"type": "string"}}}), **_errors(401, 403, 404, 415, 429)},
    }},
    "/admin/api/uploads/{upload_id}/expiry": {"post": {
        "summary": "Give a finished file a new expiry", "security": _ADMIN,
        "parameters": [_UPLOAD_ID],
        "requestBody": {"required": True, "content": {JSON: {"schema": {
            "type": "object", "required": ["expires_at"],
            "properties": {"expires_at": _NULLABLE_NUMBER}}}}},
        "responses": {"200": _answer("The upload now.", _ref("AdminUpload")),
                      **_errors(400, 401, 403, 404, 409, 410, 415, 429)},
    }},
    "/admin/api/abandoned/remove": {"post": {
        "summary": "Forget every abandoned upload (their bytes are already freed)",
        "security": _ADMIN,
        "requestBody": {"required": True, "content": {JSON: {"schema": {"type": "object"}}}},
        "responses": {"200": _answer("How many.", {"type": "object", "properties": {
            "removed": {"type": "integer"}}}), **_errors(401, 403, 415, 429)},
    }},
}  # fmt: skip


@cache
def document() -> dict[str, Any]:
    """The OpenAPI document (made once)."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "pyfiledrop",
            "version": version("pyfiledrop"),
            "description": "Upload and share very large files. Resumable uploads over tus "
            "(under /files/) follow the tus protocol, linked below, and take the same "
            "credentials as the routes here.",
        },
        "externalDocs": {"description": "The tus protocol 1.0.0 (/files/)", "url": TUS_SPEC},
        "paths": PATHS,
        "components": {
            "schemas": SCHEMAS,
            "responses": {"Error": _answer("Refused, and why.", _ref("Error"))},
            "securitySchemes": {
                "basic": {
                    "type": "http",
                    "scheme": "basic",
                    "description": "An account's name and password; the upload or admin "
                    "password with any name.",
                },
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An account's token (pyfiledrop user token add).",
                },
                "session": {"type": "apiKey", "in": "cookie", "name": "pyfiledrop_session"},
                "adminSession": {"type": "apiKey", "in": "cookie", "name": "pyfiledrop_admin"},
            },  # fmt: skip
        },
    }


async def serve(request: Request) -> Response:
    return JSONResponse(document())
