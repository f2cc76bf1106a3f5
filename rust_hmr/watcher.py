"""The dev loop's change stream: batches of (Change, path), as watchfiles' `awatch` gives them.

    async for changes in watch_changes(*folders, watch_filter=f, recursive=True, stop_event=e):
        ...

On Linux the batches come straight from inotify, read on the event loop (no thread), and a
batch ends as soon as the writes in it are complete: the kernel says so when the writer closes
the file (`IN_CLOSE_WRITE`) or renames it into place (`IN_MOVED_TO`). Then the batch waits only
`QUIET_MS` for the rest of a multi-file save. A change that no close completes (a truncate, a
`touch`, a writer that keeps the file open, a memory map) ends its batch after `step` ms without
another event, as watchfiles does for every change; so does a file deleted or renamed away
(how many editors begin a save, before they write the file anew), unless it comes back.
watchfiles itself sleeps `step` ms between looks and wants one quiet look before it yields, so
a save waited 1-2 steps (35-70 ms measured in the browser bench) before the build started;
here it waits `QUIET_MS`.

Elsewhere, or when inotify can't be had (no instances or watches left), it is `awatch`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from watchfiles import Change, awatch

try:
    from inotify_simple import Event, INotify, flags
except ImportError:  # no inotify here (not Linux)
    INotify = None

__all__ = ["DEBOUNCE_MS", "QUIET_MS", "watch_changes"]

QUIET_MS = 5  # after a complete write: the rest of a "save all" comes within this
DEBOUNCE_MS = 1600  # a batch never grows longer than this (watchfiles' default)

Filter = Callable[[Change, str], bool]


def watch_changes(*paths: Path, watch_filter: Filter, step: int, stop_event: asyncio.Event,
                  recursive: bool = True) -> AsyncIterator[set[tuple[Change, str]]]:
    """Batches of changes under `paths` (their own entries only, unless `recursive`), until
    `stop_event` is set."""
    if INotify is not None:
        try:
            return _InotifyWatch(paths, watch_filter, step, recursive).changes(stop_event)
        except OSError:
            pass  # no inotify instance or watch to be had: watchfiles says why, or polls
    return awatch(*paths, watch_filter=watch_filter, step=step, stop_event=stop_event,
                  recursive=recursive)


if INotify is not None:
    # what ends a write (the file is whole, or gone), what a close is still to end, and what
    # ends a folder's watch (`_Batch.note` says when a deletion ends a save)
    COMPLETE = flags.CLOSE_WRITE | flags.MOVED_TO | flags.MOVED_FROM | flags.DELETE
    PARTIAL = flags.CREATE | flags.MODIFY | flags.ATTRIB
    GONE = flags.DELETE_SELF | flags.IGNORED
    ADDED = flags.CREATE | flags.MOVED_TO
    DELETED = flags.DELETE | flags.MOVED_FROM
    WATCHED = COMPLETE | PARTIAL | flags.DELETE_SELF | flags.ONLYDIR | flags.EXCL_UNLINK


class _InotifyWatch:
    """One inotify instance over some folders; the maps from watch descriptors to folders."""

    def __init__(self, roots: tuple[Path, ...], watch_filter: Filter, step: int,
                 recursive: bool) -> None:
        self.filter = watch_filter
        self.step = step / 1000
        self.recursive = recursive
        self.inotify = INotify(nonblocking=True)
        self.folders: dict[int, str] = {}
        try:
            for root in roots:
                self._add(str(root), report=None)
        except OSError:
            self.inotify.close()
            raise

    def _add(self, folder: str, report: set[tuple[Change, str]] | None) -> None:
        """Watch `folder` (and, when recursive, the folders below it that the filter keeps).
        `report`: the folder is new, so its files were made before its watch: each is a
        change (an unpacked archive, `cp -r`, `mkdir -p` and a quick write)."""
        try:
            wd = self.inotify.add_watch(folder, WATCHED)
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            return  # gone already, or not ours to read
        if wd in self.folders:
            return  # seen through another path (a symlink): its events keep the first one
        self.folders[wd] = folder
        if not self.recursive and report is None:
            return
        try:
            entries = list(os.scandir(folder))
        except OSError:
            return
        for entry in entries:
            is_dir = entry.is_dir()
            if report is not None and self.filter(Change.added, entry.path):
                report.add((Change.added, entry.path))
            if is_dir and self.recursive and self.filter(Change.added, entry.path):
                self._add(entry.path, report)

    def _forget(self, folder: str) -> None:
        prefix = folder + os.sep
        for wd, path in list(self.folders.items()):
            if path == folder or path.startswith(prefix):
                del self.folders[wd]
                with contextlib.suppress(OSError):
                    self.inotify.rm_watch(wd)

    async def changes(self, stop: asyncio.Event) -> AsyncIterator[set[tuple[Change, str]]]:
        loop = asyncio.get_running_loop()
        ready = asyncio.Event()
        events: list[Event] = []

        def readable() -> None:
            events.extend(self.inotify.read(timeout=0))
            ready.set()

        loop.add_reader(self.inotify.fileno(), readable)
        stopping = asyncio.ensure_future(stop.wait())
        stopping.add_done_callback(lambda _: ready.set())
        try:
            while not stop.is_set():
                await ready.wait()
                batch = _Batch()
                started = time.monotonic()
                while not stop.is_set():
                    ready.clear()
                    taken, events[:] = list(events), []
                    for event in taken:
                        self._take(event, batch)
                    if not batch.changes and not batch.open_writes:
                        break  # only filtered or self events: wait for the next
                    wait = self.step if batch.open_writes else QUIET_MS / 1000
                    left = DEBOUNCE_MS / 1000 - (time.monotonic() - started)
                    if left <= 0:
                        break
                    try:
                        await asyncio.wait_for(ready.wait(), min(wait, left))
                    except TimeoutError:
                        break
                if batch.changes and not stop.is_set():
                    yield batch.changes
        finally:
            stopping.cancel()
            loop.remove_reader(self.inotify.fileno())
            self.inotify.close()

    def _take(self, event: Event, batch: _Batch) -> None:
        wd, mask, _cookie, name = event
        if mask & flags.Q_OVERFLOW:
            self._rescan(batch)
            return
        folder = self.folders.get(wd)
        if folder is None:
            return
        if mask & GONE and not name:
            self._forget(folder)
            return
        path = os.path.join(folder, name)
        is_dir = bool(mask & flags.ISDIR)
        if is_dir and mask & DELETED:
            self._forget(path)
        if not self.filter(_change(mask), path):
            return
        batch.changes.add((_change(mask), path))
        if not is_dir:
            batch.note(path, mask)
        elif mask & ADDED and self.recursive:
            self._add(path, batch.changes)

    def _rescan(self, batch: _Batch) -> None:
        """The kernel's queue overflowed and events were lost: every file watched is a
        change (the build decides by content what really changed)."""
        for folder in list(self.folders.values()):
            with contextlib.suppress(OSError):
                for entry in os.scandir(folder):
                    if not entry.is_dir() and self.filter(Change.modified, entry.path):
                        batch.changes.add((Change.modified, entry.path))


class _Batch:
    """The changes so far, and the files still in the middle of a save (`open_writes`): the
    batch ends at once only when there are none."""

    def __init__(self) -> None:
        self.changes: set[tuple[Change, str]] = set()
        self.open_writes: set[str] = set()
        self.created: set[str] = set()  # made in this batch

    def note(self, path: str, mask: int) -> None:
        """A file's event. It is in the middle of a save when written and not yet closed, or
        when it was there before and is gone: many editors rename the old file away (vim's
        backup) or delete it before they write the new one. A file made in this batch and
        gone again is a tool's temporary, renamed over the real one."""
        if mask & ADDED:
            self.created.add(path)
        if mask & DELETED and path not in self.created:
            self.open_writes.add(path)
        elif mask & COMPLETE:
            self.open_writes.discard(path)
        elif mask & PARTIAL:
            self.open_writes.add(path)


def _change(mask: int) -> Change:
    if mask & ADDED:
        return Change.added
    if mask & DELETED:
        return Change.deleted
    return Change.modified
