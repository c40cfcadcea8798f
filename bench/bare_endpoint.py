"""The bare ceiling for upload_bench.py: the least an ASGI upload endpoint can do.

A raw ASGI app (no framework) on uvicorn, started exactly as pyfiledrop starts its own
(`uvicorn.run(app, ..., log_level="warning", access_log=False)`, default loop and http, which pick
uvloop and httptools when installed). It has no multipart parsing, no hashing and no database:

    POST /raw/<name>/<offset>   the raw request body is written with os.pwrite at <offset> of
                                <folder>/<name> (created if missing); replies 200 {"ok": true}
    GET  /page?chunk=N&parallel=P&name=X
                                a page with one <input type=file> whose file is pushed with fetch()
                                of raw Blob slices, P requests in flight; it adds #done (or #error)
                                when every slice has been answered
    GET  /ping                  200, to see that the server is up

Run: python bench/bare_endpoint.py --host 127.0.0.1 --port P --folder DIR
"""

from __future__ import annotations

import argparse
import json
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

_RAW = re.compile(r"^/raw/([A-Za-z0-9_.-]{1,100})/([0-9]{1,19})$")

PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>bare upload</title></head>
<body>
<input type="file" id="file">
<script>
"use strict";
const CHUNK = %(chunk)d, PARALLEL = %(parallel)d, NAME = %(name)s;
document.getElementById("file").addEventListener("change", async function (event) {
  const file = event.target.files[0];
  const count = Math.max(1, Math.ceil(file.size / CHUNK));
  let next = 0;
  async function worker() {
    while (next < count) {
      const index = next++;
      const start = index * CHUNK;
      const reply = await fetch("/raw/" + NAME + "/" + start, {
        method: "POST",
        body: file.slice(start, Math.min(start + CHUNK, file.size)),
      });
      if (!reply.ok) throw new Error("chunk " + index + ": HTTP " + reply.status);
      await reply.arrayBuffer();
    }
  }
  const mark = document.createElement("div");
  try {
    const workers = [];
    for (let i = 0; i < Math.min(PARALLEL, count); i++) workers.push(worker());
    await Promise.all(workers);
    mark.id = "done";
    mark.textContent = "done " + count + " chunks";
  } catch (err) {
    mark.id = "error";
    mark.textContent = String(err);
  }
  document.body.append(mark);
});
</script>
</body>
</html>
"""


def make_app(folder: Path) -> Any:
    async def reply(send: Any, status: int, body: bytes, content_type: bytes) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", content_type),
                    (b"content-length", b"%d" % len(body)),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        path = scope["path"]
        found = _RAW.match(path)
        if found and scope["method"] in ("POST", "PUT"):
            offset = int(found.group(2))
            fd = os.open(folder / found.group(1), os.O_WRONLY | os.O_CREAT, 0o600)
            try:
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        return
                    view = memoryview(message.get("body", b""))
                    while view:
                        written = os.pwrite(fd, view, offset)
                        offset += written
                        view = view[written:]
                    if not message.get("more_body", False):
                        break
            finally:
                os.close(fd)
            await reply(send, 200, b'{"ok": true}', b"application/json")
        elif path == "/page":
            query = parse_qs(scope.get("query_string", b"").decode())
            page = PAGE % {
                "chunk": int(query.get("chunk", ["1000000"])[0]),
                "parallel": int(query.get("parallel", ["6"])[0]),
                "name": json.dumps(re.sub(r"[^A-Za-z0-9_.-]", "_", query.get("name", ["up"])[0])),
            }
            await reply(send, 200, page.encode(), b"text/html; charset=utf-8")
        elif path == "/ping":
            await reply(send, 200, b"pong", b"text/plain")
        else:
            await reply(send, 404, b"not found", b"text/plain")

    return app


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--folder", type=Path, required=True)
    args = parser.parse_args()
    args.folder.mkdir(parents=True, exist_ok=True)
    uvicorn.run(
        make_app(args.folder), host=args.host, port=args.port, log_level="warning", access_log=False
    )


if __name__ == "__main__":
    main()
