"""What can go wrong in the artifact cache (the tree is drawn in the package docstring), and
how text from elsewhere (a server's answer, a file's name) is made safe to print."""

from __future__ import annotations

# Server text in a message is cut to this many characters: enough to read, not a flood.
_QUOTE_CHARS = 160


class CacheError(Exception):
    """Base of every error the cache raises on purpose."""


class CorruptEntry(CacheError):
    """A stored entry is not what its name promises: a blob whose blake3 differs from its
    hash, a record that does not decode, a body larger than the record says. `where` names
    the store; `dropped` says whether the store deleted the entry (a remote, or a local
    store that can't be written, keeps it)."""

    def __init__(self, kind: str, key: str, where: str, reason: str,
                 dropped: bool = False) -> None:
        super().__init__(f"{where}: {kind}/{key}: {reason}")
        self.kind = kind
        self.key = key
        self.where = where
        self.reason = reason
        self.dropped = dropped


class ReadOnlyStore(CacheError):
    """A write was asked of a store opened read-only. The cache never does that; a caller
    that does has a bug, so this is loud rather than a silent no-op."""


class RemoteError(CacheError):
    """The remote store failed; the cache goes on with the local store alone. `status` is
    the HTTP status when the server answered, else None."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class RemoteUnavailable(RemoteError):
    """The server could not be reached, missed its deadline, broke the connection, answered
    5xx on every try, or was too slow too often."""


class RemoteRefused(RemoteError):
    """The server answered 401 or 403 (a missing or wrong token, or no rights), 405 (it
    takes no PUT at all) or a redirect (never followed)."""


def quoted(text: str | bytes, limit: int = _QUOTE_CHARS) -> str:
    """`text` that came from outside (a server's reason phrase, error body or header), in
    quotes and safe for a terminal: invalid UTF-8 replaced, every character that is not
    printable (NUL, controls, ESC, bidi overrides) escaped, cut to `limit` characters."""
    if isinstance(text, bytes | bytearray):
        text = bytes(text).decode("utf-8", "replace")
    cut = len(text) > limit
    return repr(text[:limit]) + ("..." if cut else "")  # repr escapes what isprintable() is not


def printable(message: str) -> str:
    """`message` with every non-printable character escaped: one line, no terminal escapes.
    The last guard before a warning is printed, whatever slipped into it."""
    if message.isprintable():
        return message
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii")
                   for c in message)
