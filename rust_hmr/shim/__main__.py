"""Entry point of the linker shim (see `rust_hmr.shim`). Exit status is the real linker's."""

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import blake3

from rust_hmr.atomic import write_atomic
from rust_hmr.shim.archive import ArchiveError
from rust_hmr.shim.link_manifest import (
    ENV_LINKER,
    ENV_MANIFEST,
    ENV_MODE,
    ENV_OBJECT_STORE,
    ENV_WHOLE_ARCHIVES,
    HMR_LINK_ARGS,
    LinkManifest,
    ObjectFile,
    split_link_line,
)
from rust_hmr.shim.whole_archives import whole_archives

_FLAVOR = ("-flavor", "wasm")


def expand_response_files(args: list[str]) -> list[str]:
    """rustc passes `@file` when the command line gets long (posix quoting)."""
    out: list[str] = []
    for arg in args:
        if arg.startswith("@") and Path(arg[1:]).is_file():
            out += shlex.split(Path(arg[1:]).read_text())
        else:
            out.append(arg)
    return out


def strip_flavor(args: list[str]) -> list[str]:
    if args[:2] == list(_FLAVOR):
        return args[2:]
    return args


def store_object(path: Path, store: Path) -> ObjectFile:
    data = path.read_bytes()
    digest = blake3.blake3(data).hexdigest()
    stored = store / f"{digest}.o"
    if not stored.exists():
        write_atomic(stored, data)
    return ObjectFile(str(path), digest, len(data), str(stored))


def build_manifest(args: list[str], mode: str, store: Path) -> LinkManifest:
    manifest, objects = split_link_line(args, mode, os.environ.get("CARGO_CRATE_NAME", ""))
    manifest.objects = [store_object(Path(path), store) for path in objects]
    return manifest


def _fail(message: str) -> int:
    print(f"rust-hmr linker shim: {message}", file=sys.stderr)
    return 2


def main(argv: list[str]) -> int:
    mode = os.environ.get(ENV_MODE, "link")
    if mode not in ("link", "capture"):
        return _fail(f"unknown {ENV_MODE}={mode!r} (link or capture)")
    whole = os.environ.get(ENV_WHOLE_ARCHIVES, "0")
    if whole not in ("0", "1"):
        return _fail(f"unknown {ENV_WHOLE_ARCHIVES}={whole!r} (0 or 1)")
    args = strip_flavor(expand_response_files(argv))
    manifest_path = os.environ.get(ENV_MANIFEST)
    if whole == "1" and not manifest_path:
        return _fail(f"{ENV_WHOLE_ARCHIVES}=1 needs {ENV_MANIFEST}: the extracted objects are "
                     f"kept next to the manifest")
    manifest = LinkManifest(mode=mode, crate="", output="", args=list(args))
    if manifest_path:
        store = Path(os.environ.get(ENV_OBJECT_STORE) or Path(manifest_path).parent / "objects")
        store.mkdir(parents=True, exist_ok=True)
        manifest = build_manifest(args, mode, store)
        if whole == "1":
            try:
                manifest.whole_archives = whole_archives(
                    manifest.rlibs, Path(manifest_path).parent / "archives")
            except (OSError, ArchiveError) as err:
                return _fail(f"cannot link the rlibs whole: {err} (set {ENV_WHOLE_ARCHIVES}=0 "
                             f"to link them as archives)")
        manifest.dump(Path(manifest_path))
    if mode == "capture":
        return 0
    linker = os.environ.get(ENV_LINKER)
    if not linker:
        real = shutil.which("wasm-ld") or shutil.which("rust-lld")
        if real is None:
            return _fail(f"{ENV_LINKER} is not set and no wasm-ld on PATH")
        linker = shlex.join([real, *(_FLAVOR if real.endswith("rust-lld") else ())])
    code = subprocess.run([*shlex.split(linker), *manifest.link_args(), *HMR_LINK_ARGS]).returncode
    if code != 0 and manifest.whole_archives:
        _fail(f"the link failed with the rlibs linked whole ({ENV_WHOLE_ARCHIVES}=1); "
              f"{ENV_WHOLE_ARCHIVES}=0 links them as archives")
    return code

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
