"""The link manifest: what rustc asked the linker to link, as msgpack."""

import os
import shlex
import stat
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import msgpack

ENV_MODE = "RUST_HMR_SHIM_MODE"  # "link" (default) or "capture"
ENV_MANIFEST = "RUST_HMR_SHIM_MANIFEST"  # where to write the manifest
ENV_OBJECT_STORE = "RUST_HMR_SHIM_OBJECTS"  # content-addressed copies of the crate's objects
ENV_LINKER = "RUST_HMR_SHIM_LINKER"  # the real wasm-ld command line, shell-quoted

# Keep and export every symbol, keep the function table exported and growable, keep the
# relocations: what the main-module rewrite and the patch linker need. lld refuses to export
# the mutable `__stack_pointer` unless the crate is compiled with +mutable-globals.
HMR_LINK_ARGS = (
    "--export-all",
    "--growable-table",
    "--export-table",
    "--emit-relocs",
    "--export=__stack_pointer",
)


@dataclass(frozen=True)
class ObjectFile:
    """One of the crate's codegen-unit objects: where rustc had it, and its stored copy."""

    path: str
    blake3: str
    size: int
    stored: str


@dataclass
class LinkManifest:
    """One link line, split into what later stages need."""

    mode: str
    crate: str
    output: str
    objects: list[ObjectFile] = field(default_factory=list)
    rlibs: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    args: list[str] = field(default_factory=list)
    """The whole link line as rustc gave it (`-flavor` removed), to link again later."""

    def relink_args(self) -> list[str]:
        """The link line with each object replaced by its stored copy (rustc deleted the
        originals), for linking a captured build without cargo."""
        stored = {o.path: o.stored for o in self.objects}
        return [stored.get(arg, arg) for arg in self.args]

    def dump(self, path: Path) -> None:
        data = msgpack.packb(asdict(self), use_bin_type=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> "LinkManifest":
        raw = msgpack.unpackb(path.read_bytes(), raw=False)
        raw["objects"] = [ObjectFile(**o) for o in raw["objects"]]
        return cls(**raw)


def write_launcher(path: Path) -> Path:
    """An executable that runs the shim with this Python; rewritten only when it changes, so
    the `-C linker=` path (and cargo's fingerprint of it) stays the same between builds."""
    text = f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m rust_hmr.shim "$@"\n'
    if not path.exists() or path.read_text() != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(text)
        tmp.chmod(tmp.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        os.replace(tmp, path)
    return path
