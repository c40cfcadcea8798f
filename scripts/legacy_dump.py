"""Write tests/meta/legacy/<commit>.sql and <commit>.postgresql.sql with that commit's own server,
for the upgrade test of the next schema migration (tests/meta/test_migrations.py says why).

The commit's tree is taken with `git archive` and its server run twice, on SQLite and on a
throw-away PostgreSQL cluster (tests/postgres.py), each time receiving the same uploads over HTTP:
`same.bin` and `again.bin` (the same bytes), `other.bin`, and `half.bin` with one of its two
chunks. Then the databases are dumped (`sqlite3 .dump`; `pg_dump --inserts` without psql's
backslash commands, so the tests can run it through psycopg).

    python scripts/legacy_dump.py COMMIT
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import Server  # noqa: E402
from tests.dz import DzFile  # noqa: E402
from tests.postgres import Cluster, _bin_dir  # noqa: E402


def uploads(work: Path, *flags: str) -> None:
    """The uploads every dump holds, sent to a server (the commit's: PYTHONPATH) in `work`."""
    work.mkdir()
    server = Server(work, *flags)
    server.cwd = work
    server.start()
    try:
        same = b"the same bytes, twice\n" * 100
        with server.client() as client:
            for f in (DzFile(same, len(same), "same.bin"), DzFile(same, len(same), "again.bin"),
                      DzFile(b"other bytes\n" * 50, 600, "other.bin")):  # fmt: skip
                f.send_all(client, raw=True)
                f.wait_complete(client)
            DzFile(os.urandom(2000), 1000, "half.bin").send_all(client, [0], raw=True)
    finally:
        server.stop()


def main() -> None:
    commit = sys.argv[1]
    legacy = ROOT / "tests" / "meta" / "legacy"
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "tree"
        tree.mkdir()
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", commit], capture_output=True, check=True
        )
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
        os.environ["PYTHONPATH"] = str(tree / "src")  # the servers run the commit's code
        uploads(Path(tmp) / "sqlite")
        database = next((Path(tmp) / "sqlite").rglob("*.sqlite3"))
        dump = subprocess.run(
            ["sqlite3", str(database), ".dump"], capture_output=True, text=True, check=True
        )
        (legacy / f"{commit}.sql").write_text(dump.stdout)
        cluster = Cluster()
        try:
            url = cluster.create_database()
            uploads(Path(tmp) / "postgresql", "--database", url)
            dump = subprocess.run(
                [str(_bin_dir() / "pg_dump"), "--no-owner", "--no-privileges", "--inserts", url],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            kept = [line for line in dump.stdout.splitlines() if not line.startswith("\\")]
            (legacy / f"{commit}.postgresql.sql").write_text("\n".join(kept) + "\n")
        finally:
            cluster.stop()
    print(f"wrote {legacy}/{commit}.sql and {commit}.postgresql.sql")


if __name__ == "__main__":
    main()
