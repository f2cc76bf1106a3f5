"""The link manifest: what rustc asked the linker to link, as msgpack."""

import shlex
import sys
from dataclasses import dataclass, field, fields
from pathlib import Path

import msgpack

from rust_hmr.atomic import write_atomic

ENV_MODE = "RUST_HMR_SHIM_MODE"  # "link" (default) or "capture"
ENV_MANIFEST = "RUST_HMR_SHIM_MANIFEST"  # where to write the manifest
ENV_OBJECT_STORE = "RUST_HMR_SHIM_OBJECTS"  # content-addressed copies of the crate's objects
ENV_LINKER = "RUST_HMR_SHIM_LINKER"  # the real wasm-ld command line, shell-quoted
# In capture mode: the folder the launcher's sh writes the link line and the objects into
# (`rust_hmr.shim.capture`); without it, capture mode runs the Python shim.
ENV_CAPTURE = "RUST_HMR_SHIM_CAPTURE"
# "1": link every rlib's objects whole (dev builds, see `rust_hmr.shim.whole_archives`); they
# are extracted once into `archives/` next to the manifest. cargo does not fingerprint it:
# switching it relinks only at the next change to the crate.
ENV_WHOLE_ARCHIVES = "RUST_HMR_SHIM_WHOLE_ARCHIVES"

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

# After rustc's `--gc-sections`: keep what the whole archives bring even when nothing uses it.
WHOLE_ARCHIVE_LINK_ARGS = ("--no-gc-sections",)


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
    whole_archives: dict[str, list[str]] = field(default_factory=dict)
    """The rlibs linked whole, each with its extracted objects (linked in its place)."""
    members: list[ObjectFile] = field(default_factory=list)
    """The codegen units of the workspace's other crates, from their rlibs (`<rlib>(<member>)`,
    see `rust_hmr.workspace`): hot like `objects`, but linked through their rlibs."""
    rlib_digests: dict[str, str] = field(default_factory=dict)
    """blake3 of every other rlib (registry crates, std): their code is cold, so a change to
    one can't be patched."""

    @property
    def exported(self) -> list[str]:
        """The names rustc asked the linker to export (`--export NAME`, `--export=NAME`): the
        app's own exports, beside which `--export-all` exports every symbol."""
        names = [self.args[i + 1] for i, arg in enumerate(self.args[:-1]) if arg == "--export"]
        return names + [arg.split("=", 1)[1] for arg in self.args
                        if arg.startswith("--export=")]

    @property
    def hot_objects(self) -> list[ObjectFile]:
        """Every codegen unit whose functions are hot: the crate's own and its members'."""
        return [*self.objects, *self.members]

    def link_args(self, args: list[str] | None = None) -> list[str]:
        """`args` (default: the link line as rustc gave it) with each whole-linked rlib
        replaced by its objects, and the arguments that keep them all."""
        args = self.args if args is None else args
        if not self.whole_archives:
            return list(args)
        out: list[str] = []
        for arg in args:
            out += self.whole_archives.get(arg, [arg])
        return [*out, *WHOLE_ARCHIVE_LINK_ARGS]

    def relink_args(self) -> list[str]:
        """The link line with each object replaced by its stored copy (rustc deleted the
        originals), for linking a captured build without cargo."""
        stored = {o.path: o.stored for o in self.objects}
        return self.link_args([stored.get(arg, arg) for arg in self.args])

    def dump(self, path: Path) -> None:
        """Written as `asdict` would give it, without its deep copy (every save writes one
        with hundreds of paths)."""
        record = {f.name: getattr(self, f.name) for f in fields(self)}
        for name in ("objects", "members"):
            record[name] = [vars(o) for o in record[name]]
        write_atomic(path, msgpack.packb(record, use_bin_type=True))

    @classmethod
    def load(cls, path: Path) -> "LinkManifest":
        raw = msgpack.unpackb(path.read_bytes(), raw=False)
        raw["objects"] = [ObjectFile(**o) for o in raw["objects"]]
        raw["members"] = [ObjectFile(**o) for o in raw.get("members", [])]
        return cls(**raw)


_PAIRED = ("-o", "-L", "-l", "-z", "-m", "--export", "--undefined")


def split_link_line(args: list[str], mode: str, crate: str) -> tuple[LinkManifest, list[str]]:
    """The manifest of a link line (its objects still to be stored), and the objects' paths."""
    output = args[args.index("-o") + 1] if "-o" in args else ""
    manifest = LinkManifest(mode=mode, crate=crate, output=output, args=list(args))
    objects: list[str] = []
    skip_next = False
    for i, arg in enumerate(args):
        if skip_next:
            skip_next = False
        elif arg in _PAIRED:
            manifest.flags += args[i : i + 2]
            skip_next = True
        elif arg.endswith(".o"):
            objects.append(arg)
        elif arg.endswith((".rlib", ".a")):
            manifest.rlibs.append(arg)
        else:
            manifest.flags.append(arg)
    return manifest, objects


def write_launcher(path: Path) -> Path:
    """An executable that captures in sh (`rust_hmr.shim.capture`) or runs the shim with this
    Python; rewritten only when it changes, so the `-C linker=` path (and cargo's fingerprint
    of it) stays the same between builds."""
    from rust_hmr.shim.capture import CAPTURE_SH

    text = (f"#!/bin/sh\n{CAPTURE_SH.strip()}\n"
            f'exec {shlex.quote(sys.executable)} -m rust_hmr.shim "$@"\n')
    if not path.exists() or path.read_text() != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, text, executable=True)
    return path
