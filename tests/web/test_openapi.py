"""/openapi.json: a valid OpenAPI 3.1 document that describes every JSON route the app has, each
with every method it answers; tus (under /files/) is linked, not described."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
from openapi_spec_validator import validate
from starlette.routing import Route

from pyfiledrop.compose import build_service
from pyfiledrop.config import Settings
from pyfiledrop.web.access import ADMIN, PasswordAccess
from pyfiledrop.web.app import build_app, hooks_for
from pyfiledrop.web.observe import Metrics
from pyfiledrop.web.openapi import TUS_SPEC
from tests.conftest import Server

# Routes that answer something else than JSON: pages (the share page too), forms, files (zips
# too), Prometheus' text, tus (its own specification), and the document itself. `/` also takes
# a PUT without a name, which is always a 400.
NOT_JSON = {
    "/", "/favicon.ico", "/download/{token}", "/metrics", "/sign-in", "/sign-out", "/admin",
    "/admin/sign-in", "/admin/sign-out", "/openapi.json", "/files/", "/files/{upload_id}",
    "/s/{token}", "/s/{token}/delete", "/zip",
}  # fmt: skip


def json_routes(tmp_path: Path) -> dict[str, set[str]]:
    """Path -> methods of every JSON route of the app as `web/app.py` builds it."""
    settings = Settings(storage=tmp_path / "s", chunks=tmp_path / "c")
    settings.storage.mkdir()
    settings.chunks.mkdir()
    service = build_service(settings)
    app = build_app(
        settings, service, Metrics(service), PasswordAccess(None),
        PasswordAccess(None, ADMIN), hooks_for(settings, service),
    )  # fmt: skip
    found: dict[str, set[str]] = {}
    for route in app.routes:
        if isinstance(route, Route) and route.path not in NOT_JSON:
            methods = {m.lower() for m in route.methods or ()} - {"head", "options"}
            found.setdefault(shape(route.path), set()).update(methods)
    return found


def shape(path: str) -> str:
    """A path with its parameters' names left out: OpenAPI holds `/upload/{client_id}` and
    `/upload/{name}` (PUT) to be one path, described once."""
    return re.sub(r"\{[^}]*\}", "{}", path)


def test_the_document_is_valid_and_describes_every_json_route(
    server: Server, tmp_path: Path
) -> None:
    reply = httpx.get(server.url + "/openapi.json")
    assert reply.status_code == 200 and reply.headers["content-type"] == "application/json"
    document: dict[str, Any] = reply.json()
    validate(document)  # raises on anything OpenAPI 3.1 does not allow
    assert document["openapi"] == "3.1.0"
    assert document["externalDocs"]["url"] == TUS_SPEC
    routes = json_routes(tmp_path)
    assert {"/upload", "/uploads", "/admin/api/uploads"} <= set(routes)  # the walk finds them
    paths = {shape(path): path for path in document["paths"]}
    for path, methods in routes.items():
        assert path in paths, f"{path} is not described"
        described = set(document["paths"][paths[path]]) - {"parameters"}
        assert methods == described, f"{path}: the app answers {methods}, described {described}"
    extra = set(paths) - set(routes)
    assert not extra, f"described but not in the app: {extra}"
