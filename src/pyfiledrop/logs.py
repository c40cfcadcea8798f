"""Where log lines go and what they look like: `--log-level` and `--log-format text|json`.

Every line goes to stderr, one record per line, through one formatter: pyfiledrop's own loggers
(`pyfiledrop.uploads`, `pyfiledrop.refusals`, `pyfiledrop.access`, `pyfiledrop.server`,
`pyfiledrop.hooks`) and uvicorn's. A record's structured fields ride in `extra={"fields": {...}}`:
the text format appends them as `key=value`, the JSON format puts them in the object beside
`time`, `level`, `logger` and `message`.

`current` is the request being served, as the web edge saw it (web/requestlog.py sets it): a line
about an upload names the client that caused it, and whatever renders an `UploadError` as an
answer notes it there (`note_refusal`), so the edge logs one refusal line per refused request.

Values can come from clients (file names, paths): in text, every control, format or line-break
character is written as an escape and a value with a space or quote is quoted, so nothing a
client sends can end a line early or forge another; JSON escapes them itself (`ensure_ascii`).
"""

from __future__ import annotations

import json
import logging
import sys
import time
import unicodedata
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from pyfiledrop import errors

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
          "error": logging.ERROR}  # fmt: skip
FORMATS = ("text", "json")
_UNSAFE = {"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"}  # controls, bidi marks, line breaks, ...


@dataclass
class Seen:
    """One request, as far as logs and hooks need it."""

    client: str | None
    method: str
    path: str  # redacted: no download token, no query values (web/requestlog.py)
    refusal: errors.UploadError | None = None


current: ContextVar[Seen | None] = ContextVar("pyfiledrop_request", default=None)


def note_refusal(exc: errors.UploadError) -> None:
    """Called by whatever turns `exc` into the answer to the request being served."""
    seen = current.get()
    if seen is not None:
        seen.refusal = exc


def fields(**values: Any) -> dict[str, Any]:
    """`extra=` for a record with these fields (None values are left out)."""
    return {"fields": {key: value for key, value in values.items() if value is not None}}


def escape(text: str) -> str:
    """`text` with every character that could break or disguise a line written as an escape."""
    if text.isprintable() and "\\" not in text:
        return text  # the common case; isprintable() is False for every class in _UNSAFE
    out = []
    for char in text:
        if char == "\\":
            out.append("\\\\")
        elif unicodedata.category(char) in _UNSAFE:
            code = ord(char)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(char)
    return "".join(out)


def _text_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".") or "0"
    text = escape(str(value))
    if not text or any(char in text for char in ' "='):
        return '"' + text.replace('"', '\\"') + '"'
    return text


def _timestamp(record: logging.LogRecord) -> str:
    seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
    return f"{seconds}.{int(record.msecs):03d}Z"


class TextFormatter(logging.Formatter):
    """`2026-01-02T03:04:05.678Z INFO pyfiledrop.uploads upload completed id=... name="a b"`"""

    def format(self, record: logging.LogRecord) -> str:
        parts = [_timestamp(record), record.levelname, record.name, escape(record.getMessage())]
        extra = getattr(record, "fields", {})
        parts += [f"{key}={_text_value(value)}" for key, value in extra.items()]
        line = " ".join(parts)
        if record.exc_info:
            # A traceback keeps its lines, each indented: no record line starts with a space.
            trace = self.formatException(record.exc_info)
            line += "".join("\n  | " + escape(part) for part in trace.splitlines())
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, then the record's fields."""

    def format(self, record: logging.LogRecord) -> str:
        found: dict[str, Any] = {
            "time": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in getattr(record, "fields", {}).items():
            found.setdefault(key, value)
        if record.exc_info:
            found["exception"] = self.formatException(record.exc_info)
        return json.dumps(found, ensure_ascii=True, default=str)


def configure(level: str = "info", fmt: str = "text") -> None:
    """Send every log record to stderr through the chosen format.

    pyfiledrop's loggers log at `level`; uvicorn's say only warnings and errors unless `level`
    is debug (their info lines repeat pyfiledrop's own start and stop lines); other libraries'
    (boto3, psycopg) never below warning.
    """
    chosen = LEVELS[level]
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(max(chosen, logging.WARNING))
    logging.getLogger("pyfiledrop").setLevel(chosen)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi"):
        uvicorn = logging.getLogger(name)
        uvicorn.handlers.clear()
        uvicorn.propagate = True
        uvicorn.setLevel(chosen if chosen == logging.DEBUG else max(chosen, logging.WARNING))
