"""Import rules for the HTTP edge: one module runs uvicorn, and the adapters know nothing of it."""

from __future__ import annotations

from tests.test_layers import PACKAGE, imports, modules


def test_only_web_server_imports_uvicorn() -> None:
    users = {
        str(path.relative_to(PACKAGE))
        for path in modules()
        if any(name.split(".")[0] in ("uvicorn", "httptools") for name in imports(path))
    }
    assert users == {"web/server.py"}
