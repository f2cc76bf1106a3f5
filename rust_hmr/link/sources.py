"""The source text the live code was compiled from, and how an edit moved its lines.

The patch linker matches a function of the new objects to the live one it is by where it is
declared (DWARF's `decl_file`/`decl_line`), so it needs the old text of each file beside the
new one: a line of the old text maps to a line of the new text when it lies in a stretch the
edit did not touch. Snapshots are stored by their blake3 under the build's directory; the ledger
names the snapshot of each file that the live code was compiled from.
"""

import difflib
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import blake3

from rust_hmr.atomic import write_atomic

_SKIP_DIRS = {"target", ".git", "node_modules"}


def crate_sources(crate: Path) -> Iterator[tuple[str, os.DirEntry[str]]]:
    """Every Rust source file of the crate, build outputs left out: (crate-relative path, its
    directory entry). Plain strings and `os.scandir`: this runs on every save."""
    pending = [("", str(crate))]
    while pending:
        prefix, folder = pending.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                if entry.name not in _SKIP_DIRS and not entry.name.startswith("."):
                    pending.append((f"{prefix}{entry.name}/", entry.path))
            elif entry.name.endswith(".rs"):
                yield f"{prefix}{entry.name}", entry


_RACY_NS = 2_000_000_000  # a file changed this close to its last reading is read again


class Snapshots:
    """Stores the sources by content, on every save: every `.rs` file under `root` (named
    relative to it) and under each of `more_roots` (named by their absolute paths), as DWARF
    names them when rustc runs in `root`.

    A file whose size and mtime are those of the last reading is not read again, unless that
    mtime lay within `_RACY_NS` of the reading (a coarse clock could hide a second save in the
    same tick, as git's "racily clean" entries)."""

    def __init__(self, root: Path, store: Path, more_roots: Sequence[Path] = ()) -> None:
        self.root = root
        self.more_roots = tuple(more_roots)
        self.store = store
        self._seen: dict[str, tuple[int, int, int, str]] = {}  # size, mtime, read at, blake3

    def take(self) -> dict[str, str]:
        """Source name -> blake3 of every source file, each stored under its blake3."""
        self.store.mkdir(parents=True, exist_ok=True)
        out = {}
        roots = [("", self.root), *((f"{root}/", root) for root in self.more_roots)]
        for prefix, root in roots:
            for relative, entry in crate_sources(root):
                digest = self._digest(entry)
                if digest is not None:
                    out[prefix + relative] = digest
        return out

    def _digest(self, entry: os.DirEntry[str]) -> str | None:
        try:
            stat = entry.stat()
            seen = self._seen.get(entry.path)
            if (seen is not None and seen[:2] == (stat.st_size, stat.st_mtime_ns)
                    and stat.st_mtime_ns < seen[2] - _RACY_NS):
                return seen[3]
            read_at = time.time_ns()
            with open(entry.path, "rb") as file:
                data = file.read()
        except OSError:
            return None  # deleted while we walked: the compiler will say so
        digest = blake3.blake3(data).hexdigest()
        kept = self.store / digest
        if not kept.exists():
            write_atomic(kept, data)
        self._seen[entry.path] = (stat.st_size, stat.st_mtime_ns, read_at, digest)
        return digest


def snapshot(crate: Path, store: Path) -> dict[str, str]:
    """Store the crate's sources by content; returns crate-relative path -> blake3."""
    return Snapshots(crate, store).take()


@dataclass(frozen=True)
class LineMap:
    """Old line number (1-based) -> new line number, for the lines the edit left alone."""

    moved: Mapping[int, int]

    def __call__(self, old_line: int) -> int | None:
        return self.moved.get(old_line)


def line_map(old: str, new: str) -> LineMap:
    if old == new:
        return LineMap(_Identity())
    a, b = old.splitlines(), new.splitlines()
    moved: dict[int, int] = {}
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for tag, i1, i2, j1, _ in matcher.get_opcodes():
        if tag == "equal":
            for k in range(i2 - i1):
                moved[i1 + k + 1] = j1 + k + 1
    return LineMap(moved)


class _Identity(Mapping[int, int]):
    """The map of a file the edit did not touch."""

    def __getitem__(self, key: int) -> int:
        return key

    def __iter__(self) -> Iterator[int]:
        return iter(())

    def __len__(self) -> int:
        return 0


class SourceHistory:
    """Line maps between the snapshot the live code came from and the current text."""

    def __init__(self, store: Path, live: Mapping[str, str],
                 current: Mapping[str, str]) -> None:
        self.store = store
        self.live = live
        self.current = current
        self._maps: dict[str, LineMap | None] = {}

    def map_for(self, file: str) -> LineMap | None:
        """The line map of a crate-relative file; None when either text is unknown."""
        if file not in self._maps:
            self._maps[file] = self._compute(file)
        return self._maps[file]

    def _compute(self, file: str) -> LineMap | None:
        old, new = self.live.get(file), self.current.get(file)
        if old is None or new is None:
            return None
        if old == new:
            return LineMap(_Identity())
        try:
            return line_map((self.store / old).read_text(errors="replace"),
                            (self.store / new).read_text(errors="replace"))
        except OSError:
            return None
