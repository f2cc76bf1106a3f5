"""Pass: room for patches, and the exports that patches import.

Memory: the initial size grows by `pages`; those pages sit below anything the allocator can
reach (it only ever takes memory through `memory.grow`), at an address known at build time, so
the server can link patches without asking the page. Table: its initial size covers the
trampoline slots plus `spare_slots` for function pointers that patches add.
"""

from rust_hmr.prepare.errors import PrepareError
from rust_hmr.prepare.symbol_map import Reserved
from rust_hmr.wasm.module import WasmFile
from rust_hmr.wasm.sections.common import Limits, TableType
from rust_hmr.wasm.sections.exports import Export
from rust_hmr.wasm.sections.imports import ExternKind, Import

PAGE = 65536
MEMORY_EXPORT = "memory"
TABLE_EXPORT = "__indirect_function_table"
STACK_POINTER_EXPORT = "__stack_pointer"


def _grow(limits: Limits, by: int, what: str) -> Limits:
    minimum = limits.minimum + by
    if limits.maximum is not None and minimum > limits.maximum:
        raise PrepareError(f"{what} maximum {limits.maximum} leaves no room for {by} more")
    return Limits(minimum, limits.maximum, limits.flags)


def _grow_to(limits: Limits, minimum: int, what: str) -> Limits:
    return _grow(limits, max(0, minimum - limits.minimum), what)


def grow_memory(wasm: WasmFile, pages: int) -> tuple[int, int]:
    """Raise the initial memory by `pages`; returns (first reserved byte, reserved bytes)."""
    memories = wasm.decoded("memory", [])
    if memories:
        start = memories[0].minimum * PAGE
        wasm.set("memory", [_grow(memories[0], pages, "memory"), *memories[1:]])
        return start, pages * PAGE
    imports: list[Import] = wasm.decoded("import", [])
    for i, imp in enumerate(imports):
        if imp.kind is ExternKind.MEMORY:
            assert isinstance(imp.desc, Limits)
            start = imp.desc.minimum * PAGE
            imports[i] = Import(imp.module, imp.field, imp.kind, _grow(imp.desc, pages, "memory"))
            wasm.set("import", imports)
            return start, pages * PAGE
    raise PrepareError("the main module has no memory")


def grow_table(wasm: WasmFile, size: int) -> None:
    tables: list[TableType] = wasm.decoded("table", [])
    if not tables:
        raise PrepareError("the main module has no function table (link with --export-table)")
    first = tables[0]
    wasm.set("table", [TableType(first.element, _grow_to(first.limits, size, "table")),
                       *tables[1:]])


def ensure_exports(wasm: WasmFile, stack_pointer: int) -> tuple[str, str, str]:
    """Export memory, table and stack pointer where the module does not; returns their names."""
    exports: list[Export] = list(wasm.decoded("export", []))
    found: dict[ExternKind, str] = {}
    for e in exports:
        if e.index == 0 and e.kind in (ExternKind.MEMORY, ExternKind.TABLE):
            found.setdefault(e.kind, e.name)
        if e.kind is ExternKind.GLOBAL and e.index == stack_pointer:
            found.setdefault(ExternKind.GLOBAL, e.name)
    wanted = {ExternKind.MEMORY: (MEMORY_EXPORT, 0), ExternKind.TABLE: (TABLE_EXPORT, 0),
              ExternKind.GLOBAL: (STACK_POINTER_EXPORT, stack_pointer)}
    for kind, (name, index) in wanted.items():
        if kind not in found:
            exports.append(Export(name, kind, index))
            found[kind] = name
    wasm.set("export", exports)
    return found[ExternKind.MEMORY], found[ExternKind.TABLE], found[ExternKind.GLOBAL]


def run(wasm: WasmFile, pages: int, table_start: int, spare_slots: int) -> Reserved:
    memory_start, memory_size = grow_memory(wasm, pages)
    grow_table(wasm, table_start + spare_slots)
    return Reserved(memory_start, memory_size, table_start, spare_slots)
