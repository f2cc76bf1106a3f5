"""The crate a rule set builds: its name, its settings, the files that decide a compile, and
where each stage keeps its outputs (`<crate>/target/rust-hmr/stages/<stage>/`)."""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import blake3

from rust_hmr.settings import METADATA_KEY, Settings

__all__ = ["Crate"]

_DEPENDENCY_TABLES = ("dependencies", "build-dependencies")


@dataclass(frozen=True)
class Crate:
    """A cargo crate directory and its rust-hmr settings."""

    dir: Path
    settings: Settings

    @cached_property
    def name(self) -> str:
        """The name of cargo's wasm artifact (the lib name, dashes turned into underscores)."""
        from rust_hmr.cargo_build import crate_name

        return crate_name(self.dir)

    @property
    def target_dir(self) -> Path:
        """cargo's target directory for rust-hmr builds (see `rust_hmr.cargo_build`)."""
        return self.dir / "target" / "rust-hmr"

    def stage_dir(self, stage: str) -> Path:
        """Where a stage keeps its outputs: `compile:release` -> `stages/compile-release`."""
        return self.target_dir / "stages" / stage.replace(":", "-")

    @property
    def dist_dir(self) -> Path:
        return self.settings.path(self.dir, "dist_dir")

    @property
    def static_dir(self) -> Path:
        return self.settings.path(self.dir, "static_dir")

    @cached_property
    def manifest(self) -> dict[str, Any]:
        return tomllib.loads((self.dir / "Cargo.toml").read_text())

    @cached_property
    def manifest_blake3(self) -> str:
        """blake3 of Cargo.toml as data, without `[package.metadata.rust-hmr]`: changing a
        rust-hmr setting does not make the compile stages run again."""
        data = json.loads(json.dumps(self.manifest, default=str))
        package = data.get("package", {})
        package.get("metadata", {}).pop(METADATA_KEY, None)
        if package.get("metadata") == {}:
            del package["metadata"]
        canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
        return blake3.blake3(canonical.encode()).hexdigest()

    @cached_property
    def sources(self) -> dict[str, Path]:
        """Every file a compile reads, by its path relative to the crate (the names that enter
        the action keys, the same in every checkout): `src/**`, `build.rs`, `Cargo.lock`,
        `.cargo/config.toml`, and the same of each path dependency (with its Cargo.toml).
        The crate's own Cargo.toml enters as `manifest_blake3` instead."""
        found: dict[str, Path] = {}
        seen: set[Path] = set()
        self._collect(self.dir.resolve(), found, seen, own=True)
        lock = self._lock_file()
        if lock is not None:
            found[_relative(lock, self.dir)] = lock
        return dict(sorted(found.items()))

    def _collect(self, crate: Path, found: dict[str, Path], seen: set[Path], own: bool) -> None:
        if crate in seen:
            return
        seen.add(crate)
        for path in _crate_files(crate, own):
            found[_relative(path, self.dir)] = path
        manifest = self.manifest if own else _read_toml(crate / "Cargo.toml")
        for dep in _path_dependencies(manifest):
            dep_dir = (crate / dep).resolve()
            if (dep_dir / "Cargo.toml").is_file():
                self._collect(dep_dir, found, seen, own=False)

    def _lock_file(self) -> Path | None:
        """Cargo.lock of the crate, or of the workspace it sits in."""
        for place in (self.dir.resolve(), *self.dir.resolve().parents):
            if (place / "Cargo.lock").is_file():
                return place / "Cargo.lock"
            if not (place.parent / "Cargo.toml").is_file():
                return None
        return None


def _crate_files(crate: Path, own: bool) -> Iterator[Path]:
    if not own:
        yield crate / "Cargo.toml"
    for name in ("build.rs", ".cargo/config.toml", ".cargo/config"):
        if (crate / name).is_file():
            yield crate / name
    src = crate / "src"
    if src.is_dir():
        for path in sorted(src.rglob("*")):
            if path.is_file() and not _is_scratch(path.name):
                yield path


def _is_scratch(name: str) -> bool:
    """Editor backups and lock files, which never reach rustc."""
    return name.startswith((".#", "#")) or name.endswith(("~", ".swp", ".swx", ".tmp"))


def _path_dependencies(manifest: Mapping[str, Any]) -> Iterator[str]:
    tables = [manifest.get(name, {}) for name in _DEPENDENCY_TABLES]
    for target in manifest.get("target", {}).values():
        tables += [target.get(name, {}) for name in _DEPENDENCY_TABLES]
    for table in tables:
        for spec in table.values():
            if isinstance(spec, dict) and isinstance(spec.get("path"), str):
                yield spec["path"]


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return {}


def _relative(path: Path, base: Path) -> str:
    """`path` relative to `base`, with `..` where it lies outside, in posix form."""
    return Path(os.path.relpath(path, base.resolve())).as_posix()
