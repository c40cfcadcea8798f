"""The import rules that keep the layers apart (see README "How the code is laid out")."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).parent.parent / "src" / "pyfiledrop"
BACK_ENDS = ("pyfiledrop.storage", "pyfiledrop.meta")


def imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def modules(folder: str = "") -> list[Path]:
    return sorted((PACKAGE / folder).rglob("*.py"))


def test_core_knows_no_http_sql_or_back_end() -> None:
    for path in modules("core"):
        for name in imports(path):
            if name.startswith("pyfiledrop"):
                assert name.startswith(("pyfiledrop.core", "pyfiledrop.errors")) or name == (
                    "pyfiledrop"
                ), f"{path.name} imports {name}"
            forbidden = ("starlette", "sqlite3", "psycopg", "psycopg_pool", "uvicorn")
            assert name.split(".")[0] not in forbidden, path.name


def test_only_compose_picks_concrete_back_ends() -> None:
    for path in modules():
        if path.name == "compose.py" or path.relative_to(PACKAGE).parts[0] in ("storage", "meta"):
            continue
        for name in imports(path):
            assert not name.startswith(BACK_ENDS), f"{path.relative_to(PACKAGE)} imports {name}"


def test_adapters_do_not_import_each_other_or_the_web_layer() -> None:
    for path in modules("adapters"):
        for name in imports(path):
            assert not name.startswith("pyfiledrop.web"), path.name
            if name.startswith("pyfiledrop.adapters."):
                shared = (
                    "pyfiledrop.adapters.multipart", "pyfiledrop.adapters.body",
                    "pyfiledrop.adapters.reply",
                )  # fmt: skip
                assert name in shared, f"{path.name} imports {name}"


def test_only_the_s3_back_end_imports_the_sdk() -> None:
    for path in modules():
        if path.relative_to(PACKAGE).as_posix().startswith("storage/s3/"):
            continue
        for name in imports(path):
            assert name.split(".")[0] not in ("boto3", "botocore"), path.name
