"""Collect the symbol map's functions and data symbols from a linked main module.

The module is linked with `--emit-relocs`, so its `linking` section still holds the full
symbol table, local symbols included. Data symbols give (segment, offset); a segment's address
comes from the globals that `--export-all` exports for data symbols (value - offset), and for a
segment none of whose symbols is exported, from the data section (in order) or, for a
zero-filled `.bss` that the data section leaves out, from the layout rule wasm-ld follows
(segments back to back, each aligned).
"""

from bisect import bisect_right
from collections import Counter

from rust_hmr.prepare.errors import PrepareError
from rust_hmr.prepare.symbol_map import DataInfo, FunctionInfo
from rust_hmr.wasm.demangle import demangle_or_raw
from rust_hmr.wasm.module import WasmFile
from rust_hmr.wasm.sections.globals import Global
from rust_hmr.wasm.sections.imports import ExternKind, Import
from rust_hmr.wasm.sections.linking import Linking, SymbolKind
from rust_hmr.wasm.sections.reloc import RelocType
from rust_hmr.wasm.sections.types import FuncType


def require_linking(wasm: WasmFile) -> Linking:
    linking = wasm.decoded("linking")
    if linking is None or wasm.get("reloc.CODE") is None:
        raise PrepareError(
            "the main module has no linking/reloc.CODE sections: link it with --emit-relocs "
            "(the rust-hmr linker shim adds it)")
    return linking


def function_imports(wasm: WasmFile) -> list[Import]:
    return [i for i in wasm.decoded("import", []) if i.kind is ExternKind.FUNCTION]


def collect_functions(wasm: WasmFile, linking: Linking) -> list[FunctionInfo]:
    types: list[FuncType] = wasm.decoded("type", [])
    imported = function_imports(wasm)
    defined: list[int] = wasm.decoded("function", [])
    debug_names = wasm.decoded("name").functions if wasm.get("name") else {}
    aliases: dict[int, list[str]] = {}
    for sym in linking.symbols:
        if sym.kind is SymbolKind.FUNCTION and sym.name is not None and sym.index is not None:
            aliases.setdefault(sym.index, []).append(sym.name)
    out = []
    type_indices = [imp.desc for imp in imported] + defined
    for index, type_index in enumerate(type_indices):
        is_import = index < len(imported)
        names = aliases.get(index, [])
        name = (imported[index].field if is_import
                else debug_names.get(index) or (names[0] if names else f"<function {index}>"))
        ftype = types[int(type_index)]
        out.append(FunctionInfo(
            index=index, name=name, demangled=demangle_or_raw(name),
            type_index=int(type_index), params=tuple(map(str, ftype.params)),
            results=tuple(map(str, ftype.results)),
            names=tuple(n for n in names if n != name), imported=is_import))
    return out


def segment_addresses(wasm: WasmFile, linking: Linking) -> list[int]:
    """The address of each output segment named in the linking section."""
    globals_: list[Global] = wasm.decoded("global", [])
    exported = {e.name: globals_[e.index].init.i32_value()
                for e in wasm.decoded("export", []) if e.kind is ExternKind.GLOBAL
                and e.index < len(globals_)}
    votes: dict[int, Counter[int]] = {}
    for sym in linking.symbols:
        if sym.kind is SymbolKind.DATA and sym.defined and sym.name in exported:
            value = exported[sym.name]
            if value is not None and sym.segment is not None and sym.offset is not None:
                votes.setdefault(sym.segment, Counter())[value - sym.offset] += 1
    data_offsets = [seg.offset.i32_value() if seg.offset else None
                    for seg in wasm.decoded("data", [])]
    bases: list[int] = []
    for i, info in enumerate(linking.segments):
        if i in votes:
            bases.append(votes[i].most_common(1)[0][0])
        elif i < len(data_offsets) and data_offsets[i] is not None:
            bases.append(int(data_offsets[i]))  # type: ignore[arg-type]
        elif bases:
            end = bases[-1] + _segment_extent(linking, i - 1)
            align = 1 << info.alignment
            bases.append((end + align - 1) // align * align)
        else:
            raise PrepareError(f"cannot tell the address of data segment {info.name}")
    return bases


def _segment_extent(linking: Linking, segment: int) -> int:
    return max((s.offset or 0) + (s.size or 0) for s in linking.symbols
               if s.kind is SymbolKind.DATA and s.defined and s.segment == segment)


def collect_data(wasm: WasmFile, linking: Linking) -> list[DataInfo]:
    bases = segment_addresses(wasm, linking)
    out = []
    for sym in linking.symbols:
        if sym.kind is not SymbolKind.DATA or not sym.defined or sym.name is None:
            continue
        segment = sym.segment or 0
        out.append(DataInfo(
            name=sym.name, demangled=demangle_or_raw(sym.name),
            path=demangle_or_raw(sym.name, hash=False),
            address=bases[segment] + (sym.offset or 0), size=sym.size or 0,
            segment=linking.segments[segment].name, local=sym.local))
    return out


def stack_pointer_global(linking: Linking) -> int:
    for sym in linking.symbols:
        if sym.kind is SymbolKind.GLOBAL and sym.name == "__stack_pointer" and sym.defined:
            return sym.index or 0
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


def direct_callers(wasm: WasmFile, linking: Linking) -> dict[int, set[int]]:
    """callee -> the functions whose bodies call it directly, from the call relocations."""
    code = wasm.get("code")
    relocs = wasm.decoded("reloc.CODE")
    if code is None or relocs is None:
        return {}
    first_defined = len(function_imports(wasm))
    starts = [body.offset - code.offset for body in code.decode()]
    out: dict[int, set[int]] = {}
    for rel in relocs.entries:
        if rel.type is not RelocType.FUNCTION_INDEX_LEB:
            continue
        callee = linking.symbols[rel.index].index
        if callee is None:
            continue
        caller = first_defined + bisect_right(starts, rel.offset) - 1
        out.setdefault(callee, set()).add(caller)
    return out
