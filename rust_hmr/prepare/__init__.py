"""Prepare: rewrite a linked main module so that patches can run against it.

`prepare_module` runs the passes in order: collect the symbol map, add trampolines for the hot
functions (`trampolines`), reserve memory and table room and export what patches import
(`reserve`). It drops the `linking` and `reloc.*` sections (they describe the module before
the rewrite; the symbol map replaces them) and keeps the debug sections, which stay true.
"""

import time
from collections.abc import Collection
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING

import blake3

from rust_hmr.prepare import collector, reserve, trampolines
from rust_hmr.prepare import symbols as found
from rust_hmr.prepare.errors import PrepareError
from rust_hmr.prepare.symbol_map import DataInfo, FunctionInfo, Reserved, SymbolMap
from rust_hmr.prepare.symbols import hot_names
from rust_hmr.wasm import scan
from rust_hmr.wasm.leb128 import encode_range, encode_unsigned
from rust_hmr.wasm.module import RELOC_PREFIX, WasmFile, parse
from rust_hmr.wasm.sections.name import NameKind

if TYPE_CHECKING:
    from rust_hmr.shim.link_manifest import LinkManifest

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
    "hot_names",
    "prepare_linked",
    "prepare_module",
]


@dataclass(frozen=True)
class PreparedModule:
    """The rewritten module and its symbol map; `timings` has the seconds of each step
    ("parse", "symbols", "rewrite", "write", "symbol map")."""

    data: bytes
    symbols: SymbolMap
    timings: dict[str, float] = field(default_factory=dict)


class _Clock:
    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, step: str) -> None:
        now = time.perf_counter()
        self.timings[step] = self.timings.get(step, 0.0) + now - self._last
        self._last = now


@collector.paused()
def prepare_module(
    data: bytes,
    hot_names: Collection[str],
    *,
    reserve_pages: int = DEFAULT_RESERVE_PAGES,
    spare_slots: int = DEFAULT_SPARE_SLOTS,
    app_exports: Collection[str] | None = None,
) -> PreparedModule:
    """Rewrite the linked module `data`; `hot_names` are the mangled names of the functions
    defined in the app's own crate (from its codegen-unit objects). `app_exports`, the names
    rustc asked the linker to export (`LinkManifest.exported`): every other export of a hot
    function goes (patches call hot functions through their slots). None keeps them all."""
    clock = _Clock()
    wasm = parse(data)
    clock.lap("parse")
    linking = found.require_linking(wasm)
    functions = found.read_functions(wasm, linking.symbols)
    export_section = wasm.get("export")
    exports = ([] if export_section is None
               else scan.exports(export_section.payload, export_section.offset))
    data_symbols = found.collect_data(wasm, linking, exports)
    stack_pointer = found.stack_pointer_global(linking.symbols)
    hot = functions.hot(hot_names if isinstance(hot_names, set) else set(hot_names))
    tables = wasm.decoded("table", [])
    if not tables:
        raise PrepareError("the main module has no function table (link with --export-table)")
    first_slot = tables[0].limits.minimum
    slots_of = found.table_indices(wasm)  # read before the trampolines take over the entries
    calls = found.call_relocations(wasm, len(functions.names))
    clock.lap("symbols")
    keep = None if app_exports is None else {name.encode() for name in app_exports}
    plan = trampolines.run(wasm, calls, exports, hot, first_slot, functions.imported, keep)
    reserved = reserve.run(wasm, reserve_pages, first_slot + len(hot), spare_slots)
    memory_export, table_export, sp_export = reserve.ensure_exports(wasm, exports, stack_pointer)
    _name_trampolines(wasm, functions.names, plan)
    wasm.sections = [s for s in wasm.sections
                     if s.name != "linking" and not s.name.startswith(RELOC_PREFIX)]
    clock.lap("rewrite")
    out = wasm.to_bytes()
    digest = blake3.blake3(out, max_threads=blake3.blake3.AUTO).hexdigest()
    clock.lap("write")
    callers = found.direct_callers(wasm, calls, plan.trampoline_of)
    infos = found.function_infos(wasm, functions, plan, slots_of, callers)
    symbols = SymbolMap(infos, data_symbols, reserved, table_export, memory_export, sp_export,
                        module_blake3=digest)
    clock.lap("symbol map")
    return PreparedModule(out, symbols, clock.timings)


def prepare_linked(data: bytes, manifest: "LinkManifest",
                   reserve_pages: int = DEFAULT_RESERVE_PAGES,
                   spare_slots: int = DEFAULT_SPARE_SLOTS) -> PreparedModule:
    """The dev main module from the linker shim's link: hot are the functions that the hot
    objects define (the crate's codegen units and its workspace members'), and a hot function
    keeps only the export rustc asked for. `Project` and the `prepare` stage both run this."""
    hot = hot_names(Path(obj.stored) for obj in manifest.hot_objects)
    return prepare_module(data, hot, reserve_pages=reserve_pages, spare_slots=spare_slots,
                          app_exports=manifest.exported)


def _name_trampolines(wasm: WasmFile, names: list[str], plan: trampolines.Plan) -> None:
    """Name each trampoline `<name>.hmr_trampoline` in the `name` section. Their indices come
    after every other function's, so the entries are appended to the function subsection as
    bytes; the other subsections (locals, globals, data) are copied as they are."""
    section = wasm.get("name")
    if section is None or not plan:
        return
    payload = section.payload
    new = _trampoline_names(names, plan)
    for kind, head, start, end in scan.subsections(payload, section.offset):
        if kind == NameKind.FUNCTION:
            count, pos = scan.uleb(payload, start, section.offset)
            sub = _subsection(kind, encode_unsigned(count + len(plan)) + payload[pos:end] + new)
            section.set_payload(payload[:head] + sub + payload[end:])
            return
        if kind > NameKind.FUNCTION:  # subsections go in id order: function names before it
            sub = _subsection(NameKind.FUNCTION, encode_unsigned(len(plan)) + new)
            section.set_payload(payload[:head] + sub + payload[head:])
            return
    section.set_payload(payload + _subsection(NameKind.FUNCTION,
                                              encode_unsigned(len(plan)) + new))


def _trampoline_names(names: list[str], plan: trampolines.Plan) -> bytes:
    """The name map entries of the trampolines: index, then `<name>.hmr_trampoline`. The
    indices are consecutive, so they are encoded in one go; a name's length, from the few
    distinct ones."""
    named = [names[f].encode() + _TRAMPOLINE_SUFFIX for f in plan.functions]
    lengths = list(map(len, named))
    encoded_length = {n: encode_unsigned(n) for n in set(lengths)}
    indices = encode_range(plan.indices.start, plan.indices.stop)
    return b"".join(chain.from_iterable(zip(
        indices, map(encoded_length.__getitem__, lengths), named, strict=True)))


_TRAMPOLINE_SUFFIX = b".hmr_trampoline"


def _subsection(kind: int, body: bytes) -> bytes:
    return bytes([kind]) + encode_unsigned(len(body)) + body
