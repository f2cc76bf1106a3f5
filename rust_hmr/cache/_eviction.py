"""Size bound of the local store: scan its files, and evict the least recently used.

"Used" is a file's mtime: the local store sets it to now on every read and every write, so
the oldest mtime is the entry nobody asked for the longest (atime is not trusted: most
file systems are mounted relatime or noatime). Records and blobs compete for the same room;
a record whose blob was evicted is a miss, never a wrong hit (the cache checks every output).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from rust_hmr.cache._keys import is_hash

KIND_DIRS = ("ac", "cas")
TEMP_PREFIX = ".tmp-"
# A temporary file older than this belongs to a writer that died (a write takes seconds at
# most), so gc removes it; a younger one may be a write in progress in another process.
STALE_TEMP_SECONDS = 3600.0


@dataclass(frozen=True)
class Entry:
    """One stored file."""

    kind: str
    key: str
    path: Path
    size: int
    used_ns: int  # mtime: the last read or write


@dataclass(frozen=True)
class GcResult:
    """What a collection did."""

    removed: int
    freed_bytes: int
    kept: int
    kept_bytes: int
    temp_removed: int


def scan(root: Path) -> tuple[list[Entry], list[Path]]:
    """Every entry under `root`, and every temporary file (a write in progress, or one that
    was killed). Files that vanish while scanning (another process evicted them) are skipped."""
    entries: list[Entry] = []
    temps: list[Path] = []
    for kind in KIND_DIRS:
        for shard in _subdirs(root / kind):
            for item in _files(shard):
                if item.name.startswith(TEMP_PREFIX):
                    temps.append(Path(item.path))
                    continue
                if not is_hash(item.name):
                    continue
                with contextlib.suppress(FileNotFoundError):
                    stat = item.stat()
                    entries.append(
                        Entry(kind, item.name, Path(item.path), stat.st_size, stat.st_mtime_ns)
                    )
    return entries, temps


def choose_victims(entries: list[Entry], target_bytes: int,
                   protect: Collection[Path] = ()) -> list[Entry]:
    """The least recently used entries to remove so that the rest fits in `target_bytes`."""
    total = sum(entry.size for entry in entries)
    victims = []
    for entry in sorted(entries, key=lambda e: (e.used_ns, e.path)):
        if total <= target_bytes:
            break
        if entry.path in protect:
            continue
        victims.append(entry)
        total -= entry.size
    return victims


def collect(root: Path, max_bytes: int, target_bytes: int | None = None,
            protect: Collection[Path] = (),
            stale_temp_seconds: float = STALE_TEMP_SECONDS) -> GcResult:
    """When the entries under `root` exceed `max_bytes`, removes the least recently used down
    to `target_bytes` (default `max_bytes`); removes stale temporary files either way."""
    entries, temps = scan(root)
    total = sum(entry.size for entry in entries)
    victims = []
    if total > max_bytes:
        victims = choose_victims(entries, max_bytes if target_bytes is None else target_bytes,
                                 protect)
    freed = 0
    for victim in victims:
        with contextlib.suppress(FileNotFoundError):
            victim.path.unlink()
        freed += victim.size
    cutoff = time.time() - stale_temp_seconds
    temp_removed = 0
    for temp in temps:
        with contextlib.suppress(FileNotFoundError):
            if temp.stat().st_mtime < cutoff:
                temp.unlink()
                temp_removed += 1
    return GcResult(len(victims), freed, len(entries) - len(victims), total - freed,
                    temp_removed)


def _subdirs(path: Path) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(path) as items:
            return [item for item in items if item.is_dir(follow_symlinks=False)]
    except FileNotFoundError:
        return []


def _files(path: os.DirEntry[str]) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(path.path) as items:
            return [item for item in items if item.is_file(follow_symlinks=False)]
    except FileNotFoundError:
        return []
