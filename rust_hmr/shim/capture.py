"""Capture mode without Python: the launcher's own POSIX sh records the link and keeps the objects;
the dev process reads what it kept.

On the patch path cargo calls the linker once per rebuild, and starting Python for it (with the
shim's imports) cost more than everything else we do. In capture mode the launcher therefore
never starts Python, and starts three small programs in all (mkdir, ln, mv). It writes its
arguments, one per line, to `<capture>/args`, and hard-links every `*.o` argument into the
folder under its own name, in one `ln`: rustc deletes its objects after the link, and a hard
link keeps the bytes without copying them. The folder is made under a temporary name and
renamed into place, so a reader never sees half of one. A link line that names a response file
(`@file`, which may list objects), two objects of one name, or objects on another file system
are left to the Python shim.

`read_capture` turns the folder into the `LinkManifest` the shim would have written, hashing
only the objects whose inode, size or mtime changed since the last capture (rustc hard-links
the codegen units it reuses from its incremental cache, so those keep all three).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import blake3

from rust_hmr.shim.link_manifest import LinkManifest, ObjectFile, split_link_line

__all__ = ["CAPTURE_SH", "CaptureError", "ObjectHashes", "read_capture", "store_object"]

ARGS = "args"

# The sh part of the launcher: `$1...` are the linker's arguments. Exits 0 when it captured,
# falls through (to the Python shim) when it can't. The objects are picked by position rather
# than by growing "$@" one at a time, which is quadratic in dash: 70 ms on a 257-unit link
# line, against 12 ms this way (most of it `ln`).
CAPTURE_SH = r"""
link_objects() {  # a folder, then the link line: hard-links the line's objects into the folder
    folder=$1
    shift
    i=0
    objects=  # "${3}" "${7}" ...: the objects by position, so eval never sees a path's text
    for arg do
        i=$((i + 1))
        case $arg in *.o) objects="$objects \"\${$i}\"" ;; esac
    done
    [ -z "$objects" ] || eval "ln -f -- $objects \"\$folder/\"" 2>/dev/null
}
if [ "${RUST_HMR_SHIM_MODE:-}" = capture ] && [ -n "${RUST_HMR_SHIM_CAPTURE:-}" ]; then
    capture=$RUST_HMR_SHIM_CAPTURE
    for arg do
        case $arg in @*) capture= ;; esac
    done
    if [ -n "$capture" ]; then
        [ ! -e "$capture.tmp" ] || rm -rf "$capture.tmp"
        mkdir -p "$capture.tmp" && printf '%s\n' "$@" > "$capture.tmp/args" || exit 2
        if link_objects "$capture.tmp" "$@"; then
            [ ! -e "$capture" ] || rm -rf "$capture"
            mv "$capture.tmp" "$capture" || exit 2
            exit 0
        fi
        rm -rf "$capture.tmp"  # two objects of one name, another file system: Python
    fi
fi
"""

class CaptureError(RuntimeError):
    """The capture folder is missing or not one the launcher wrote."""


@dataclass
class ObjectHashes:
    """blake3 of objects by (path, inode, size, mtime): an unchanged object is not read."""

    known: dict[tuple[str, int, int, int], str] = field(default_factory=dict)

    def digest(self, name: str, path: str | Path) -> tuple[str, int]:
        stat = os.stat(path)
        key = (name, stat.st_ino, stat.st_size, stat.st_mtime_ns)
        digest = self.known.get(key)
        if digest is None:
            with open(path, "rb") as f:
                digest = blake3.blake3(f.read()).hexdigest()
            self.known[key] = digest
        return digest, stat.st_size


def read_capture(capture: Path, store: Path, crate: str,
                 hashes: ObjectHashes | None = None) -> LinkManifest:
    """The manifest of the link the launcher captured into `capture` for `crate`; each object
    gets a content-addressed copy in `store` (a hard link where it can)."""
    hashes = hashes or ObjectHashes()
    try:
        args = (capture / ARGS).read_text().splitlines()
    except OSError as err:
        raise CaptureError(f"no captured link in {capture}: {err.strerror or err}") from None
    args = args[2:] if args[:2] == ["-flavor", "wasm"] else args
    store.mkdir(parents=True, exist_ok=True)
    objects: dict[str, ObjectFile] = {}
    folder = str(capture)  # os.path, not pathlib: this runs for every object on every save
    for arg in args:
        if not arg.endswith(".o"):
            continue
        kept = os.path.join(folder, os.path.basename(arg))
        try:
            digest, size = hashes.digest(arg, kept)
        except FileNotFoundError:
            raise CaptureError(f"the captured link in {capture} lacks the object {arg}") from None
        objects[arg] = ObjectFile(arg, digest, size, store_object(kept, digest, store))
    manifest, paths = split_link_line(args, "capture", crate)
    manifest.objects = [objects[path] for path in paths]
    return manifest


def store_object(source: str | Path, digest: str, store: Path) -> str:
    """The path of the content-addressed copy of an object whose blake3 is `digest`: a hard
    link to `source` where it can, made once."""
    stored = os.path.join(store, f"{digest}.o")
    if not os.path.exists(stored):
        _link_or_copy(Path(source), Path(stored))
    return stored


def _link_or_copy(source: Path, target: Path) -> None:
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        os.link(source, tmp)
    except OSError:
        tmp.write_bytes(source.read_bytes())
    os.replace(tmp, target)
