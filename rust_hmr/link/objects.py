"""A relocatable object decoded for the patch linker: only the sections it needs."""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgpack

from rust_hmr.atomic import write_atomic
from rust_hmr.wasm.module import WasmFile, parse
from rust_hmr.wasm.sections.code import FunctionBody
from rust_hmr.wasm.sections.common import GlobalType, ValType
from rust_hmr.wasm.sections.data import DataSegment
from rust_hmr.wasm.sections.imports import ExternKind, Import
from rust_hmr.wasm.sections.linking import (
    Linking,
    SegmentInfo,
    Symbol,
    SymbolFlags,
    SymbolKind,
)
from rust_hmr.wasm.sections.reloc import Relocation, RelocSection, RelocType
from rust_hmr.wasm.sections.types import FuncType


@dataclass
class ObjectView:
    """`code_base`/`data_base`: file offsets of those sections' payloads, which relocation
    offsets count from."""

    name: str
    types: list[FuncType]
    function_imports: list[Import]
    global_imports: list[Import]
    defined: list[int]  # type index of each defined function
    bodies: list[FunctionBody]
    code_base: int
    segments: list[DataSegment]
    data_base: int
    linking: Linking
    code_relocs: list[Relocation] = field(default_factory=list)
    data_relocs: list[Relocation] = field(default_factory=list)

    @property
    def first_defined(self) -> int:
        return len(self.function_imports)

    def symbol_name(self, sym: Symbol) -> str:
        """A symbol's name; an undefined one without its own name has its import's field."""
        if sym.name is not None:
            return sym.name
        if sym.kind is SymbolKind.FUNCTION and sym.index is not None:
            return self.function_imports[sym.index].field
        if sym.kind is SymbolKind.GLOBAL and sym.index is not None:
            return self.global_imports[sym.index].field
        return ""

    def undefined_functions(self) -> set[str]:
        """The names of the functions this object uses and other objects define."""
        return {self.symbol_name(s) for s in self.linking.symbols
                if s.kind is SymbolKind.FUNCTION and not s.defined}


def _relocs_for(wasm: WasmFile, section_name: str) -> list[Relocation]:
    section = wasm.get(section_name)
    if section is None:
        return []
    target = wasm.index_of(section)
    for reloc in wasm.custom("reloc."):
        value: RelocSection = reloc.decode()
        if value.target == target:
            return value.entries
    return []


def load_object(name: str, data: bytes) -> ObjectView:
    """Decode what the linker needs of one object; debug sections and their relocations are
    left undecoded (patches carry no DWARF)."""
    wasm = parse(data)
    imports: list[Import] = wasm.decoded("import", [])
    code = wasm.get("code")
    data_section = wasm.get("data")
    linking = wasm.decoded("linking")
    if linking is None:
        raise ValueError(f"{name} is not a relocatable object (no linking section)")
    return ObjectView(
        name=name,
        types=wasm.decoded("type", []),
        function_imports=[i for i in imports if i.kind is ExternKind.FUNCTION],
        global_imports=[i for i in imports if i.kind is ExternKind.GLOBAL],
        defined=wasm.decoded("function", []),
        bodies=code.decode() if code else [],
        code_base=code.offset if code else 0,
        segments=data_section.decode() if data_section else [],
        data_base=data_section.offset if data_section else 0,
        linking=linking,
        code_relocs=_relocs_for(wasm, "code"),
        data_relocs=_relocs_for(wasm, "data"),
    )


# The parsed form of an object, cached as msgpack by the object's blake3: symbols, segment
# info and relocations as plain tuples, bodies and data as offsets into the object's bytes.
CACHE_VERSION = 1


def to_record(view: ObjectView) -> dict[str, Any]:
    linking = view.linking
    return {
        "v": CACHE_VERSION,
        "name": view.name,
        "types": [[[int(t) for t in f.params], [int(t) for t in f.results]] for f in view.types],
        "fimports": [[i.module, i.field, i.desc] for i in view.function_imports],
        "gimports": [[i.module, i.field, int(i.desc.valtype), i.desc.mutable]  # type: ignore[union-attr]
                     for i in view.global_imports],
        "defined": view.defined,
        "bodies": [[b.offset, len(b.data)] for b in view.bodies],
        "code_base": view.code_base,
        "segments": [[s.flags, s.data_offset, len(s.data)] for s in view.segments],
        "data_base": view.data_base,
        "symbols": [[int(s.kind), int(s.flags), s.name, s.index, s.segment, s.offset, s.size]
                    for s in linking.symbols],
        "segment_info": [[s.name, s.alignment, s.flags] for s in linking.segments],
        "code_relocs": [list(r) for r in view.code_relocs],
        "data_relocs": [list(r) for r in view.data_relocs],
    }


def from_record(record: dict[str, Any], data: bytes) -> ObjectView:
    """The view a record describes; `data` is the object's bytes (for bodies and segments)."""
    def reloc(row: list[int]) -> Relocation:
        return Relocation(RelocType(row[0]), row[1], row[2], row[3])

    return ObjectView(
        name=record["name"],
        types=[FuncType(tuple(map(ValType, p)), tuple(map(ValType, r)))
               for p, r in record["types"]],
        function_imports=[Import(m, f, ExternKind.FUNCTION, t) for m, f, t in record["fimports"]],
        global_imports=[Import(m, f, ExternKind.GLOBAL, GlobalType(ValType(v), mut))
                        for m, f, v, mut in record["gimports"]],
        defined=record["defined"],
        bodies=[FunctionBody(o, data[o : o + n]) for o, n in record["bodies"]],
        code_base=record["code_base"],
        segments=[DataSegment(flags, 0, None, data[o : o + n], o)
                  for flags, o, n in record["segments"]],
        data_base=record["data_base"],
        linking=Linking(
            symbols=[Symbol(SymbolKind(k), SymbolFlags(f), n, i, sg, of, sz)
                     for k, f, n, i, sg, of, sz in record["symbols"]],
            segments=[SegmentInfo(n, a, f) for n, a, f in record["segment_info"]]),
        code_relocs=[reloc(r) for r in record["code_relocs"]],
        data_relocs=[reloc(r) for r in record["data_relocs"]],
    )


def load_object_cached(name: str, path: Path, blake3_hex: str, cache_dir: Path) -> ObjectView:
    """`load_object`, through a msgpack cache of the parsed form keyed by the object's hash.
    A cache file that does not decode is ignored and written again."""
    data = path.read_bytes()
    cached = cache_dir / f"{blake3_hex}.msgpack"
    if cached.exists():
        try:
            record = msgpack.unpackb(cached.read_bytes(), raw=False)
            if record.get("v") == CACHE_VERSION:
                return from_record(record, data)
        except (ValueError, KeyError, TypeError, IndexError, msgpack.UnpackException):
            pass
    view = load_object(name, data)
    cache_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(cached, msgpack.packb(to_record(view), use_bin_type=True))
    return view


def _blanked_segments(view: ObjectView) -> list[bytes]:
    """Each data segment with its relocation sites zeroed (their placeholder values depend
    on how the object numbered its symbols, not on the program)."""
    out = []
    for seg in view.segments:
        start = seg.data_offset - view.data_base
        buf = bytearray(seg.data)
        for rel in view.data_relocs:
            if start <= rel.offset < start + len(buf):
                at = rel.offset - start
                buf[at : at + rel.type.width] = bytes(rel.type.width)
        out.append(bytes(buf))
    return out


def _target(view: ObjectView, rel: Relocation, segments: list[bytes]) -> str:
    """What a relocation refers to, by name; for data the object defines, by content too
    (a changed string literal changes the functions that use it)."""
    if rel.type is RelocType.TYPE_INDEX_LEB:
        return str(view.types[rel.index])
    sym = view.linking.symbols[rel.index]
    if sym.kind is SymbolKind.DATA and sym.defined and sym.segment is not None:
        data = segments[sym.segment] if sym.segment < len(segments) else b""
        start = sym.offset or 0
        name = "" if sym.local else sym.name  # local names are numbered per object
        return f"{name}={data[start : start + (sym.size or 0)].hex()}"
    if sym.name is None and sym.index is not None:
        imports = {SymbolKind.FUNCTION: view.function_imports,
                   SymbolKind.GLOBAL: view.global_imports}.get(sym.kind, [])
        if sym.index < len(imports):
            return imports[sym.index].field
    return sym.name or str(sym.index)


def function_fingerprints(view: ObjectView) -> dict[str, bytes]:
    """Defined function name -> its body with every relocation site blanked, followed by the
    names the sites refer to: equal fingerprints mean the same code, whatever indices the
    object happened to number its symbols with."""
    relocs = sorted(view.code_relocs, key=lambda r: r.offset)
    segments = _blanked_segments(view)
    out: dict[str, bytes] = {}
    by_index = {s.index: s.name for s in view.linking.symbols
                if s.kind is SymbolKind.FUNCTION and s.defined and s.name}
    position = 0
    for k, body in enumerate(view.bodies):
        name = by_index.get(view.first_defined + k)
        start = body.offset - view.code_base
        end = start + len(body.data)
        buf = bytearray(body.data)
        targets = []
        while position < len(relocs) and relocs[position].offset < end:
            rel = relocs[position]
            position += 1
            if rel.offset < start:
                continue
            at = rel.offset - start
            buf[at : at + rel.type.width] = bytes(rel.type.width)
            targets.append(f"{rel.type.value}:{_target(view, rel, segments)}:{rel.addend}")
        if name:
            out[name] = bytes(buf) + "\n".join(targets).encode()
    return out
