"""The HTTP edge's flags and the expiry ones: checked at start (exit 2 naming the flag), settable
from the environment, and every flag of `serve` documented in the README's table."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_cli import pyfiledrop

README = Path(__file__).parent.parent / "README.md"


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["--header-timeout", "0"], "--header-timeout"),
        (["--header-timeout", "soon"], "--header-timeout"),
        (["--max-connections", "0"], "--max-connections"),
        (["--public-url", "ftp://files.example.org"], "--public-url"),
        (["--public-url", "https://"], "--public-url"),
        (["--public-url", "https://files.example.org/?a=b"], "--public-url"),
        (["--public-url", "https://files.example.org:http/"], "--public-url"),
        (["--forwarded-allow-ips", "10.0.0.300"], "--forwarded-allow-ips"),
        (["--forwarded-allow-ips", "127.0.0.1,proxy.local"], "--forwarded-allow-ips"),
        (["--expire", "3x"], "--expire"),
        (["--expire", "-1h"], "--expire"),
        (["--expire", "1w"], "--expire"),
        (["--incomplete-ttl", "0"], "--incomplete-ttl"),
        (["--incomplete-ttl", "7"], "--incomplete-ttl"),
        (["--cleanup-interval", "0"], "--cleanup-interval"),
        (["--cleanup-interval", "1.5s"], "--cleanup-interval"),
    ],
)
def test_invalid_edge_values_exit_2_naming_the_flag(
    args: list[str], flag: str, tmp_path: Path
) -> None:
    result = pyfiledrop("serve", "-s", str(tmp_path / "s"), "-c", str(tmp_path / "c"), *args)
    assert result.returncode == 2, result.stderr
    assert flag in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("name", "value", "flag"),
    [
        ("HEADER_TIMEOUT", "0", "--header-timeout"),
        ("MAX_CONNECTIONS", "0", "--max-connections"),
        ("PUBLIC_URL", "files.example.org", "--public-url"),
        ("FORWARDED_ALLOW_IPS", "nowhere", "--forwarded-allow-ips"),
        ("EXPIRE", "forever", "--expire"),
        ("INCOMPLETE_TTL", "0", "--incomplete-ttl"),
        ("CLEANUP_INTERVAL", "0", "--cleanup-interval"),
    ],
)
def test_edge_flags_come_from_the_environment(
    name: str, value: str, flag: str, tmp_path: Path
) -> None:
    result = pyfiledrop("serve", env={f"PYFILEDROP_{name}": value}, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert flag in result.stderr


def test_every_serve_flag_is_in_the_readme_table() -> None:
    from pyfiledrop.cli import serve

    flags = {o for p in serve.params for o in p.opts if o.startswith("--")} - {"--help"}
    assert "--max-open-uploads" in flags and "--admin-password-file" in flags
    table = "\n".join(line for line in README.read_text().splitlines() if line.startswith("| `-"))
    assert {flag for flag in flags if f"`{flag}`" not in table} == set()
