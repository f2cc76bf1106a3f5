"""Pass: route every direct call of a hot function through a table slot of its own.

For each hot function `f` (defined in the app's crate) the pass appends a function `T_f` that
forwards its parameters to `call_indirect` on `f`'s slot, and points every direct `call f`, every
export of `f` and every table entry of `f` at `T_f`. A patch then only has to write the slot.

Call sites are found through the module's own FUNCTION_INDEX_LEB relocations (`--emit-relocs`):
their immediates are padded to 5 bytes, so the rewrite changes bytes in place and decodes no
instruction. Bodies stay where they are and the code section's count keeps its width, so DWARF's
code offsets stay true.
"""

from dataclasses import dataclass

from rust_hmr.wasm.leb128 import encode_signed, encode_unsigned
from rust_hmr.wasm.module import WasmFile
from rust_hmr.wasm.reader import Reader
from rust_hmr.wasm.sections.elements import ElementSegment
from rust_hmr.wasm.sections.exports import Export
from rust_hmr.wasm.sections.imports import ExternKind
from rust_hmr.wasm.sections.linking import Linking, SymbolKind
from rust_hmr.wasm.sections.reloc import RelocSection, RelocType
from rust_hmr.wasm.sections.types import FuncType

_LOCAL_GET, _I32_CONST, _CALL_INDIRECT, _END = 0x20, 0x41, 0x11, 0x0B
_CALL = 0x10


@dataclass(frozen=True)
class Trampoline:
    function: int  # the hot function's index (its body stays where it is)
    slot: int  # the table slot holding its current code
    index: int  # the trampoline's own function index


def trampoline_body(ftype: FuncType, type_index: int, slot: int) -> bytes:
    """`local.get 0..n; i32.const slot; call_indirect type 0; end`, with no locals."""
    out = bytearray([0])  # no local declarations
    for i in range(len(ftype.params)):
        out.append(_LOCAL_GET)
        out += encode_unsigned(i)
    out.append(_I32_CONST)
    out += encode_signed(slot)
    out.append(_CALL_INDIRECT)
    out += encode_unsigned(type_index)
    out.append(0)  # table 0
    out.append(_END)
    return bytes(out)


def run(wasm: WasmFile, linking: Linking, hot: list[int], first_slot: int,
        imported_functions: int) -> dict[int, Trampoline]:
    """Add the trampolines for `hot` (function indices); their slots start at `first_slot`."""
    types: list[FuncType] = wasm.decoded("type")
    defined: list[int] = wasm.decoded("function")
    first_new = imported_functions + len(defined)
    plan = {f: Trampoline(f, first_slot + k, first_new + k) for k, f in enumerate(hot)}
    new_types = [defined[f - imported_functions] for f in hot]
    wasm.set("function", defined + new_types)
    _rewrite_code(wasm, linking, plan, [
        trampoline_body(types[t], t, plan[f].slot) for f, t in zip(hot, new_types, strict=True)])
    _rewrite_elements(wasm, plan, first_slot, hot)
    _rewrite_exports(wasm, plan)
    return plan


def _rewrite_code(wasm: WasmFile, linking: Linking, plan: dict[int, Trampoline],
                  new_bodies: list[bytes]) -> None:
    code = wasm.get("code")
    assert code is not None
    payload = bytearray(code.payload)
    r = Reader(code.payload)
    count = r.u32("function body count")
    count_width = r.pos
    relocs: RelocSection = wasm.decoded("reloc.CODE")
    symbols = linking.symbols
    for rel in relocs.entries:
        if rel.type is not RelocType.FUNCTION_INDEX_LEB:
            continue
        sym = symbols[rel.index]
        if sym.kind is not SymbolKind.FUNCTION or sym.index not in plan:
            continue
        if payload[rel.offset - 1] != _CALL:
            continue  # not a call immediate; leave it to the relocation's own meaning
        payload[rel.offset : rel.offset + 5] = encode_unsigned(plan[sym.index].index, 5)
    new_count = count + len(new_bodies)
    width = count_width if new_count < 1 << (7 * count_width) else None
    out = bytearray(encode_unsigned(new_count, width))
    out += payload[count_width:]
    for body in new_bodies:
        out += encode_unsigned(len(body))
        out += body
    code.set_payload(bytes(out))


def _rewrite_elements(wasm: WasmFile, plan: dict[int, Trampoline], first_slot: int,
                      hot: list[int]) -> None:
    segments: list[ElementSegment] = list(wasm.decoded("element", []))
    rewritten = []
    for seg in segments:
        if seg.functions and any(f in plan for f in seg.functions):
            funcs = tuple(plan[f].index if f in plan else f for f in seg.functions)
            seg = ElementSegment(seg.flags, seg.mode, seg.table, seg.offset, seg.element_type,
                                 funcs, seg.exprs)
        rewritten.append(seg)
    if hot:
        rewritten.append(ElementSegment.active_functions(first_slot, hot))
    wasm.set("element", rewritten)


def _rewrite_exports(wasm: WasmFile, plan: dict[int, Trampoline]) -> None:
    exports: list[Export] = wasm.decoded("export", [])
    wasm.set("export", [
        Export(e.name, e.kind, plan[e.index].index)
        if e.kind is ExternKind.FUNCTION and e.index in plan else e
        for e in exports])
