"""Prepare: rewrite a linked main module so that patches can run against it.

`prepare_module` runs the passes in order: collect the symbol map, add trampolines for the hot
functions (`trampolines`), reserve memory and table room and export what patches import
(`reserve`). It drops the `linking` and `reloc.*` sections (they describe the module before
the rewrite; the symbol map replaces them) and keeps the debug sections, which stay true.
"""

from collections.abc import Collection
from dataclasses import dataclass, replace

import blake3

from rust_hmr.prepare import reserve, trampolines
from rust_hmr.prepare.errors import PrepareError
from rust_hmr.prepare.symbol_map import DataInfo, FunctionInfo, Reserved, SymbolMap
from rust_hmr.prepare.symbols import (
    collect_data,
    collect_functions,
    direct_callers,
    function_imports,
    require_linking,
    stack_pointer_global,
    table_indices,
)
from rust_hmr.wasm.module import RELOC_PREFIX, WasmFile, parse

# 64 pages = 4 MiB for data that patches add (string literals, vtables, new statics): a patch
# of a few functions places a few KiB, so this lasts hundreds of saves; the pages cost address
# space, not resident memory, until written. 4096 spare table slots for function pointers
# that patches add (closures, trait objects): a table slot is one reference.
DEFAULT_RESERVE_PAGES = 64
DEFAULT_SPARE_SLOTS = 4096

__all__ = [
    "DEFAULT_RESERVE_PAGES",
    "DEFAULT_SPARE_SLOTS",
    "DataInfo",
    "FunctionInfo",
    "PrepareError",
    "PreparedModule",
    "Reserved",
    "SymbolMap",
    "prepare_module",
]


@dataclass(frozen=True)
class PreparedModule:
    data: bytes
    symbols: SymbolMap


def prepare_module(
    data: bytes,
    hot_names: Collection[str],
    *,
    reserve_pages: int = DEFAULT_RESERVE_PAGES,
    spare_slots: int = DEFAULT_SPARE_SLOTS,
) -> PreparedModule:
    """Rewrite the linked module `data`; `hot_names` are the mangled names of the functions
    defined in the app's own crate (from its codegen-unit objects)."""
    wasm = parse(data)
    linking = require_linking(wasm)
    functions = collect_functions(wasm, linking)
    data_symbols = collect_data(wasm, linking)
    stack_pointer = stack_pointer_global(linking)
    hot_set = set(hot_names)
    hot = [f.index for f in functions
           if not f.imported and (f.name in hot_set or not hot_set.isdisjoint(f.names))]
    tables = wasm.decoded("table", [])
    if not tables:
        raise PrepareError("the main module has no function table (link with --export-table)")
    first_slot = tables[0].limits.minimum
    slots_of = table_indices(wasm)  # read before the trampolines take over the entries
    callers = direct_callers(wasm, linking)
    imported = len(function_imports(wasm))
    plan = trampolines.run(wasm, linking, hot, first_slot, imported)
    reserved = reserve.run(wasm, reserve_pages, first_slot + len(hot), spare_slots)
    memory_export, table_export, sp_export = reserve.ensure_exports(wasm, stack_pointer)
    _name_trampolines(wasm, functions, plan)
    wasm.sections = [s for s in wasm.sections
                     if s.name != "linking" and not s.name.startswith(RELOC_PREFIX)]
    out = wasm.to_bytes()
    functions = [
        replace(f, hot=True, slot=plan[f.index].slot, trampoline=plan[f.index].index,
                table_index=slots_of.get(f.index),
                callers=tuple(sorted(callers.get(f.index, ()))))
        if f.index in plan else replace(f, table_index=slots_of.get(f.index))
        for f in functions]
    symbols = SymbolMap(functions, data_symbols, reserved, table_export, memory_export,
                        sp_export, module_blake3=blake3.blake3(out).hexdigest())
    return PreparedModule(out, symbols)


def _name_trampolines(wasm: WasmFile, functions: list[FunctionInfo],
                      plan: dict[int, trampolines.Trampoline]) -> None:
    section = wasm.get("name")
    if section is None:
        return
    names = section.decode()
    names.functions.update({t.index: f"{functions[f].name}.hmr_trampoline"
                            for f, t in plan.items()})
    section.set_value(names)
