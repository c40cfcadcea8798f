"""The command line: the seed's flags, environment variables, and errors without tracebacks."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import Server, free_port

SEED_FLAGS = [
    "--port", "--host", "--storage", "--chunks", "--max-size", "--timeout", "--chunk-size",
    "--disable-parallel-chunks", "--disable-force-chunking", "--allow-downloads", "--dz-cdn",
    "--dz-version",
]  # fmt: skip


def pyfiledrop(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pyfiledrop", *args],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )


def test_help_lists_every_seed_flag() -> None:
    result = pyfiledrop("serve", "--help")
    assert result.returncode == 0
    for flag in SEED_FLAGS:
        assert flag in result.stdout
    for short in ("-p,", "-s,", "-c,", "-a,"):
        assert short in result.stdout


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["--port", "-1"], "--port"),
        (["--port", "http"], "--port"),
        (["--timeout", "0"], "--timeout"),
        (["--chunk-size", "-5"], "--chunk-size"),
        (["--max-size", "lots"], "--max-size"),
        (["--chunk-size", "100", "--max-chunk-size", "10"], "--chunk-size"),
        (["--storage", "/etc/hostname/inside"], "--storage"),
        (["--chunks", "/proc/no/such"], "--chunks"),
    ],
)
def test_invalid_values_exit_2_naming_the_flag(args: list[str], flag: str, tmp_path: Path) -> None:
    defaults = ["-s", str(tmp_path / "s"), "-c", str(tmp_path / "c")]
    for command in (["serve"], []):  # the default command takes the same flags
        result = pyfiledrop(*command, *defaults, *args)
        assert result.returncode == 2, result.stderr
        assert flag in result.stderr
        assert "Traceback" not in result.stderr


def test_environment_variables_set_flags(tmp_path: Path) -> None:
    result = pyfiledrop("serve", env={"PYFILEDROP_TIMEOUT": "0"}, cwd=tmp_path)
    assert result.returncode == 2
    assert "--timeout" in result.stderr


def test_seed_command_line_serves_and_prints_the_summary(tmp_path: Path) -> None:
    """`pyfiledrop` with the seed's flags and no sub-command runs the server."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pyfiledrop", "--host", "127.0.0.1", "-p", str(port), "-a",
         "--chunk-size", "2000000", "--disable-parallel-chunks"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYFILEDROP_MAX_SIZE": "512"},
    )  # fmt: skip
    try:
        page = None
        for _ in range(200):
            try:
                page = httpx.get(f"http://127.0.0.1:{port}/")
                break
            except httpx.TransportError:
                proc.poll()
                assert proc.returncode is None
                time.sleep(0.05)
        assert page is not None and page.status_code == 200
        assert '"chunkSize": 2000000' in page.text
        assert '"parallelChunks": false' in page.text
        assert '"maxFilesize": 512' in page.text
        assert '"allowDownloads": true' in page.text
        assert (tmp_path / "storage" / "pyfiledrop.sqlite3").exists()
        assert (tmp_path / "chunks").is_dir()
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    assert "Chunk Size: 1953 Kb" in out
    assert "Max File Size: 512 Mb" in out
    assert "Parallel Chunks: false" in out
    assert f"http://127.0.0.1:{port}/" in out


def test_cdn_flags_point_the_page_at_a_cdn(make_server) -> None:  # type: ignore[no-untyped-def]
    v5: Server = make_server("--dz-cdn", "https://cdn.example/dz/", "--dz-version", "5.7.6")
    page = httpx.get(v5.url).text
    assert 'src="https://cdn.example/dz/5.7.6/min/dropzone.min.js"' in page
    assert "/static/vendor/dropzone" not in page


def test_default_page_needs_no_internet(server: Server) -> None:
    page = httpx.get(server.url).text
    assert "http://" not in page.replace(server.url, "") and "https://" not in page
