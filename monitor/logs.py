"""Structured logs: one line per event, a fixed event name and fixed keys.

    log_event(logger, "feed_polled", feed_url=url, status="ok", new=3, matched=1)

prints ``feed_polled feed_url=https://… status=ok new=3 matched=1`` by default,
or one JSON object per line when ``MONITOR_LOG_FORMAT=json``.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

_FIELDS = "event_fields"
_NAME = "event_name"


def _value(value: Any) -> str:
    text = str(value)
    if text == "" or any(c.isspace() or c in '"=' for c in text):
        return json.dumps(text, ensure_ascii=False)
    return text


def log_event(logger: logging.Logger, event: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log ``event`` with ``fields``; the human form is ``event k=v k=v``."""
    if not logger.isEnabledFor(level):
        return
    message = " ".join([event, *(f"{key}={_value(val)}" for key, val in fields.items())])
    logger.log(level, message, extra={_NAME: event, _FIELDS: fields})


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": getattr(record, _NAME, None) or record.getMessage(),
        }
        data.update(getattr(record, _FIELDS, {}) or {})
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False, default=str)


def configure_logging(level: str = "INFO", fmt: str = "text") -> None:
    """Send logs to stderr, human-readable (``text``) or one JSON object per line (``json``)."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JSONFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)-7s %(message)s", "%Y-%m-%d %H:%M:%S")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("httpx", "httpcore", "apscheduler", "alembic", "pymorphy3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
