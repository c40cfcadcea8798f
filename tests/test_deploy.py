"""The deployment files the README points to: deploy/pyfiledrop.service and the Dockerfile.

The unit is checked with `systemd-analyze verify` (scripts/test.sh installs systemd for it). The
image is built and run where Docker works: the one test here that skips, saying why, elsewhere.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sysconfig
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from pyfiledrop.cli import main

ROOT = Path(__file__).parent.parent
UNIT = ROOT / "deploy" / "pyfiledrop.service"
DOCKERFILE = ROOT / "Dockerfile"
UNIT_EXEC = "ExecStart=/opt/pyfiledrop/bin/pyfiledrop "


def run(*args: str | Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout)


def test_deployment_files_set_only_real_settings() -> None:
    """A PYFILEDROP_* variable the CLI does not read would be ignored without a word."""
    known = {p.envvar for c in main.commands.values() for p in c.params if p.envvar}
    for path in (UNIT, DOCKERFILE):
        named = set(re.findall(r"PYFILEDROP_[A-Z0-9_]+", path.read_text()))
        assert named and named <= known, f"{path.name}: {sorted(named - known)}"


def test_systemd_unit_verifies(tmp_path: Path) -> None:
    """verify needs ExecStart's program to exist: the copy runs this environment's pyfiledrop."""
    scripts = f"{sysconfig.get_path('scripts')}{os.pathsep}{os.environ['PATH']}"
    installed = shutil.which("pyfiledrop", path=scripts)
    assert installed, "pyfiledrop is not installed"
    text = UNIT.read_text()
    assert text.count(UNIT_EXEC) == 1
    copy = tmp_path / UNIT.name
    copy.write_text(text.replace(UNIT_EXEC, f"ExecStart={installed} "))
    assert shutil.which("systemd-analyze"), "systemd-analyze is missing: apt-get install systemd"
    result = run("systemd-analyze", "verify", "--recursive-errors=no", copy)
    # A warning (an unknown key, a bad value) may leave the exit status 0: it fails the test too.
    about_unit = [line for line in result.stderr.splitlines() if UNIT.name in line]
    assert result.returncode == 0 and not about_unit, result.stderr


def last_line(text: str) -> str:
    return (text.strip().splitlines() or [""])[-1]


def docker_unavailable() -> str | None:
    """Why the image cannot be built here (no Docker, no daemon, no base image), or None."""
    if shutil.which("docker") is None:
        return "no docker command"
    info = run("docker", "info")
    if info.returncode != 0:
        return f"`docker info` failed: {last_line(info.stderr)}"
    base = re.search(r"^FROM\s+(\S+)", DOCKERFILE.read_text(), re.MULTILINE)
    assert base
    pull = run("docker", "pull", "-q", base[1], timeout=600)
    if pull.returncode != 0:
        return f"cannot pull {base[1]}: {last_line(pull.stderr)}"
    return None


@pytest.fixture
def container() -> Iterator[str]:
    """A container of a freshly built image, its port published on 127.0.0.1, removed after."""
    reason = docker_unavailable()
    if reason:
        pytest.skip(f"Docker is not available here: {reason}")
    name = f"pyfiledrop-test-{uuid.uuid4().hex[:8]}"
    build = run("docker", "build", "-q", "-t", name, ROOT, timeout=900)
    assert build.returncode == 0, build.stderr
    try:
        started = run(
            "docker", "run", "-d", "--name", name, "-p", "127.0.0.1::16273",
            "--health-interval", "1s", name,
        )  # fmt: skip
        assert started.returncode == 0, started.stderr
        yield name
    finally:
        run("docker", "rm", "-f", "-v", name)
        run("docker", "rmi", "-f", name)


def state(name: str) -> dict[str, Any]:
    result = run("docker", "inspect", name)
    assert result.returncode == 0, result.stderr
    found: dict[str, Any] = json.loads(result.stdout)[0]["State"]
    return found


def test_docker_image_serves_the_page_as_a_plain_user(container: str) -> None:
    port = run("docker", "port", container, "16273/tcp").stdout.split(":")[-1].strip()
    for _ in range(120):  # the health check runs every second; its first pass means it serves
        now = state(container)
        if now["Health"]["Status"] == "healthy" or not now["Running"]:
            break
        time.sleep(0.5)
    assert now["Health"]["Status"] == "healthy", run("docker", "logs", container).stderr
    page = httpx.get(f"http://127.0.0.1:{port}/")
    assert page.status_code == 200 and "dropzone" in page.text
    assert run("docker", "exec", container, "id", "-u").stdout.strip() != "0"
    data = run("docker", "exec", container, "ls", "/data/storage").stdout.split()
    assert "pyfiledrop.sqlite3" in data  # the database is on the volume
    stopped = time.monotonic()
    assert run("docker", "stop", "-t", "30", container).returncode == 0
    assert time.monotonic() - stopped < 25  # SIGTERM stopped it, no SIGKILL needed
    # uvicorn raises SIGTERM again once it has stopped: 143, or 0 where PID 1 ignores it; not 137
    assert state(container)["ExitCode"] in (0, 143)
