"""Help everywhere: `-h` and `--help` on every command, each option's environment variable shown."""

from __future__ import annotations

import re

import click
import pytest
from click.testing import CliRunner

from pyfiledrop.cli import main
from tests.test_cli import pyfiledrop

COMMANDS = [[], *([name] for name in main.commands)]  # the group itself, then each command
WIDE = {"terminal_width": 1000, "max_content_width": 1000}  # one line per option, no wrapping


def options(command: list[str]) -> list[click.Option]:
    """The options that take a value or set a flag (not --help or --version)."""
    found = main.commands[command[0]] if command else main
    return [p for p in found.params if isinstance(p, click.Option) and p.expose_value]


def test_every_command_is_covered() -> None:
    assert {"serve", "upload", "migrate", "ls", "rm", "gc"} <= set(main.commands)


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "pyfiledrop")
def test_dash_h_is_help(command: list[str]) -> None:
    short, long = pyfiledrop(*command, "-h"), pyfiledrop(*command, "--help")
    assert short.returncode == long.returncode == 0, short.stderr
    assert short.stdout == long.stdout
    assert "Usage:" in short.stdout and "-h, --help" in short.stdout


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "pyfiledrop")
def test_help_names_every_options_environment_variable(command: list[str]) -> None:
    result = CliRunner().invoke(main, [*command, "--help"], prog_name="pyfiledrop", **WIDE)
    assert result.exit_code == 0, result.output
    by_flag = {}  # "--port" -> its entry: from its line to the next option's (long ones wrap)
    for entry in re.split(r"\n(?=  -)", result.output.split("Options:\n")[1]):
        for flag in entry.strip().split("  ")[0].replace(",", " ").split():
            by_flag[flag] = entry
    for option in options(command):
        envvar = f"PYFILEDROP_{(option.name or '').upper()}"
        assert option.envvar == envvar
        assert f"env var: {envvar}" in by_flag[option.opts[-1]]


def test_upload_flags_come_from_the_environment() -> None:
    result = pyfiledrop(
        "upload", __file__, "--url", "http://127.0.0.1:9", env={"PYFILEDROP_PARALLEL": "0"}
    )
    assert result.returncode == 2
    assert "Invalid value for '--parallel'" in result.stderr
