"""What the dev server writes to the developer's terminal, through `logging`.

Without a logging configuration (the dev terminal), Python prints warnings and errors as their
bare message on stderr. aiohttp logs every request it can't parse with `logger.exception`,
a traceback of its own parser for what is the client's fault; `HTTP_LOGGER` (the logger the
server hands aiohttp) turns those into one line. Exceptions in the server's own handlers are
bugs and keep their traceback.
"""

from __future__ import annotations

import logging

from aiohttp.http_exceptions import HttpProcessingError

LOGGER = logging.getLogger("rust_hmr.server")
HTTP_LOGGER = logging.getLogger("rust_hmr.server.http")


def bad_request_line(exc: HttpProcessingError) -> str:
    """aiohttp's reason for refusing a request, first line only: `Invalid method encountered`
    (its message goes on with the offending bytes and a caret under them)."""
    lines = str(exc.message or "").strip().splitlines()
    return (lines[0].rstrip(": ") if lines else "") or f"status {exc.code}"


class OneLineBadRequests(logging.Filter):
    """Rewrites aiohttp's "Error handling request from <peer>" records whose exception is a
    parse error (`HttpProcessingError`) into a warning of one line, without the traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if not isinstance(exc, HttpProcessingError):
            return True
        peer = record.args[0] if isinstance(record.args, tuple) and record.args else "a client"
        record.msg, record.args = "bad HTTP request from %s: %s", (peer, bad_request_line(exc))
        record.exc_info = record.exc_text = None
        if record.levelno > logging.WARNING:
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


HTTP_LOGGER.addFilter(OneLineBadRequests())
