"""The transformed tree cargo builds when a crate has plugins.

    tree = plug(crate_dir, target_dir, plugins)   before each cargo build
    tree.crate_dir      the crate inside the tree: what cargo builds
    tree.original(p)    a path of the tree as the user's (compile inputs, messages)

The tree mirrors the workspace root (the crate's folder when it has no workspace) under
`<target>/plugged/`: every file hard-linked to the user's, except the `.rs` files a plugin
changed, which are written out. A file is written only when its text differs from what the tree
has, and a link is remade only when it no longer is the user's file, so cargo sees the same
mtimes as without plugins and its incremental cache holds. Files the user deleted go from the
tree too. Relative paths inside the workspace (path dependencies, `include_str!`, `#[path]`)
resolve as they do in the user's tree, and rustc, run from the tree's root, names files by the
same relative paths, so diagnostics and debug info point at the user's files and, since a
transform keeps every line in place, at the user's lines.
"""

from __future__ import annotations

import os
import shutil
import tomllib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rust_hmr.atomic import write_atomic
from rust_hmr.compile_inputs import CompileInputs, workspace_root
from rust_hmr.plugins.load import PluginError

__all__ = ["PLUGGED", "PluggedTree", "plug"]

PLUGGED = "plugged"
_SKIP_DIRS = frozenset({"target", "node_modules"})
_KEPT = frozenset({"Cargo.lock"})  # cargo may write one in the tree: not the user's to lose


@dataclass(frozen=True)
class PluggedTree:
    source: Path  # the workspace root as the user has it
    mirror: Path  # its transformed copy

    def crate_dir(self, crate: Path) -> Path:
        return self.mirror / crate.relative_to(self.source)

    def original(self, path: Path) -> Path:
        """`path` with the tree's root replaced by the user's (others unchanged)."""
        return self.source / path.relative_to(self.mirror) if path.is_relative_to(
            self.mirror) else path

    def original_text(self, text: str) -> str:
        """cargo's and rustc's output with the tree's paths as the user's."""
        return text.replace(str(self.mirror), str(self.source))

    def original_inputs(self, inputs: CompileInputs) -> CompileInputs:
        return CompileInputs(tuple(sorted({self.original(p) for p in inputs.files})),
                             inputs.env)


def plug(crate_dir: Path, target_dir: Path, plugins: Sequence[Any]) -> PluggedTree:
    """Bring the transformed tree of `crate_dir`'s workspace up to date; raises PluginError
    (one line: the plugin, the file and what is wrong)."""
    source = workspace_root(crate_dir.resolve())
    tree = PluggedTree(source, target_dir.resolve() / PLUGGED)
    skip = {tree.mirror, target_dir.resolve()}
    seen: set[str] = set()
    for relative, path in _files(source, skip):
        seen.add(relative)
        if path.name == "Cargo.toml":
            _refuse_paths_outside(path, source)
        dest = tree.mirror / relative
        if path.suffix == ".rs":
            text = path.read_text(errors="surrogateescape")
            new = transformed(relative, text, plugins)
            if new != text:
                _write_if_changed(dest, new)
                continue
        _link(path, dest)
    _remove_stale(tree.mirror, seen)
    return tree


def transformed(file: str, text: str, plugins: Sequence[Any]) -> str:
    """`text` through every plugin's `transform`, each checked to keep the lines in place."""
    for plugin in plugins:
        transform = getattr(plugin, "transform", None)
        if transform is None:
            continue
        try:
            new = transform(file, text)
        except PluginError:
            raise
        except Exception as err:  # user code
            raise PluginError(f"plugin {plugin.name} failed on {file}: "
                              f"{type(err).__name__}: {err}") from None
        if not isinstance(new, str):
            raise PluginError(f"plugin {plugin.name} gave {type(new).__name__} for {file}, "
                              f"not the file's text")
        if new.count("\n") != text.count("\n"):
            raise PluginError(
                f"plugin {plugin.name} changed the number of lines of {file} "
                f"({text.count(chr(10))} -> {new.count(chr(10))}): a transform must keep every "
                f"line where it is, so that errors and the debug info point at your lines")
        text = new
    return text


def _files(root: Path, skip: set[Path]) -> Iterator[tuple[str, Path]]:
    """Every file under `root` (posix path relative to it, path), build outputs, hidden
    folders (but cargo's `.cargo`) and `skip` left out."""
    pending = [root]
    while pending:
        folder = pending.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            path = Path(entry.path)
            if entry.is_dir(follow_symlinks=False):
                if (entry.name not in _SKIP_DIRS and path not in skip
                        and (not entry.name.startswith(".") or entry.name == ".cargo")):
                    pending.append(path)
            elif entry.is_file():
                yield path.relative_to(root).as_posix(), path


def _link(source: Path, dest: Path) -> None:
    """`dest` becomes the user's file (a hard link; a copy with its mtime across devices)."""
    try:
        have, want = dest.stat(), source.stat()
    except FileNotFoundError:
        pass
    else:
        if (have.st_ino, have.st_dev) == (want.st_ino, want.st_dev):
            return
        if have.st_nlink == 1 and (have.st_size, have.st_mtime_ns) == (want.st_size,
                                                                        want.st_mtime_ns):
            return  # a copy made across devices, still current
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.link")
    tmp.unlink(missing_ok=True)
    try:
        os.link(source, tmp)
    except OSError:
        shutil.copy2(source, tmp)
    os.replace(tmp, dest)


def _write_if_changed(dest: Path, text: str) -> None:
    data = text.encode(errors="surrogateescape")
    try:
        if dest.stat().st_nlink == 1 and dest.read_bytes() == data:
            return
    except FileNotFoundError:
        dest.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(dest, data)  # a new file: never through a link into the user's


def _remove_stale(mirror: Path, seen: set[str]) -> None:
    for relative, path in list(_files(mirror, set())):
        if relative not in seen and relative not in _KEPT:
            path.unlink(missing_ok=True)


_DEPENDENCY_TABLES = ("dependencies", "build-dependencies", "dev-dependencies")


def _refuse_paths_outside(manifest: Path, root: Path) -> None:
    """A path dependency outside the workspace would not be found from the tree."""
    try:
        data = tomllib.loads(manifest.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return  # cargo gives its own error
    tables = [data.get(name, {}) for name in _DEPENDENCY_TABLES]
    tables += [t.get(name, {}) for t in data.get("target", {}).values() if isinstance(t, dict)
               for name in _DEPENDENCY_TABLES]
    for table in tables:
        for name, spec in table.items() if isinstance(table, dict) else ():
            path = spec.get("path") if isinstance(spec, dict) else None
            if isinstance(path, str):
                where = (manifest.parent / path).resolve()
                if not where.is_relative_to(root):
                    raise PluginError(
                        f"{manifest}: the path dependency {name} ({path}) lies outside the "
                        f"workspace at {root}: plugins transform the workspace's own tree, so "
                        f"move it into the workspace (or make it a member)")
