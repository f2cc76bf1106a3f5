"""Pass: room for patches, and the exports that patches import.

Memory: the initial size grows by `pages`; those pages sit below anything the allocator can
reach (it only ever takes memory through `memory.grow`), at an address known at build time, so
the server can link patches without asking the page. Table: its initial size covers the
trampoline slots plus `spare_slots` for function pointers that patches add.
"""

from rust_hmr.prepare.errors import PrepareError
from rust_hmr.prepare.symbol_map import Reserved
from rust_hmr.wasm import scan
from rust_hmr.wasm.leb128 import encode_unsigned
from rust_hmr.wasm.module import WasmFile
from rust_hmr.wasm.reader import Reader
from rust_hmr.wasm.sections.common import Limits, TableType
from rust_hmr.wasm.sections.exports import Export, write_export
from rust_hmr.wasm.sections.imports import ExternKind, Import
from rust_hmr.wasm.writer import Writer

PAGE = 65536
MEMORY_EXPORT = "memory"
TABLE_EXPORT = "__indirect_function_table"
STACK_POINTER_EXPORT = "__stack_pointer"
_FUNCTION = int(ExternKind.FUNCTION)


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


def ensure_exports(wasm: WasmFile, entries: list[scan.RawExport],
                   stack_pointer: int) -> tuple[str, str, str]:
    """Export memory, table and stack pointer where the module does not; returns their names.
    `entries` are the export section's (its count and names; indices may have changed since).

    The new entries are appended to the section's bytes: `--export-all` gives a large app
    tens of thousands of exports, not worth decoding to add three."""
    section = wasm.get("export")
    if section is None:
        section = wasm.set("export", [])
    found: dict[int, str] = {}
    for name, kind, index, *_ in [e for e in entries if e[1] != _FUNCTION]:
        if index == 0 and kind in (ExternKind.MEMORY, ExternKind.TABLE):
            found.setdefault(kind, name.decode())
        if kind == ExternKind.GLOBAL and index == stack_pointer:
            found.setdefault(ExternKind.GLOBAL, name.decode())
    wanted = {ExternKind.MEMORY: (MEMORY_EXPORT, 0), ExternKind.TABLE: (TABLE_EXPORT, 0),
              ExternKind.GLOBAL: (STACK_POINTER_EXPORT, stack_pointer)}
    added = Writer()
    count = len(entries)
    for kind, (export_name, index) in wanted.items():
        if kind not in found:
            write_export(added, Export(export_name, kind, index))
            found[kind] = export_name
            count += 1
    if count != len(entries):
        r = Reader(section.payload)
        r.u32("export count")
        section.set_payload(encode_unsigned(count) + section.payload[r.pos :] +
                            added.getvalue())
    return found[ExternKind.MEMORY], found[ExternKind.TABLE], found[ExternKind.GLOBAL]


def run(wasm: WasmFile, pages: int, table_start: int, spare_slots: int) -> Reserved:
    memory_start, memory_size = grow_memory(wasm, pages)
    grow_table(wasm, table_start + spare_slots)
    return Reserved(memory_start, memory_size, table_start, spare_slots)
