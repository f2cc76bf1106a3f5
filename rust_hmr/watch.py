"""What the dev loop watches, and what a changed file means.

    plan = WatchPlan(crate, static_dir, page_files, outputs, inputs)
    plan.roots()          the folders to watch (recursively or not)
    plan.meaning(path)    REBUILD, RELOAD or IGNORE

A file the compiler read is a source wherever it lies: in `src/`, beside the crate (an
`include_str!` target, a `#[path]` module), in a path dependency, or seen through a symlink in
the static folder (`static/src -> ../src`, `static-dir = "."`). Only then does the static
folder count: its files reload the pages. The build's own outputs (the target and dist
folders) and the files this process writes its output to (a log in the static folder) are
never a change at all, or every save would be answered by another.
"""

from __future__ import annotations

import enum
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from stat import S_ISREG

from watchfiles import Change, DefaultFilter

__all__ = ["Meaning", "SourceFilter", "WatchPlan", "own_output_files", "settled"]

# Files that always decide a compile, before any build has said what it read
_CRATE_FILES = ("Cargo.toml", "Cargo.lock", "build.rs", ".cargo/config.toml", ".cargo/config")


class SourceFilter(DefaultFilter):
    """watchfiles' default filter (VCS folders, caches, `.swp`, `~`...) plus `target/` and the
    other files editors and tools write beside the one saved (vim's `4913` probe, `#emacs#`
    autosaves, `.bak`, `.orig`, `.tmp`, `sed -i`'s `sedXXXXXX`)."""

    ignore_dirs = (*DefaultFilter.ignore_dirs, "target")
    ignore_entity_patterns = (*DefaultFilter.ignore_entity_patterns, r"^4913$", r"^#.*#$",
                              r"\.(bak|orig|tmp|kate-swp)$", r"^sed[A-Za-z0-9]{6}$")

    def __init__(self, root: Path | None = None) -> None:
        super().__init__()
        self.root = root

    def __call__(self, change: Change, path: str) -> bool:
        """Folders are judged below `root` only: a crate inside a folder named `target` (or
        `.git`...) is watched all the same."""
        if self.root is not None and Path(path).is_relative_to(self.root):
            path = str(Path(path).relative_to(self.root))
        return super().__call__(change, path)


class Meaning(enum.Enum):
    REBUILD = "rebuild"  # a source: compile, then patch or reload
    RELOAD = "reload"  # the page template or a static file
    IGNORE = "ignore"  # the build's own output, our log, or nothing the app uses


def own_output_files() -> frozenset[tuple[int, int]]:
    """(device, inode) of this process's stdout and stderr where they are regular files."""
    found = set()
    for stream in (sys.stdout, sys.stderr):
        try:
            stat = os.fstat(stream.fileno())
        except (AttributeError, OSError, ValueError):
            continue
        if S_ISREG(stat.st_mode):
            found.add((stat.st_dev, stat.st_ino))
    return frozenset(found)


def settled(changes: Iterable[tuple[Change, str]]) -> list[str]:
    """The paths of a batch of changes, less those both added and deleted within it (a tool's
    temporary file, renamed over the real one)."""
    seen: dict[str, set[Change]] = {}
    for change, path in changes:
        seen.setdefault(path, set()).add(change)
    return sorted(path for path, kinds in seen.items()
                  if not {Change.added, Change.deleted} <= kinds or os.path.exists(path))


@dataclass(frozen=True)
class WatchPlan:
    """The crate's folders and files, and the files its last compile read (`inputs`)."""

    crate: Path
    static_dir: Path
    page_files: tuple[Path, ...]
    outputs: tuple[Path, ...]  # the build's own folders: target/, dist/
    inputs: frozenset[Path] = frozenset()  # resolved
    own_files: frozenset[tuple[int, int]] = field(default_factory=own_output_files)

    def with_inputs(self, files: Iterable[Path]) -> WatchPlan:
        return WatchPlan(self.crate, self.static_dir, self.page_files, self.outputs,
                         frozenset(_resolved(p) for p in files), self.own_files)

    def roots(self) -> list[tuple[tuple[Path, ...], bool]]:
        """(folders, recursive) to watch: the crate's own files without recursion; its
        folders but the outputs and hidden ones, recursively; the static folder if it lies
        elsewhere; and the folder of every input outside those, without recursion."""
        crate = self.crate
        folders = [p for p in sorted(crate.iterdir()) if p.is_dir()
                   and p.name != "target" and not p.name.startswith(".")
                   and not self._is_output(p)]
        static = _resolved(self.static_dir)
        if static.is_dir() and not static.is_relative_to(crate):
            folders.append(static)
        covered = [crate, *folders]
        loose = sorted({path.parent for path in self.inputs
                        if path.parent != crate
                        and not any(path.is_relative_to(f) for f in covered[1:])
                        and path.parent.is_dir()})
        roots: list[tuple[tuple[Path, ...], bool]] = [((crate, *loose), False)]
        if folders:
            roots.append((tuple(folders), True))
        return roots

    def meaning(self, path: Path) -> Meaning:
        real = _resolved(path)
        if self._is_output(real) or self._is_own_output(real):
            return Meaning.IGNORE
        if self._is_source(real):
            return Meaning.REBUILD
        if path in self.page_files or real in self.page_files:
            return Meaning.RELOAD
        if path.is_relative_to(self.static_dir) or real.is_relative_to(
                _resolved(self.static_dir)):
            return Meaning.RELOAD
        if path.is_relative_to(self.crate):
            return Meaning.REBUILD  # perhaps a file a source is about to include
        return Meaning.IGNORE

    def _is_source(self, real: Path) -> bool:
        crate = self.crate
        return (real in self.inputs or real.is_relative_to(crate / "src")
                or any(real == crate / name for name in _CRATE_FILES))

    def _is_output(self, real: Path) -> bool:
        return any(real.is_relative_to(out) for out in self.outputs)

    def _is_own_output(self, real: Path) -> bool:
        if not self.own_files:
            return False
        try:
            stat = real.stat()
        except OSError:
            return False
        return (stat.st_dev, stat.st_ino) in self.own_files


def _resolved(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # a symlink loop
        return path
