"""Capture mode without Python: the launcher's own POSIX sh records the link and keeps the objects;
the dev process reads what it kept.

On the patch path cargo calls the linker once per rebuild, and starting Python for it (with the
shim's imports) cost more than everything else we do. In capture mode the launcher therefore
never starts Python, and starts one program (ln): each program started costs about 1.8 ms, and
the `mkdir` and `mv` it used to start were two of them. The dev process makes the capture
folder, empty, before cargo runs (`open_capture`). The launcher writes its arguments, one per
line, to `<capture>/args`, hard-links every `*.o` argument into the folder under its own name,
in one `ln` (rustc deletes its objects after the link, and a hard link keeps the bytes without
copying them), and last writes the empty `<capture>/done` with the shell itself: a reader
takes a capture only when `done` is there (`captured`), so it never sees half of one. A link
line that names a response file (`@file`, which may list objects), two objects of one name,
objects on another file system, a second link in the same build, or no folder made for the
build are left to the Python shim (which writes the manifest itself); the launcher then
removes the folder, so no capture of an earlier link is taken for this one.

`read_capture` turns the folder into the `LinkManifest` the shim would have written, hashing
only the objects whose inode, size or mtime changed since the last capture (rustc hard-links
the codegen units it reuses from its incremental cache, so those keep all three).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import blake3

from rust_hmr.shim.link_manifest import LinkManifest, ObjectFile, split_link_line

__all__ = ["CAPTURE_SH", "CaptureError", "ObjectHashes", "captured", "open_capture",
           "read_capture", "store_object"]

ARGS = "args"
DONE = "done"  # written last: the capture is whole

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
    # the empty folder the dev process made for this build (args in it: a second link)
    if [ -n "$capture" ] && [ -d "$capture" ] && [ ! -e "$capture/args" ]; then
        printf '%s\n' "$@" > "$capture/args" || exit 2
        if link_objects "$capture" "$@"; then
            : > "$capture/done" || exit 2
            exit 0
        fi
    fi
    # the Python shim takes this link; no capture of another stays to be read for it
    [ ! -e "$RUST_HMR_SHIM_CAPTURE" ] || rm -rf "$RUST_HMR_SHIM_CAPTURE"
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


def open_capture(capture: Path) -> None:
    """Before cargo runs in capture mode: the empty folder the launcher captures into (what an
    earlier build left there is gone)."""
    shutil.rmtree(capture, ignore_errors=True)
    capture.mkdir(parents=True)


def captured(capture: Path) -> bool:
    """Whether the launcher captured a link, whole, into `capture` (cargo links only when a
    codegen unit changed; the Python shim writes the manifest itself)."""
    return os.path.exists(os.path.join(capture, DONE))


def read_capture(capture: Path, store: Path, crate: str,
                 hashes: ObjectHashes | None = None) -> LinkManifest:
    """The manifest of the link the launcher captured into `capture` for `crate`; each object
    gets a content-addressed copy in `store` (a hard link where it can)."""
    hashes = hashes or ObjectHashes()
    if not captured(capture):
        raise CaptureError(f"no captured link in {capture}: the launcher did not finish one")
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
