"""Whole archives: the wasm objects of each rlib, extracted once into a content-addressed cache.

A patch calls what it does not define through the main module's exports, by name. wasm-ld pulls
an archive member only when the app needs it, so a std or dependency function the app never
called (`str::to_uppercase`, hashbrown's `capacity_overflow`, a generic instance std shares) is
not in a dev main module unless its rlib's objects are all linked. wasm-ld refuses
`--whole-archive` on an rlib (`unknown file type: lib.rmeta`), so the shim extracts the objects
and links them in the rlib's place, with `--no-gc-sections` so that the unreferenced local
statics a patch may resolve by name stay too.

The shim runs on every link, so a link that finds its rlibs unchanged reads one small record
per rlib and hashes nothing. Layout of the cache directory:

    <blake3 of the rlib>/<NNNN>-<member name>    the wasm members, in archive order
    <blake3 of the rlib>/members.msgpack         their file names
    stat/<blake3 of the rlib's path>.msgpack     [size, mtime_ns, blake3 of the rlib]

A record whose size or mtime no longer match is redone by hashing the rlib: one touched but
unchanged still finds its members.
"""

import os
import shutil
from pathlib import Path

import blake3
import msgpack

from rust_hmr.atomic import write_atomic
from rust_hmr.shim.archive import ArchiveError, read_members

WASM_MAGIC = b"\0asm"
_INDEX = "members.msgpack"

# Every rlib on the line is linked whole. None had to stay an archive: linking all the
# sysroot's (compiler_builtins and panic_abort included, which also carry libm and the
# allocator's default hooks) found no duplicate symbol, since rustc gives each crate one copy of
# each item. Native `.a` libraries keep their archive semantics: C libraries do rely on members
# being pulled only when needed.


def _load(path: Path) -> object:
    try:
        return msgpack.unpackb(path.read_bytes(), raw=False)
    except (OSError, ValueError):
        return None



def _extract(data: bytes, folder: Path) -> list[str]:
    """Writes the archive's wasm members into `folder` (whole or not at all); their names."""
    tmp = folder.with_name(f".{folder.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    names: list[str] = []
    try:
        for i, member in enumerate(read_members(data)):
            body = member.data(data)
            if not body.startswith(WASM_MAGIC):  # lib.rmeta, and anything not an object
                continue
            name = f"{i:04}-{member.name.replace('/', '_')}"
            (tmp / name).write_bytes(body)
            names.append(name)
        (tmp / _INDEX).write_bytes(msgpack.packb(names))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    try:
        os.rename(tmp, folder)
    except OSError:  # another link extracted the same rlib first: keep its copy
        shutil.rmtree(tmp, ignore_errors=True)
    return names


def members(rlib: Path, cache: Path) -> list[str]:
    """Paths of the extracted wasm objects of `rlib`, extracting them on first use.

    Raises OSError or ArchiveError (with the rlib's path in it) when the rlib can't be read.
    """
    folder, names = _extracted(rlib, cache)
    prefix = f"{folder}{os.sep}"  # every save asks, for hundreds of members: no pathlib
    return [prefix + name for name in names]


def rlib_digest(rlib: Path, cache: Path) -> str:
    """blake3 of `rlib`, from its record when its size and mtime are unchanged (then it is
    not read), extracting it like `members`."""
    return _extracted(rlib, cache)[0].name


# (rlib, cache, size, mtime_ns) -> what `_extracted` found: a rebuild asks for every rlib
# twice (the whole-archive link line, then the workspace's members and the cold digests), and
# once per save; an unchanged rlib then costs one stat.
_SEEN: dict[tuple[Path, Path, int, int], tuple[Path, list[str]]] = {}


def _extracted(rlib: Path, cache: Path) -> tuple[Path, list[str]]:
    """The folder (named by the rlib's blake3) holding the rlib's wasm members, and their
    file names."""
    stat = rlib.stat()
    seen = _SEEN.get((rlib, cache, stat.st_size, stat.st_mtime_ns))
    if seen is not None and seen[0].is_dir():
        return seen
    found = _read_or_extract(rlib, cache, stat)
    _SEEN[(rlib, cache, stat.st_size, stat.st_mtime_ns)] = found
    return found


def _read_or_extract(rlib: Path, cache: Path, stat: os.stat_result) -> tuple[Path, list[str]]:
    """`_extracted` from the rlib's record, or by hashing and extracting it."""
    record_path = cache / "stat" / f"{blake3.blake3(str(rlib).encode()).hexdigest()}.msgpack"
    record = _load(record_path)
    if isinstance(record, list) and record[:2] == [stat.st_size, stat.st_mtime_ns]:
        folder = cache / str(record[2])
        names = _load(folder / _INDEX)
        if isinstance(names, list):
            return folder, names
    data = rlib.read_bytes()
    digest = blake3.blake3(data).hexdigest()
    folder = cache / digest
    names = _load(folder / _INDEX)
    if not isinstance(names, list):
        try:
            names = _extract(data, folder)
        except ArchiveError as err:
            raise ArchiveError(f"{rlib}: {err.message}", err.offset) from None
    record_path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(record_path, msgpack.packb([stat.st_size, stat.st_mtime_ns, digest]))
    return folder, names


def whole_archives(rlibs: list[str], cache: Path) -> dict[str, list[str]]:
    """Each rlib (not the native `.a` libraries) with the paths of its extracted objects."""
    return {rlib: members(Path(rlib), cache) for rlib in rlibs if rlib.endswith(".rlib")}
