"""Pass: route every direct call of a hot function through a table slot of its own.

For each hot function `f` (defined in the app's crate) the pass appends a function `T_f` that
forwards its parameters to `call_indirect` on `f`'s slot, and points every direct `call f`, every
export of `f` and every table entry of `f` at `T_f`. A patch then only has to write the slot.

Call sites are found through the module's own FUNCTION_INDEX_LEB relocations (`--emit-relocs`):
their immediates are padded to 5 bytes, so the rewrite changes bytes in place and decodes no
instruction. Bodies stay where they are and the code section's count keeps its width, so DWARF's
code offsets stay true.
"""

from bisect import bisect_right
from collections.abc import Collection
from dataclasses import dataclass
from functools import cached_property
from itertools import chain

from rust_hmr.wasm import scan
from rust_hmr.wasm.leb128 import encode_range, encode_signed, encode_unsigned
from rust_hmr.wasm.module import WasmFile
from rust_hmr.wasm.reader import Reader
from rust_hmr.wasm.sections.elements import ElementSegment
from rust_hmr.wasm.sections.imports import ExternKind
from rust_hmr.wasm.sections.types import FuncType

_LOCAL_GET, _I32_CONST, _CALL_INDIRECT, _END = 0x20, 0x41, 0x11, 0x0B
_CALL = 0x10


@dataclass(frozen=True)
class Plan:
    """The trampolines: hot function `functions[k]` (its body stays where it is) has its
    current code in table slot `first_slot + k`, and trampoline `first_index + k`."""

    functions: list[int]
    first_slot: int
    first_index: int

    def __len__(self) -> int:
        return len(self.functions)

    @property
    def slots(self) -> range:
        return range(self.first_slot, self.first_slot + len(self.functions))

    @property
    def indices(self) -> range:
        """The trampolines' function indices, in the order of `functions`."""
        return range(self.first_index, self.first_index + len(self.functions))

    @cached_property
    def trampoline_of(self) -> dict[int, int]:
        """hot function -> its trampoline's index."""
        return dict(zip(self.functions, self.indices, strict=True))


@dataclass(frozen=True)
class Calls:
    """The call relocations, as two columns: `offsets[k]` (in the code payload) is where the
    immediate of a call of function `functions[k]` lies."""

    offsets: list[int]
    functions: list[int]


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


def _body_pieces(types: list[FuncType], type_indices: list[int], first_slot: int,
                 ) -> list[bytes]:
    """The trampolines' bodies as the code section holds them, in pieces to join: size and
    head, slot, tail. The slots are consecutive from `first_slot`, so they are encoded in one
    go (`encode_range`); they are equally wide but at a few points (64, 8192, ...), and
    between two such points a body's size and head depend on its type alone."""
    parts = {t: _body_parts(types[t], t) for t in set(type_indices)}
    slots = encode_range(first_slot, first_slot + len(type_indices), signed=True)
    widths = list(map(len, slots))
    heads: list[bytes] = []
    start = 0
    while start < len(widths):
        width = widths[start]
        end = bisect_right(widths, width, start)
        sized = {t: encode_unsigned(len(head) + width + len(tail)) + head
                 for t, (head, tail) in parts.items()}
        heads += map(sized.__getitem__, type_indices[start:end])
        start = end
    tail_of = {t: tail for t, (_, tail) in parts.items()}
    return list(chain.from_iterable(zip(heads, slots, map(tail_of.__getitem__, type_indices),
                                        strict=True)))


def run(wasm: WasmFile, calls: Calls, exports: list[scan.RawExport],
        hot: list[int], first_slot: int, imported_functions: int,
        keep_exports: Collection[bytes] | None = None) -> Plan:
    """Add the trampolines for `hot` (function indices); their slots start at `first_slot`.
    `calls` are the call relocations, `exports` the export section's entries. With
    `keep_exports` (the names rustc asked the linker to export), a hot function's export that
    is not among them goes (see `_rewrite_exports`)."""
    types: list[FuncType] = wasm.decoded("type")
    defined: list[int] = wasm.decoded("function")
    plan = Plan(hot, first_slot, imported_functions + len(defined))
    new_types = [defined[f - imported_functions] for f in hot]
    wasm.set("function", defined + new_types)
    _rewrite_code(wasm, calls, plan, _body_pieces(types, new_types, first_slot))
    _rewrite_elements(wasm, plan, first_slot, hot)
    _rewrite_exports(wasm, exports, plan, keep_exports)
    return plan


def _rewrite_code(wasm: WasmFile, calls: Calls, plan: Plan, new_bodies: list[bytes]) -> None:
    """Point the hot calls at the trampolines and append the trampolines' bodies (`new_bodies`
    in pieces, `_body_pieces`)."""
    code = wasm.get("code")
    assert code is not None
    payload = bytearray(code.payload)
    r = Reader(code.payload)
    count = r.u32("function body count")
    count_width = r.pos
    indices = plan.indices
    padded = dict(zip(plan.functions, encode_range(indices.start, indices.stop, width=5),
                      strict=True))
    for offset, function in zip(calls.offsets, calls.functions, strict=True):
        immediate = padded.get(function)
        if immediate is None or payload[offset - 1] != _CALL:
            continue  # not a hot callee, or not a call immediate: the relocation's own meaning
        payload[offset : offset + 5] = immediate
    new_count = count + len(plan)
    width = count_width if new_count < 1 << (7 * count_width) else None
    code.set_payload(b"".join([encode_unsigned(new_count, width),
                               memoryview(payload)[count_width:], *new_bodies]))


def _rewrite_elements(wasm: WasmFile, plan: Plan, first_slot: int, hot: list[int]) -> None:
    segments: list[ElementSegment] = list(wasm.decoded("element", []))
    trampoline_of = plan.trampoline_of
    rewritten = []
    for seg in segments:
        funcs = tuple(map(trampoline_of.get, seg.functions, seg.functions))
        if funcs != seg.functions:
            seg = ElementSegment(seg.flags, seg.mode, seg.table, seg.offset, seg.element_type,
                                 funcs, seg.exprs)
        rewritten.append(seg)
    if hot:
        rewritten.append(ElementSegment.active_functions(first_slot, hot))
    wasm.set("element", rewritten)


def _rewrite_exports(wasm: WasmFile, exports: list[scan.RawExport], plan: Plan,
                     keep: Collection[bytes] | None) -> None:
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
    trampoline_of = plan.trampoline_of
    out = bytearray()
    kept = 0
    entry = scan.uleb(payload, 0, section.offset)[1]  # where the first entry starts
    for name, kind, index, start, end in exports:
        if kind == function and index in trampoline_of:
            if keep is None or name in keep:
                out += payload[entry:start] + encode_unsigned(trampoline_of[index])
                kept += 1
        else:
            out += payload[entry:end]
            kept += 1
        entry = end
    section.set_payload(encode_unsigned(kept) + bytes(out))
