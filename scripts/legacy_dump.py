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

import http.client
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import free_port  # noqa: E402
from tests.postgres import Cluster, _bin_dir  # noqa: E402


def serve(tree: Path, work: Path, *flags: str) -> tuple[subprocess.Popen[bytes], int]:
    """The commit's server, storing in `work`; its process and port once it answers."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pyfiledrop", "serve", "--host", "127.0.0.1", "--port", str(port),
         "-s", str(work / "storage"), "-c", str(work / "chunks"), *flags],
        env={**os.environ, "PYTHONPATH": str(tree / "src")}, cwd=work,
        stdout=open(work / "server.log", "ab"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    for _ in range(200):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/favicon.ico")
            conn.getresponse().read()
            return proc, port
        except OSError:
            time.sleep(0.1)
    raise SystemExit((work / "server.log").read_text())


def send(port: int, name: str, data: bytes, chunks: int = 1, only: set[int] | None = None) -> None:
    """Dropzone chunks of one file (those in `only`, else all), as raw bodies."""
    client_id, size = str(uuid.uuid4()), len(data)
    chunk = -(-size // chunks)
    for index in sorted(only if only is not None else range(chunks)):
        query = urlencode({
            "dzuuid": client_id, "dzchunkindex": index, "dztotalfilesize": size,
            "dzchunksize": chunk, "dztotalchunkcount": chunks,
            "dzchunkbyteoffset": index * chunk, "filename": name,
        })  # fmt: skip
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request(
            "POST", f"/upload?{query}", body=data[index * chunk : (index + 1) * chunk],
            headers={"Cookie": "pyfiledrop_client=" + "g" * 43, "Accept": "application/json"},
        )  # fmt: skip
        reply = conn.getresponse()
        if reply.status != 200:
            raise SystemExit(f"{name}: {reply.status} {reply.read()[:200]!r}")
        reply.read()
    time.sleep(0.5)  # a finish still running is done


def uploads(tree: Path, work: Path, *flags: str) -> None:
    work.mkdir()
    proc, port = serve(tree, work, *flags)
    try:
        same = b"the same bytes, twice\n" * 100
        send(port, "same.bin", same)
        send(port, "again.bin", same)
        send(port, "other.bin", b"other bytes\n" * 50)
        send(port, "half.bin", os.urandom(2000), chunks=2, only={0})
    finally:
        proc.terminate()
        proc.wait()


def main() -> None:
    commit = sys.argv[1]
    legacy = ROOT / "tests" / "meta" / "legacy"
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "tree"
        tree.mkdir()
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit], capture_output=True)
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
        uploads(tree, Path(tmp) / "sqlite")
        database = next((Path(tmp) / "sqlite").rglob("*.sqlite3"))
        dump = subprocess.run(["sqlite3", str(database), ".dump"], capture_output=True, text=True)
        (legacy / f"{commit}.sql").write_text(dump.stdout)
        cluster = Cluster()
        try:
            url = cluster.create_database()
            uploads(tree, Path(tmp) / "postgresql", "--database", url)
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
