"""Collect the symbol map's functions and data symbols from a linked main module.

The module is linked with `--emit-relocs`, so its `linking` section still holds the full
symbol table, local symbols included. Data symbols give (segment, offset); a segment's address
comes from the globals that `--export-all` exports for data symbols (value - offset), and for a
segment none of whose symbols is exported, from the data section (in order) or, for a
zero-filled `.bss` that the data section leaves out, from the layout rule wasm-ld follows
(segments back to back, each aligned).
"""

import mmap
import os
import sys
from collections import Counter, deque
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from itertools import repeat
from operator import add
from pathlib import Path
from typing import TypeVar

from rust_hmr.prepare.errors import PrepareError
from rust_hmr.prepare.symbol_map import DataInfo, FunctionInfo, instances
from rust_hmr.prepare.trampolines import Calls, Plan
from rust_hmr.wasm import scan
from rust_hmr.wasm.leb128 import encode_range
from rust_hmr.wasm.module import MAGIC, VERSION, Section, WasmFile, parse
from rust_hmr.wasm.scan import RawSymbol, ScannedLinking
from rust_hmr.wasm.sections.globals import Global
from rust_hmr.wasm.sections.imports import ExternKind, Import
from rust_hmr.wasm.sections.linking import SymbolFlags, SymbolKind
from rust_hmr.wasm.sections.name import NameKind
from rust_hmr.wasm.sections.reloc import RelocType
from rust_hmr.wasm.sections.types import FuncType

_FUNCTION, _DATA, _GLOBAL = int(SymbolKind.FUNCTION), int(SymbolKind.DATA), int(SymbolKind.GLOBAL)
_UNDEFINED, _LOCAL = int(SymbolFlags.UNDEFINED), int(SymbolFlags.BINDING_LOCAL)
_GLOBAL_EXPORT = int(ExternKind.GLOBAL)
V = TypeVar("V")
_HEADER = MAGIC + VERSION.to_bytes(4, "little")


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
        found = _linking_payload(path)
        if found is not None:
            out.update(scan.defined_functions(*found))
    return out


def _linking_payload(path: Path) -> tuple[bytes, int] | None:
    """An object's `linking` payload and its offset in the file, read through a memory map:
    the code and debug sections around it (most of the file) are never read."""
    with path.open("rb") as file:
        if os.fstat(file.fileno()).st_size < len(_HEADER):
            parse(file.read())  # raises: too short for a wasm file
        with mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as view:
            if view[: len(_HEADER)] != _HEADER:
                parse(view[: len(_HEADER)])  # raises: not a core wasm file
            found = scan.custom_section(view, "linking")
            return None if found is None else (view[found[0] : found[1]], found[0])


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
        names, aliases = self.names, self.aliases
        return [i for i in range(self.imported, len(names)) if names[i] in crate_names
                or (aliases[i] and not crate_names.isdisjoint(aliases[i]))]


def read_functions(wasm: WasmFile, symbols: list[RawSymbol]) -> Functions:
    imported = function_imports(wasm)
    defined: list[int] = wasm.decoded("function", [])
    total = len(imported) + len(defined)
    named = [s for s in symbols if s[0] == _FUNCTION and s[2] is not None and 0 <= s[3] < total]
    indices = [s[3] for s in named]
    symbol_names = [s[2] or "" for s in named]  # (none is None)
    first = dict(zip(reversed(indices), reversed(symbol_names), strict=True))  # the first name
    debug_names = function_names(wasm)
    names = [imp.field for imp in imported] + [
        debug_names.get(i) or first.get(i, f"<function {i}>")
        for i in range(len(imported), total)]
    type_indices = [imp.type_index for imp in imported] + defined
    return Functions(names, _aliases(indices, symbol_names, names), type_indices,
                     len(imported))


def _aliases(indices: list[int], symbol_names: list[str], names: list[str],
             ) -> list[tuple[str, ...]]:
    """Each function's symbol names (`symbol_names[k]` names function `indices[k]`) other than
    its own name, in symbol order: () for nearly every function (one symbol, named as the
    function is)."""
    out: list[tuple[str, ...]] = [()] * len(names)
    for index, name in zip(indices, symbol_names, strict=True):
        if name != names[index]:
            out[index] = (*out[index], name)
    return out


def function_infos(wasm: WasmFile, functions: Functions, plan: Plan,
                   table_slots: dict[int, int], callers: dict[int, tuple[int, ...]],
                   ) -> list[FunctionInfo]:
    """The symbol map's functions, each built once with everything the rewrite decided:
    field by field over all functions (columns), then one instance per function."""
    types: list[FuncType] = wasm.decoded("type", [])
    params = [tuple(map(str, t.params)) for t in types]
    results = [tuple(map(str, t.results)) for t in types]
    count, type_indices = len(functions.names), functions.type_indices
    if not len(functions.aliases) == len(type_indices) == count:
        raise ValueError("names, aliases and types disagree on the number of functions")
    hot = _scattered(count, False, plan.functions, repeat(True))
    slots = _scattered(count, None, plan.functions, plan.slots)
    trampoline_indices = _scattered(count, None, plan.functions, plan.indices)
    hot_callers = _scattered(count, (), plan.functions, map(callers.get, plan.functions,
                                                            repeat(())))
    imported = [True] * functions.imported + [False] * (count - functions.imported)
    columns = (range(count), functions.names, type_indices,
               list(map(params.__getitem__, type_indices)),
               list(map(results.__getitem__, type_indices)), functions.aliases, imported, hot,
               slots, trampoline_indices, list(map(table_slots.get, range(count))), hot_callers)
    return instances(FunctionInfo, zip(*columns, strict=True), count)


def _scattered(count: int, default: V, at: Iterable[int], values: Iterable[V]) -> list[V]:
    """`count` times `default`, but `values` at the indices `at`."""
    out = [default] * count
    deque(map(out.__setitem__, at, values), maxlen=0)
    return out


def segment_addresses(wasm: WasmFile, linking: ScannedLinking,
                      exports: list[scan.RawExport]) -> list[int]:
    """The address of each output segment named in the linking section."""
    globals_: list[Global] = wasm.decoded("global", [])
    exported = {e[0].decode(): globals_[e[2]].init.i32_value() for e in exports
                if e[1] == _GLOBAL_EXPORT and e[2] < len(globals_)}
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
    rows = [(name, bases[segment] + offset, size, names[segment], bool(flags & _LOCAL))
            for kind, flags, name, _, segment, offset, size in linking.symbols
            if kind == _DATA and not flags & _UNDEFINED and name is not None]
    return instances(DataInfo, rows, len(rows))


def stack_pointer_global(symbols: list[RawSymbol]) -> int:
    for s in symbols:
        if s[0] == _GLOBAL and s[2] == "__stack_pointer" and not s[1] & _UNDEFINED:
            return max(s[3], 0)
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


def call_relocations(wasm: WasmFile, function_count: int) -> Calls:
    """Each FUNCTION_INDEX_LEB relocation of the code, with the function it names.

    That function is read from the site itself, where the linker wrote its index padded to 5
    bytes (the padding the rewrite relies on), through a table of those encodings: the
    relocations' symbols are never decoded. A site that holds no function's index (wasm-ld
    writes none such) is left out."""
    section: Section | None = wasm.get("reloc.CODE")
    code = wasm.get("code")
    if section is None or code is None:
        return Calls([], [])
    offsets = scan.relocation_offsets(section.payload, int(RelocType.FUNCTION_INDEX_LEB),
                                      section.offset)
    index_of = dict(zip(encode_range(0, function_count, width=5), range(function_count),
                        strict=True))
    payload = code.payload
    sites = map(payload.__getitem__, map(slice, offsets, map(add, offsets, repeat(5))))
    functions = list(map(index_of.get, sites, repeat(-1)))
    if -1 in functions:
        kept = [k for k, f in enumerate(functions) if f >= 0]
        offsets, functions = [offsets[k] for k in kept], [functions[k] for k in kept]
    return Calls(offsets, functions)


def direct_callers(wasm: WasmFile, calls: Calls,
                   callees: Collection[int]) -> dict[int, tuple[int, ...]]:
    """callee -> the functions whose bodies call it directly (ascending, each once), from the
    call relocations; only for `callees`."""
    code = wasm.get("code")
    if code is None:
        return {}
    offsets, functions = calls.offsets, calls.functions
    if offsets != sorted(offsets):  # wasm-ld writes them in order; sort them if not
        order = sorted(range(len(offsets)), key=offsets.__getitem__)
        offsets, functions = [offsets[k] for k in order], [functions[k] for k in order]
    starts = scan.body_starts(code.payload, code.offset)
    return _callers(starts, len(function_imports(wasm)), offsets, functions, callees)


def _callers(starts: list[int], first_defined: int, offsets: list[int], functions: list[int],
             callees: Collection[int]) -> dict[int, tuple[int, ...]]:
    """`direct_callers` for `offsets` in ascending order: the bodies (`starts`) are walked
    alongside the calls, so each call's body is found without a search, and each callee's
    callers come in order."""
    out: dict[int, list[int]] = {}
    ends = [*starts[1:], sys.maxsize]  # where each body ends (the next one begins)
    body = 0
    for offset, callee in zip(offsets, functions, strict=True):
        while ends[body] <= offset:
            body += 1
        if callee in callees:
            caller = first_defined + body
            found = out.get(callee)
            if found is None:
                out[callee] = [caller]
            elif found[-1] != caller:
                found.append(caller)
    return {callee: tuple(found) for callee, found in out.items()}
