"""The local store: one file per entry, `<root>/ac/ab/<key>` and `<root>/cas/ab/<hash>`.

Writes are atomic: the bytes go to a temporary file in the entry's own directory, are fsynced,
then `os.replace`d onto the entry's name. A reader opens either the old file or the new one,
never a half-written one, so several builds may share one store; a writer killed mid-write
leaves only a `.tmp-*` file, which no read ever serves and `gc` removes once it is stale.
(The directory is not fsynced: after a power cut an entry may be missing, never partial.)

Every read and write sets the file's mtime to now, which is the clock of the LRU eviction
(`_eviction`); the store runs it by itself when its estimate of its size passes `max_bytes`.

A store the process can't write (its directory not writable for this user, a read-only file
system, immutable files) stays readable: the first write or delete refused for that reason
sets `read_only` and `read_only_reason`, and the error still goes to the caller. A corrupt
blob it can't drop is reported with `dropped=False`; the cache then counts it as a miss.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from rust_hmr.cache import _eviction
from rust_hmr.cache._eviction import GcResult
from rust_hmr.cache._store import Kind, Store, check_name

DEFAULT_MAX_BYTES = 2 * 1024**3
# Automatic eviction goes down to this share of max_bytes, so it does not run on every put.
_LOW_WATER = 0.9
_CHUNK = 1 << 20
# What a write or delete fails with when the store can't be written at all (no permission,
# an immutable file, a read-only mount); ENOSPC and EIO are other stories.
_READ_ONLY_ERRNOS = frozenset({errno.EACCES, errno.EPERM, errno.EROFS})


@dataclass(frozen=True)
class LocalStats:
    """What the local store holds."""

    root: Path
    records: int
    blobs: int
    record_bytes: int
    blob_bytes: int
    max_bytes: int
    temp_files: int
    oldest_ns: int | None  # the least recently used entry's mtime
    newest_ns: int | None

    @property
    def total_bytes(self) -> int:
        return self.record_bytes + self.blob_bytes


class LocalStore(Store):
    """Entries as files under `root`, at most about `max_bytes` of them (LRU eviction).

    Nothing is created until the first write, so opening a store to read it (the CLI's
    `stats`) leaves no directory behind.
    """

    def __init__(self, root: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        if max_bytes < 0:
            raise ValueError("max_bytes can't be negative")
        self.root = Path(root)
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._estimate: int | None = None  # bytes stored, known from the last scan + writes
        self._since_scan = 0
        self.read_only = False
        self.read_only_reason: str | None = None  # the first refused write, when read_only

    def __str__(self) -> str:
        return f"local cache {self.root}"

    def path(self, kind: Kind, key: str) -> Path:
        """Where the entry lives (whether or not it exists)."""
        check_name(kind, key)
        return self.root / kind / key[:2] / key

    def peek(self, kind: Kind, key: str) -> bytes | None:
        """The entry's bytes as stored: not verified, and not counted as a use."""
        try:
            return self.path(kind, key).read_bytes()
        except FileNotFoundError:
            return None

    def delete(self, kind: Kind, key: str) -> bool:
        """Removes the entry; False when there was none."""
        try:
            with self._noting_read_only():
                self.path(kind, key).unlink()
        except FileNotFoundError:
            return False
        return True

    def entries(self) -> list[_eviction.Entry]:
        """Every entry on disk (a snapshot: other processes may add or evict meanwhile)."""
        return _eviction.scan(self.root)[0]

    def stats(self) -> LocalStats:
        """Counts and sizes, from a scan of the directory."""
        entries, temps = _eviction.scan(self.root)
        records = [e for e in entries if e.kind == "ac"]
        blobs = [e for e in entries if e.kind == "cas"]
        used = [e.used_ns for e in entries]
        return LocalStats(
            self.root, len(records), len(blobs), sum(e.size for e in records),
            sum(e.size for e in blobs), self.max_bytes, len(temps),
            min(used, default=None), max(used, default=None),
        )

    def gc(self, max_bytes: int | None = None,
           stale_temp_seconds: float = _eviction.STALE_TEMP_SECONDS) -> GcResult:
        """Evicts the least recently used entries until the store fits in `max_bytes`
        (default: the store's bound), and removes temporary files left by dead writers."""
        limit = self.max_bytes if max_bytes is None else max_bytes
        result = _eviction.collect(self.root, limit, stale_temp_seconds=stale_temp_seconds)
        with self._lock:
            self._estimate, self._since_scan = result.kept_bytes, 0
        return result

    # Store backend

    def _read(self, kind: Kind, key: str, size: int | None) -> bytes | None:
        path = self.path(kind, key)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        _touch(path)
        return data

    def _write(self, kind: Kind, key: str, data: bytes) -> None:
        path = self.path(kind, key)
        if kind == "cas" and _size(path) == len(data):
            # Same name, so the same bytes (reads verify them): only mark it used. A copy of
            # another size was cut short: it is replaced.
            _touch(path)
            return
        with self._noting_read_only():
            _atomic_write(path, data)
        self._account(len(data), path)

    def _exists(self, kind: Kind, key: str) -> bool:
        return self.path(kind, key).is_file()

    def _drop(self, kind: Kind, key: str) -> bool:
        try:
            self.delete(kind, key)
        except OSError:
            return False  # still there: the caller counts it as a miss all the same
        return True

    @contextlib.contextmanager
    def _noting_read_only(self) -> Iterator[None]:
        """Lets the OSError through, after noting that the store is read-only when that is
        why the write failed."""
        try:
            yield
        except OSError as err:
            if err.errno in _READ_ONLY_ERRNOS and not self.read_only:
                self.read_only_reason = err.strerror or str(err)
                self.read_only = True
            raise

    def _account(self, size: int, written: Path) -> None:
        """Counts a write; evicts when the store may have passed its bound. Other processes
        write too, so the estimate is refreshed by a scan every max_bytes/8 written here."""
        with self._lock:
            if self._estimate is None:
                self._estimate = sum(e.size for e in _eviction.scan(self.root)[0])
            else:
                self._estimate += size
            self._since_scan += size
            due = self._estimate > self.max_bytes or self._since_scan > self.max_bytes // 8
            if not due:
                return
            result = _eviction.collect(self.root, self.max_bytes,
                                       int(self.max_bytes * _LOW_WATER), protect={written})
            self._estimate, self._since_scan = result.kept_bytes, 0


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return None


def _touch(path: Path) -> None:
    """Marks the entry as just used; a store on a read-only mount stays usable without it."""
    with contextlib.suppress(OSError):
        _stamp(path)


def _stamp(target: Path | int) -> None:
    """Sets atime and mtime to now from the fine-grained clock: the kernel's own file times
    tick once per jiffy (up to 10 ms), too coarse to order uses that follow each other."""
    now = time.time_ns()
    os.utime(target, ns=(now, now))


def _atomic_write(path: Path, data: bytes) -> None:
    """`data` at `path`, all of it or nothing: temporary file, fsync, rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f"{_eviction.TEMP_PREFIX}{path.name[:16]}-",
                                dir=path.parent)
    try:
        try:
            os.fchmod(fd, 0o644)
            _write_all(fd, data)
            _stamp(fd)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def _write_all(fd: int, data: bytes) -> None:
    """Writes every byte of `data` to `fd`, a chunk at a time (os.write may write less)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view[:_CHUNK])
        view = view[written:]
