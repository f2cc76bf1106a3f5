"""What can go wrong in the artifact cache (the tree is drawn in the package docstring)."""

from __future__ import annotations


class CacheError(Exception):
    """Base of every error the cache raises on purpose."""


class CorruptEntry(CacheError):
    """A stored entry is not what its name promises: a blob whose blake3 differs from its
    hash, or an action record that does not decode. `where` names the store."""

    def __init__(self, kind: str, key: str, where: str, reason: str) -> None:
        super().__init__(f"{where}: {kind}/{key}: {reason}")
        self.kind = kind
        self.key = key
        self.where = where
        self.reason = reason


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
    """The server could not be reached, timed out, broke the connection or answered 5xx,
    on every try."""


class RemoteRefused(RemoteError):
    """The server answered 401 or 403 (a missing or wrong token, or no rights) or 405 (it
    takes no PUT at all)."""
