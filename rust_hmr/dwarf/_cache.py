"""`read_debug_info` through a msgpack cache, keyed by the object's blake3 and by its DWARF's.

Old objects are read on every save (the live side of each dirty unit), so their records are
kept: decoding one is a fraction of walking the DIE tree again. A new object is often new
only in its code and data (a string, a constant): its `.debug_*` sections are byte for byte
the live object's, and what the reader gives depends on those sections alone, so the record
kept under their blake3 is the answer, without the walk (14 ms on the todo app's view unit,
against about 1 ms to split the object and hash them).
"""

from pathlib import Path
from typing import Any

import blake3
import msgpack

from rust_hmr.atomic import write_atomic
from rust_hmr.dwarf._reader import read_debug_sections
from rust_hmr.dwarf._records import (
    DebugInfo,
    Discriminant,
    Field,
    FunctionDecl,
    TypeKind,
    TypeLayout,
    Variant,
)
from rust_hmr.dwarf._sections import debug_sections

CACHE_VERSION = 1  # bump when the reader or the records change


def _fields(fields: tuple[Field, ...]) -> list[list[Any]]:
    return [[f.name, f.offset, f.type] for f in fields]


def to_record(info: DebugInfo) -> dict[str, Any]:
    """The info as plain msgpack-able lists."""
    return {
        "v": CACHE_VERSION,
        "functions": [[key, d.file, d.line, d.generic, d.path]
                      for key, d in info.functions.items()],
        "types": [[path, str(t.kind), t.size, t.alignment, _fields(t.fields),
                   None if t.discriminant is None else [t.discriminant.offset,
                                                        t.discriminant.size],
                   [[v.name, v.discriminant, _fields(v.fields)] for v in t.variants]]
                  for path, t in info.types.items()],
    }


def from_record(record: dict[str, Any]) -> DebugInfo:
    def fields(rows: list[list[Any]]) -> tuple[Field, ...]:
        return tuple(Field(n, o, t) for n, o, t in rows)

    return DebugInfo(
        functions={key: FunctionDecl(file, line, generic, path)
                   for key, file, line, generic, path in record["functions"]},
        types={path: TypeLayout(TypeKind(kind), size, align, fields(own),
                                None if discr is None else Discriminant(*discr),
                                tuple(Variant(n, d, fields(f)) for n, d, f in variants))
               for path, kind, size, align, own, discr, variants in record["types"]},
    )


def read_debug_info_cached(path: Path, blake3_hex: str, cache_dir: Path) -> DebugInfo:
    """`read_debug_info` of the object at `path`, whose blake3 is `blake3_hex`. A cache file
    that does not decode (or is of another version) is ignored and written again."""
    by_object = cache_dir / f"{blake3_hex}.msgpack"
    info = _load(by_object)
    if info is not None:
        return info
    sections = debug_sections(path.read_bytes())
    by_sections = cache_dir / f"dwarf-{_sections_digest(sections)}.msgpack"
    info = _load(by_sections)
    cache_dir.mkdir(parents=True, exist_ok=True)
    if info is None:
        info = read_debug_sections(sections)
        write_atomic(by_sections, _packed(info))
    write_atomic(by_object, _packed(info))  # as the live object, it is read this way
    return info


def _sections_digest(sections: dict[str, bytes]) -> str:
    """blake3 of the sections, names and lengths included (no two lists hash alike)."""
    hasher = blake3.blake3(f"{CACHE_VERSION}\0".encode())
    for name in sorted(sections):
        payload = sections[name]
        hasher.update(f"{name}\0{len(payload)}\0".encode())
        hasher.update(payload)
    return hasher.hexdigest()


def _packed(info: DebugInfo) -> bytes:
    packed: bytes = msgpack.packb(to_record(info), use_bin_type=True)
    return packed


def _load(cached: Path) -> DebugInfo | None:
    try:
        record = msgpack.unpackb(cached.read_bytes(), raw=False)
        if record.get("v") == CACHE_VERSION:
            return from_record(record)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError, msgpack.UnpackException):
        pass
    return None
