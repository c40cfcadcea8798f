"""Versioned schema migrations, one folder of numbered SQL files per database dialect.

`NNNN_name.sql` files are applied in order, each in its own transaction, and recorded in the
`schema_migrations` table; a server applies what is missing when it starts (`pyfiledrop migrate`
does the same without starting one). A file, once released, is never edited: a change to the
schema is a new file, and tests/meta/test_migrations.py upgrades a database made by the commit
before it.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    def statements(self) -> list[str]:
        """The file's statements, without comments (the files hold no semicolons in strings)."""
        lines = [line.split("--", 1)[0] for line in self.sql.splitlines()]
        return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def migrations(dialect: str) -> list[Migration]:
    """Every migration of `dialect` ("sqlite", "postgresql"), in the order to apply them."""
    found = []
    for entry in files(__package__).joinpath(dialect).iterdir():
        if entry.name.endswith(".sql"):
            number, _, rest = entry.name.partition("_")
            found.append(Migration(int(number), rest.removesuffix(".sql"), entry.read_text()))
    found.sort(key=lambda m: m.version)
    assert [m.version for m in found] == list(range(1, len(found) + 1)), "gap in migrations"
    return found
