"""The crates that are hot: the app's own, every other crate of its workspace and every path
dependency. Registry crates (and std) stay cold.

    workspace = read_workspace(crate_dir, toolchain)    `cargo metadata`, once per session
    workspace.root          where cargo runs rustc: DWARF's and the source snapshots' paths
                            are relative to it (absolute for a path dependency outside it)
    workspace.crates        each local package's library: its crate name and folder
    workspace.source_roots  the folders whose `.rs` files are snapshotted on every save

A local crate other than the app reaches the link as an rlib. Its codegen units are the rlib's
members (`member_objects`): they are hashed and stored like the app's own objects, so an edit
to a member crate patches exactly the units cargo rebuilt in it, and with them the app's units
that instantiate its generics (rustc monomorphises those into the caller's units).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rust_hmr.cargo_build import BuildError
from rust_hmr.shim import LinkManifest, ObjectFile
from rust_hmr.shim.capture import ObjectHashes, store_object
from rust_hmr.shim.whole_archives import members, rlib_digest
from rust_hmr.toolchain import Toolchain

__all__ = [
    "LocalCrate", "Workspace", "add_members", "member_objects", "read_workspace", "rlib_crate",
    "workspace_of",
]

_LIBRARY_KINDS = frozenset({"lib", "rlib", "cdylib", "dylib"})


@dataclass(frozen=True)
class LocalCrate:
    """A library of a path package: its crate name (`model`, dashes made underscores) and
    the package's folder."""

    name: str
    folder: Path


@dataclass(frozen=True)
class Workspace:
    root: Path
    crates: tuple[LocalCrate, ...]

    @property
    def crate_names(self) -> set[str]:
        return {crate.name for crate in self.crates}

    @property
    def source_roots(self) -> tuple[Path, ...]:
        """The root, and each local package that lies outside it."""
        outside = [c.folder for c in self.crates if not c.folder.is_relative_to(self.root)]
        return (self.root, *dict.fromkeys(outside))

    def is_local_rlib(self, rlib: str) -> bool:
        return rlib.endswith(".rlib") and rlib_crate(rlib) in self.crate_names


def rlib_crate(rlib: str) -> str:
    """The crate name in an rlib's file name: `libmodel-1a2b3c.rlib` -> `model`."""
    stem = Path(rlib).name.removeprefix("lib").removesuffix(".rlib")
    return stem.rsplit("-", 1)[0]


def read_workspace(crate_dir: Path, toolchain: Toolchain,
                   env: Mapping[str, str] | None = None) -> Workspace:
    """The workspace of the crate at `crate_dir`, from `cargo metadata` (offline; it reads
    Cargo.toml files and Cargo.lock, and builds nothing)."""
    cmd = toolchain.cargo_command("metadata", "--format-version", "1", "--offline",
                                  "--manifest-path", str(crate_dir / "Cargo.toml"))
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=crate_dir,
                              env=None if env is None else dict(env))
    except OSError as err:
        raise BuildError(f"cannot run cargo metadata: {err}") from None
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["(no message)"])[-1]
        raise BuildError(f"cargo metadata failed for {crate_dir}: {last}")
    try:
        return workspace_of(json.loads(proc.stdout))
    except (ValueError, KeyError, TypeError) as err:
        raise BuildError(f"cargo metadata gave an answer rust-hmr can't read: {err}") from None


def workspace_of(metadata: Mapping[str, Any]) -> Workspace:
    """The workspace in `cargo metadata`'s JSON: path packages are those without a source."""
    crates = [LocalCrate(str(target["name"]).replace("-", "_"),
                         Path(package["manifest_path"]).parent)
              for package in metadata["packages"] if package.get("source") is None
              for target in package["targets"]
              if _LIBRARY_KINDS & set(target.get("kind", []))]
    return Workspace(Path(metadata["workspace_root"]), tuple(crates))


def member_objects(rlibs: Iterable[str], archives: Path, store: Path,
                   hashes: ObjectHashes) -> list[ObjectFile]:
    """The codegen units of the local `rlibs`, as objects named `<rlib>(<member>)`: their
    members are extracted once per rlib content into `archives`, then hashed (unchanged
    files are not read again) and stored by content in `store` like the app's own objects."""
    store.mkdir(parents=True, exist_ok=True)
    out = []
    for rlib in rlibs:
        for member in members(Path(rlib), archives):
            path = Path(member)
            name = f"{rlib}({path.name.split('-', 1)[1]})"
            digest, size = hashes.digest(name, path)
            out.append(ObjectFile(name, digest, size, store_object(path, digest, store)))
    return out


def add_members(manifest: LinkManifest, workspace: Workspace, archives: Path, store: Path,
                hashes: ObjectHashes) -> None:
    """Fill in the manifest's `members` (the local rlibs' codegen units) and `rlib_digests`
    (every other rlib). Raises OSError or ArchiveError when an rlib can't be read."""
    rlibs = [rlib for rlib in manifest.rlibs if rlib.endswith(".rlib")]
    local = [rlib for rlib in rlibs if workspace.is_local_rlib(rlib)]
    manifest.members = member_objects(local, archives, store, hashes)
    manifest.rlib_digests = {rlib: rlib_digest(Path(rlib), archives)
                             for rlib in rlibs if rlib not in local}
