"""`pip install .` brings what the code imports: no more (httpx, uvicorn's extras), no less."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
SERVER = ROOT / "src" / "pyfiledrop" / "web" / "server.py"
LOADED_BY_NAME = {"uvloop"}  # uvicorn imports it for loop="uvloop" (web/server.py)
FIRST_PARTY = {"pyfiledrop", "tests"}


def canonical(name: str) -> str:
    """A distribution's name as pip compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def required(requirements: list[str]) -> set[str]:
    """The distributions named by requirements such as "psycopg[binary]>=3.2"."""
    return {canonical(re.split(r"[\s\[<>=!~;]", text)[0]) for text in requirements}


def imported(folder: Path) -> set[str]:
    """The distributions whose modules the .py files under `folder` import, lazily or not."""
    modules = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                modules.add(node.module.split(".")[0])
    modules -= set(sys.stdlib_module_names) | FIRST_PARTY
    owners = packages_distributions()
    missing = {module for module in modules if module not in owners}
    assert not missing, f"{folder.name}/ imports modules no installed distribution provides"
    return {canonical(owners[module][0]) for module in modules}


def test_runtime_dependencies_are_what_src_imports() -> None:
    s3 = required(PROJECT["optional-dependencies"]["s3"]) | {"botocore"}  # boto3 brings botocore
    assert imported(ROOT / "src") - s3 == required(PROJECT["dependencies"]) - LOADED_BY_NAME
    assert 'loop="uvloop"' in SERVER.read_text()


def test_tests_import_only_what_the_test_extra_installs() -> None:
    extras = PROJECT["optional-dependencies"]
    installed = required(PROJECT["dependencies"] + extras["test"] + extras["s3"]) | {"botocore"}
    assert imported(ROOT / "tests") <= installed


def test_the_server_does_not_load_the_upload_clients_libraries() -> None:
    """rich draws the upload command's progress bars; the server never needs it."""
    code = (
        "import sys, pyfiledrop.cli, pyfiledrop.compose, pyfiledrop.web.app, pyfiledrop.web.server;"
        "print(sorted({name.split('.')[0] for name in sys.modules} & {'rich', 'httpx'}))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
