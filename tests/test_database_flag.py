"""`--database`: the SQLite file by default or where named, PostgreSQL when named, and a database
that cannot be opened stops the server at once with a message naming the flag (exit status 2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.test_cli import pyfiledrop

SECRET = "s3cret-pw"


def folders(tmp_path: Path) -> list[str]:
    return ["-s", str(tmp_path / "s"), "-c", str(tmp_path / "c")]


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("mysql://db/x", "must be sqlite:///PATH or postgresql://"),
        ("sqlite:///", "names no file"),
        ("sqlite://relative.db", "must be sqlite:///PATH"),
        (f"postgresql://u:{SECRET}@[::1/x", "not a valid PostgreSQL URL"),
        (f"postgresql://u:{SECRET}@127.0.0.1:port/x", "cannot open the database"),
    ],
)
def test_a_malformed_url_exits_2_naming_the_flag(url: str, reason: str, tmp_path: Path) -> None:
    for command in (["serve"], ["migrate"]):
        args = folders(tmp_path) if command == ["serve"] else ["-s", str(tmp_path / "s")]
        result = pyfiledrop(*command, *args, "--database", url)
        assert result.returncode == 2, result.stderr
        assert "--database" in result.stderr and reason in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
        assert SECRET not in result.stderr, "a password is never echoed"


def test_an_unreachable_postgresql_exits_2_naming_the_flag(tmp_path: Path) -> None:
    url = f"postgresql://u:{SECRET}@127.0.0.1:{free_port()}/pyfiledrop"
    result = pyfiledrop("serve", *folders(tmp_path), env={"PYFILEDROP_DATABASE": url})
    assert result.returncode == 2, result.stderr
    assert "--database" in result.stderr and "refused" in result.stderr, result.stderr
    assert SECRET not in result.stderr and "Traceback" not in result.stderr


def test_an_unknown_postgresql_user_or_database_exits_2(tmp_path: Path, pg_url: str) -> None:
    stranger = pg_url.replace("postgres@", "nobody@")
    missing = pg_url.rsplit("/", 1)[0] + "/no_such_database"
    for url, reason in ((stranger, 'role "nobody" does not exist'),
                        (missing, 'database "no_such_database" does not exist')):  # fmt: skip
        result = pyfiledrop("serve", *folders(tmp_path), "--database", url)
        assert result.returncode == 2, result.stderr
        assert "--database" in result.stderr and reason in result.stderr, result.stderr


def test_sqlite_url_names_the_file(tmp_path: Path) -> None:
    relative = pyfiledrop("migrate", "--database", "sqlite:///meta/a.sqlite3", cwd=tmp_path)
    assert relative.returncode == 0, relative.stderr
    absolute = tmp_path / "elsewhere" / "b.sqlite3"
    result = pyfiledrop("migrate", "-s", str(tmp_path / "s"), "--database", f"sqlite:///{absolute}")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "meta" / "a.sqlite3").exists() and absolute.exists()
    assert not (tmp_path / "s" / "pyfiledrop.sqlite3").exists()
