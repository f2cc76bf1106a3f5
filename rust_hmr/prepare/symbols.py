"""Collect the symbol map's functions and data symbols from a linked main module.

The module is linked with `--emit-relocs`, so its `linking` section still holds the full
symbol table, local symbols included. Data symbols give (segment, offset); a segment's address
comes from the globals that `--export-all` exports for data symbols (value - offset), and for a
segment none of whose symbols is exported, from the data section (in order) or, for a
zero-filled `.bss` that the data section leaves out, from the layout rule wasm-ld follows
(segments back to back, each aligned).
"""

from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from itertools import repeat
from pathlib import Path

from rust_hmr.prepare.errors import PrepareError
from rust_hmr.prepare.symbol_map import DataInfo, FunctionInfo
from rust_hmr.prepare.trampolines import Trampoline
from rust_hmr.wasm import scan
from rust_hmr.wasm.module import Section, WasmFile, parse
from rust_hmr.wasm.scan import RawSymbol, ScannedLinking
from rust_hmr.wasm.sections.globals import Global
from rust_hmr.wasm.sections.imports import ExternKind, Import
from rust_hmr.wasm.sections.linking import SymbolFlags, SymbolKind
from rust_hmr.wasm.sections.name import NameKind
from rust_hmr.wasm.sections.reloc import RelocType
from rust_hmr.wasm.sections.types import FuncType

_FUNCTION, _DATA, _GLOBAL = int(SymbolKind.FUNCTION), int(SymbolKind.DATA), int(SymbolKind.GLOBAL)
_UNDEFINED, _LOCAL = int(SymbolFlags.UNDEFINED), int(SymbolFlags.BINDING_LOCAL)


def require_linking(wasm: WasmFile) -> ScannedLinking:
    section = wasm.get("linking")
    if section is None or wasm.get("reloc.CODE") is None:
        raise PrepareError(
            "the main module has no linking/reloc.CODE sections: link it with --emit-relocs "
            "(the rust-hmr linker shim adds it)")
    return scan.linking(section.payload, section.offset)


def hot_names(objects: Iterable[Path]) -> set[str]:
    """Mangled names of the functions the relocatable `objects` define (the crate's own)."""
    out: set[str] = set()
    for path in objects:
        section = parse(path.read_bytes()).get("linking")
        if section is None:
            continue
        out.update(scan.defined_functions(section.payload, section.offset))
    return out


def function_imports(wasm: WasmFile) -> list[Import]:
    return [i for i in wasm.decoded("import", []) if i.kind is ExternKind.FUNCTION]


def function_names(wasm: WasmFile) -> dict[int, str]:
    """The `name` section's function names (debug names), scanned without the rest."""
    section = wasm.get("name")
    if section is None:
        return {}
    for kind, _, start, end in scan.subsections(section.payload, section.offset):
        if kind == NameKind.FUNCTION:
            return scan.name_map(section.payload, start, end, section.offset)
    return {}


@dataclass(frozen=True)
class Functions:
    """The function index space as the rewrite reads it: the name of each function (the
    debug name, else its first symbol name), its other symbol names, and its type."""

    names: list[str]
    aliases: list[tuple[str, ...]]
    type_indices: list[int]
    imported: int  # functions below this index are imports

    def hot(self, crate_names: set[str]) -> list[int]:
        """The defined functions one of whose names is in `crate_names`."""
        return [i for i in range(self.imported, len(self.names))
                if self.names[i] in crate_names or not crate_names.isdisjoint(self.aliases[i])]


def read_functions(wasm: WasmFile, symbols: list[RawSymbol]) -> Functions:
    imported = function_imports(wasm)
    defined: list[int] = wasm.decoded("function", [])
    debug_names = function_names(wasm)
    by_index: dict[int, list[str]] = {}
    for kind, _, name, index, *_ in symbols:
        if kind == _FUNCTION and name is not None and index >= 0:
            by_index.setdefault(index, []).append(name)
    names = [imp.field for imp in imported]
    aliases: list[tuple[str, ...]] = [() for _ in imported]
    for index in range(len(imported), len(imported) + len(defined)):
        own = by_index.get(index, ())
        name = debug_names.get(index) or (own[0] if own else f"<function {index}>")
        names.append(name)
        aliases.append(tuple(n for n in own if n != name) if own else ())
    for index, own in by_index.items():  # an import's symbols (an explicit name, say)
        if index < len(imported):
            aliases[index] = tuple(n for n in own if n != names[index])
    type_indices = [imp.type_index for imp in imported] + defined
    return Functions(names, aliases, type_indices, len(imported))


def function_infos(wasm: WasmFile, functions: Functions, plan: dict[int, Trampoline],
                   table_slots: dict[int, int], callers: dict[int, set[int]],
                   ) -> list[FunctionInfo]:
    """The symbol map's functions, each built once with everything the rewrite decided."""
    types: list[FuncType] = wasm.decoded("type", [])
    signatures = [(tuple(map(str, t.params)), tuple(map(str, t.results))) for t in types]
    out = []
    for index, (name, aliases, type_index) in enumerate(zip(
            functions.names, functions.aliases, functions.type_indices, strict=True)):
        params, results = signatures[type_index]
        t = plan.get(index)
        out.append(FunctionInfo(
            index, name, type_index, params, results, aliases, index < functions.imported,
            t is not None, None if t is None else t.slot, None if t is None else t.index,
            table_slots.get(index),
            tuple(sorted(callers.get(index, ()))) if t is not None else ()))
    return out


def segment_addresses(wasm: WasmFile, linking: ScannedLinking,
                      exports: list[scan.RawExport]) -> list[int]:
    """The address of each output segment named in the linking section."""
    globals_: list[Global] = wasm.decoded("global", [])
    exported = {name.decode(): globals_[index].init.i32_value()
                for name, kind, index, *_ in exports
                if kind == ExternKind.GLOBAL and index < len(globals_)}
    votes: dict[int, Counter[int]] = {}
    for kind, flags, name, _, segment, offset, _ in linking.symbols:
        if kind == _DATA and not flags & _UNDEFINED and name in exported:
            value = exported[name]
            if value is not None:
                votes.setdefault(segment, Counter())[value - offset] += 1
    data_offsets = [seg.offset.i32_value() if seg.offset else None
                    for seg in wasm.decoded("data", [])]
    bases: list[int] = []
    for i, info in enumerate(linking.segments):
        if i in votes:
            bases.append(votes[i].most_common(1)[0][0])
        elif i < len(data_offsets) and (start := data_offsets[i]) is not None:
            bases.append(start)
        elif bases:
            end = bases[-1] + _segment_extent(linking, i - 1)
            align = 1 << info.alignment
            bases.append((end + align - 1) // align * align)
        else:
            raise PrepareError(f"cannot tell the address of data segment {info.name}")
    return bases


def _segment_extent(linking: ScannedLinking, segment: int) -> int:
    return max(offset + size for kind, flags, _, _, seg, offset, size in linking.symbols
               if kind == _DATA and not flags & _UNDEFINED and seg == segment)


def collect_data(wasm: WasmFile, linking: ScannedLinking,
                 exports: list[scan.RawExport]) -> list[DataInfo]:
    bases = segment_addresses(wasm, linking, exports)
    names = [s.name for s in linking.segments]
    return [DataInfo(name, bases[segment] + offset, size, names[segment], bool(flags & _LOCAL))
            for kind, flags, name, _, segment, offset, size in linking.symbols
            if kind == _DATA and not flags & _UNDEFINED and name is not None]


def stack_pointer_global(symbols: list[RawSymbol]) -> int:
    for kind, flags, name, index, *_ in symbols:
        if kind == _GLOBAL and name == "__stack_pointer" and not flags & _UNDEFINED:
            return max(index, 0)
    raise PrepareError("the main module defines no __stack_pointer global")


def table_indices(wasm: WasmFile) -> dict[int, int]:
    """function index -> the first table slot the module's element segments give it."""
    out: dict[int, int] = {}
    for seg in wasm.decoded("element", []):
        start = seg.offset.i32_value() if seg.offset is not None else None
        if start is None:
            continue
        for k, f in enumerate(seg.functions):
            out.setdefault(f, start + k)
    return out


def call_relocations(wasm: WasmFile, symbols: list[RawSymbol]) -> list[tuple[int, int]]:
    """(code payload offset, function index) of each FUNCTION_INDEX_LEB relocation whose
    symbol is a function."""
    section: Section | None = wasm.get("reloc.CODE")
    if section is None:
        return []
    function_of = [index if kind == _FUNCTION else -1 for kind, _, _, index, *_ in symbols]
    pairs = scan.relocations(section.payload, int(RelocType.FUNCTION_INDEX_LEB), section.offset)
    return [(offset, function_of[sym]) for offset, sym in pairs if function_of[sym] >= 0]


def direct_callers(wasm: WasmFile, calls: list[tuple[int, int]],
                   callees: Collection[int]) -> dict[int, set[int]]:
    """callee -> the functions whose bodies call it directly, from the call relocations; only
    for `callees`."""
    code = wasm.get("code")
    if code is None:
        return {}
    first_defined = len(function_imports(wasm))
    starts = scan.body_starts(code.payload, code.offset)
    wanted = [(offset, callee) for offset, callee in calls if callee in callees]
    bodies = map(bisect_right, repeat(starts), [offset for offset, _ in wanted])
    out: defaultdict[int, set[int]] = defaultdict(set)
    for (_, callee), body in zip(wanted, bodies, strict=True):
        out[callee].add(first_defined + body - 1)
    return out
