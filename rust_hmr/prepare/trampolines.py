"""Pass: route every direct call of a hot function through a table slot of its own.

For each hot function `f` (defined in the app's crate) the pass appends a function `T_f` that
forwards its parameters to `call_indirect` on `f`'s slot, and points every direct `call f`, every
export of `f` and every table entry of `f` at `T_f`. A patch then only has to write the slot.

Call sites are found through the module's own FUNCTION_INDEX_LEB relocations (`--emit-relocs`):
their immediates are padded to 5 bytes, so the rewrite changes bytes in place and decodes no
instruction. Bodies stay where they are and the code section's count keeps its width, so DWARF's
code offsets stay true.
"""

from collections.abc import Collection
from dataclasses import dataclass

from rust_hmr.wasm import scan
from rust_hmr.wasm.leb128 import encode_signed, encode_unsigned
from rust_hmr.wasm.module import WasmFile
from rust_hmr.wasm.reader import Reader
from rust_hmr.wasm.sections.elements import ElementSegment
from rust_hmr.wasm.sections.imports import ExternKind
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
    head, tail = _body_parts(ftype, type_index)
    return head + encode_signed(slot) + tail


def _body_parts(ftype: FuncType, type_index: int) -> tuple[bytes, bytes]:
    """A trampoline body's bytes before and after its slot's immediate."""
    head = bytearray([0])  # no local declarations
    for i in range(len(ftype.params)):
        head.append(_LOCAL_GET)
        head += encode_unsigned(i)
    head.append(_I32_CONST)
    tail = bytearray([_CALL_INDIRECT])
    tail += encode_unsigned(type_index)
    tail.append(0)  # table 0
    tail.append(_END)
    return bytes(head), bytes(tail)


def _bodies(types: list[FuncType], type_indices: list[int], slots: list[int]) -> list[bytes]:
    parts: dict[int, tuple[bytes, bytes]] = {}
    out = []
    for t, slot in zip(type_indices, slots, strict=True):
        if t not in parts:
            parts[t] = _body_parts(types[t], t)
        head, tail = parts[t]
        out.append(head + encode_signed(slot) + tail)
    return out


def run(wasm: WasmFile, calls: list[tuple[int, int]], exports: list[scan.RawExport],
        hot: list[int], first_slot: int, imported_functions: int,
        keep_exports: Collection[bytes] | None = None) -> dict[int, Trampoline]:
    """Add the trampolines for `hot` (function indices); their slots start at `first_slot`.
    `calls` are the (code offset, function index) pairs of the call relocations, `exports`
    the export section's entries. With `keep_exports` (the names rustc asked the linker to
    export), a hot function's export that is not among them goes (see `_rewrite_exports`)."""
    types: list[FuncType] = wasm.decoded("type")
    defined: list[int] = wasm.decoded("function")
    first_new = imported_functions + len(defined)
    plan = {f: Trampoline(f, first_slot + k, first_new + k) for k, f in enumerate(hot)}
    new_types = [defined[f - imported_functions] for f in hot]
    wasm.set("function", defined + new_types)
    _rewrite_code(wasm, calls, plan, _bodies(types, new_types, [plan[f].slot for f in hot]))
    _rewrite_elements(wasm, plan, first_slot, hot)
    _rewrite_exports(wasm, exports, plan, keep_exports)
    return plan


def _rewrite_code(wasm: WasmFile, calls: list[tuple[int, int]], plan: dict[int, Trampoline],
                  new_bodies: list[bytes]) -> None:
    code = wasm.get("code")
    assert code is not None
    payload = bytearray(code.payload)
    r = Reader(code.payload)
    count = r.u32("function body count")
    count_width = r.pos
    padded = {f: encode_unsigned(t.index, 5) for f, t in plan.items()}
    for offset, function in calls:
        immediate = padded.get(function)
        if immediate is None or payload[offset - 1] != _CALL:
            continue  # not a hot callee, or not a call immediate: the relocation's own meaning
        payload[offset : offset + 5] = immediate
    new_count = count + len(new_bodies)
    width = count_width if new_count < 1 << (7 * count_width) else None
    out = bytearray(encode_unsigned(new_count, width))
    out += memoryview(payload)[count_width:]
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


def _rewrite_exports(wasm: WasmFile, exports: list[scan.RawExport],
                     plan: dict[int, Trampoline], keep: Collection[bytes] | None) -> None:
    """Point the function exports of hot functions at their trampolines, and drop those not
    in `keep`: `--export-all` exports every function, but patches reach a hot function
    through its slot, so only the app's own exports (and the cold functions, which patches
    import by name) need to stay. Tens of thousands of exports in a large app cost wasmtime
    time to compile. Rewritten as bytes, entry by entry."""
    section = wasm.get("export")
    if section is None:
        return
    payload = section.payload
    function = int(ExternKind.FUNCTION)
    out = bytearray()
    kept = 0
    entry = scan.uleb(payload, 0, section.offset)[1]  # where the first entry starts
    for name, kind, index, start, end in exports:
        if kind == function and index in plan:
            if keep is None or name in keep:
                out += payload[entry:start] + encode_unsigned(plan[index].index)
                kept += 1
        else:
            out += payload[entry:end]
            kept += 1
        entry = end
    section.set_payload(encode_unsigned(kept) + bytes(out))
