"""The interface every backend implements, and the in-memory backend for unit tests.

A store holds two kinds of entry: "ac" (action records, under their action key) and "cas"
(blobs, under their blake3). `Store` does the checks every backend shares, so each backend
only moves bytes (`_read`, `_write`, `_exists`, `_drop`):

- names are 64 lowercase hex digits, so no key can reach outside the store's namespace;
- a blob is written only under its own hash;
- every blob read is hashed; a mismatch raises `CorruptEntry`, and a backend that can delete
  (local, memory) drops the entry first, so the next read is a plain miss (`dropped` says
  whether it could: a local store on a read-only file system can't).

`get` may be told the size the entry should have (a record names its blobs' sizes); a backend
that streams (the remote) stops reading past it.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from typing import Literal

from rust_hmr.cache._errors import CorruptEntry
from rust_hmr.cache._keys import blob_hash, is_hash

Kind = Literal["ac", "cas"]
KINDS: tuple[Kind, ...] = ("ac", "cas")


def check_name(kind: str, key: str) -> None:
    """ValueError unless `kind` is "ac" or "cas" and `key` is 64 lowercase hex digits."""
    if kind not in KINDS:
        raise ValueError(f"kind must be 'ac' or 'cas', got {kind!r}")
    if not isinstance(key, str) or not is_hash(key):
        raise ValueError(f"a {kind} key must be 64 lowercase hex digits, got {key!r}")


class Store(ABC):
    """A key-value store of cache entries: `get`, `put`, `contains`."""

    #: True when `put` is refused (a read-only remote) or known to fail (a local store
    #: that turned out to be unwritable).
    read_only: bool = False

    def get(self, kind: Kind, key: str, size: int | None = None) -> bytes | None:
        """The entry's bytes, or None when absent; a blob is verified (`CorruptEntry`).
        `size`, when known, is how many bytes the entry should have."""
        check_name(kind, key)
        if size is not None and size < 0:
            raise ValueError(f"a size can't be negative, got {size}")
        data = self._read(kind, key, size)
        if data is not None and kind == "cas":
            actual = blob_hash(data)
            if actual != key:
                dropped = self._drop(kind, key)
                raise CorruptEntry(kind, key, str(self), f"content hashes to {actual[:16]}...",
                                   dropped)
        return data

    def put(self, kind: Kind, key: str, data: bytes) -> None:
        """Stores `data` under `key`; a blob must be stored under its own hash."""
        check_name(kind, key)
        if kind == "cas" and blob_hash(data) != key:
            raise ValueError(f"blob stored under {key[:16]}... is not the blob of that hash")
        self._write(kind, key, bytes(data))

    def contains(self, kind: Kind, key: str) -> bool:
        """Whether the store has the entry (not read, so not verified)."""
        check_name(kind, key)
        return self._exists(kind, key)

    @abstractmethod
    def _read(self, kind: Kind, key: str, size: int | None) -> bytes | None: ...

    @abstractmethod
    def _write(self, kind: Kind, key: str, data: bytes) -> None: ...

    @abstractmethod
    def _exists(self, kind: Kind, key: str) -> bool: ...

    def _drop(self, kind: Kind, key: str) -> bool:
        """Forget a corrupt entry; a backend that can't (a remote) keeps it. True when gone."""
        return False


class MemoryStore(Store):
    """Entries in a dict: the test double, with the same checks as the real backends."""

    def __init__(self) -> None:
        self.entries: dict[tuple[str, str], bytes] = {}
        self._lock = threading.Lock()

    def __str__(self) -> str:
        return "memory store"

    def _read(self, kind: Kind, key: str, size: int | None) -> bytes | None:
        return self.entries.get((kind, key))

    def _write(self, kind: Kind, key: str, data: bytes) -> None:
        with self._lock:
            self.entries[(kind, key)] = data

    def _exists(self, kind: Kind, key: str) -> bool:
        return (kind, key) in self.entries

    def _drop(self, kind: Kind, key: str) -> bool:
        with self._lock:
            self.entries.pop((kind, key), None)
        return True

    def delete(self, kind: Kind, key: str) -> bool:
        """Removes the entry; False when there was none."""
        check_name(kind, key)
        with self._lock:
            return self.entries.pop((kind, key), None) is not None
