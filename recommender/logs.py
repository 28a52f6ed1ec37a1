"""Structured logs: one JSON object per line, with the fields passed as `extra=`; and the
progress callbacks long work reports through (the CLI draws them as bars)."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from datetime import UTC, datetime

# advance(n): n more items are done
Progress = Callable[[int], None]
# factory(label, total) -> advance: one bar per stage of a long job
ProgressFactory = Callable[[str, int], Progress]

# color_message: uvicorn repeats the message with terminal colour codes
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "color_message"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # these libraries log every HTTP call or batch at INFO; keep our stream readable
    for noisy in ("sentence_transformers", "httpx", "faiss.loader"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
