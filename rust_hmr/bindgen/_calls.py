"""Which functions call a given function: how the closure describers are found.

`Closure::wrap` calls `__wbindgen_describe_closure` from a small `#[inline(never)]` function
(`breaks_if_inlined`), one per closure type; running that function is what tells which describe
function belongs to the closure. Those callers are found here, without decoding the megabytes of
a debug build's code: a body can only call function `k` if it holds the opcode `call` followed by
`k` as LEB128, minimal or padded to 5 bytes (how LLVM leaves relocation sites), so only bodies
that hold one of those byte strings are decoded, instruction by instruction, to confirm.

The decoder knows each opcode's immediates from one table (`_IMMEDIATES`), which covers the MVP,
sign extension, saturating conversions, bulk memory, reference types and tail calls; SIMD and
atomics raise BindgenError (rustc does not emit them for wasm32 unless told to).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterator

from rust_hmr.bindgen._errors import BindgenError
from rust_hmr.bindgen._scan import code_index
from rust_hmr.wasm import WasmDecodeError, WasmFile
from rust_hmr.wasm.leb128 import encode_unsigned
from rust_hmr.wasm.reader import Reader
from rust_hmr.wasm.sections.code import FunctionBody, read_locals
from rust_hmr.wasm.sections.imports import ExternKind

CALL = 0x10
RETURN_CALL = 0x12
_CALLS = (CALL, RETURN_CALL)


def _u32(r: Reader) -> None:
    r.u32("immediate")


def _byte(r: Reader) -> None:
    r.u8("immediate")


def _memarg(r: Reader) -> None:
    r.u32("alignment")
    r.u32("offset")


def _blocktype(r: Reader) -> None:
    first = r.data[r.pos] if r.pos < r.end else None
    if first == 0x40 or (first is not None and 0x6F <= first <= 0x7F):
        r.u8("block type")
    else:
        r.s64("block type index")  # an s33


def _br_table(r: Reader) -> None:
    for _ in range(r.count("br_table target")):
        r.u32("br_table target")
    r.u32("br_table default")


def _value_types(r: Reader) -> None:
    r.skip(r.count("select type"), "select types")


def _fixed(n: int) -> Callable[[Reader], None]:
    return lambda r: r.skip(n, "constant")


def _s32(r: Reader) -> None:
    r.s32("i32 constant")


def _s64(r: Reader) -> None:
    r.s64("i64 constant")


Skip = Callable[[Reader], None]
_NONE: tuple[Skip, ...] = ()

# The immediates of each single-byte opcode, in order; an opcode missing here is refused.
_IMMEDIATES: dict[int, tuple[Skip, ...]] = {
    0x00: _NONE, 0x01: _NONE,  # unreachable, nop
    0x02: (_blocktype,), 0x03: (_blocktype,), 0x04: (_blocktype,), 0x05: _NONE,  # block .. else
    0x0B: _NONE, 0x0C: (_u32,), 0x0D: (_u32,), 0x0E: (_br_table,), 0x0F: _NONE,  # end .. return
    0x10: (_u32,), 0x11: (_u32, _u32),  # call, call_indirect (type, table)
    0x12: (_u32,), 0x13: (_u32, _u32),  # return_call, return_call_indirect
    0x1A: _NONE, 0x1B: _NONE, 0x1C: (_value_types,),  # drop, select, select t*
    **{op: (_u32,) for op in range(0x20, 0x27)},  # local.get .. global.set, table.get/set
    **{op: (_memarg,) for op in range(0x28, 0x3F)},  # loads and stores
    0x3F: (_byte,), 0x40: (_byte,),  # memory.size, memory.grow
    0x41: (_s32,), 0x42: (_s64,), 0x43: (_fixed(4),), 0x44: (_fixed(8),),  # constants
    **{op: _NONE for op in range(0x45, 0xC5)},  # numeric operators, sign extension
    0xD0: (_byte,), 0xD1: _NONE, 0xD2: (_u32,),  # ref.null t, ref.is_null, ref.func
}  # fmt: skip

# 0xFC-prefixed: saturating truncations (0-7), then bulk memory and table operators.
_PREFIXED: dict[int, tuple[Skip, ...]] = {
    **{sub: _NONE for sub in range(8)},
    8: (_u32, _byte), 9: (_u32,),  # memory.init, data.drop
    10: (_byte, _byte), 11: (_byte,),  # memory.copy, memory.fill
    12: (_u32, _u32), 13: (_u32,),  # table.init, elem.drop
    14: (_u32, _u32), 15: (_u32,), 16: (_u32,), 17: (_u32,),  # table.copy .. table.fill
}  # fmt: skip


def call_targets(body: FunctionBody) -> Iterator[int]:
    """The function indices `body` calls directly (`call`, `return_call`), in order."""
    return (callee for _, callee in _calls(body))


def _calls(body: FunctionBody, stop: int | None = None) -> Iterator[tuple[int, int]]:
    """Each direct call in `body` (where its opcode sits in `body.data`, and the callee), up to
    the instruction that starts at or after `stop`."""
    _, start = read_locals(body)
    r = Reader(body.data, pos=start, base=body.offset)
    data = r.data
    end = r.end if stop is None else min(r.end, stop + 1)
    while r.pos < end:
        at = r.pos
        opcode = data[at]
        r.pos = at + 1
        if opcode in _CALLS:
            yield at, r.u32("callee")
            continue
        skip_immediates(r, opcode, "the call scanner")


def skip_immediates(r: Reader, opcode: int, scanner: str) -> None:
    """Read past the immediates of the instruction whose `opcode` `r` just read; an opcode
    the tables don't know is a BindgenError naming it, its offset and the `scanner`."""
    at = r.pos - 1
    if opcode == 0xFC:
        sub = r.u32("0xfc sub-opcode")
        skips = _PREFIXED.get(sub)
    else:
        skips = _IMMEDIATES.get(opcode)
    if skips is None:
        what = f"opcode 0xfc {sub}" if opcode == 0xFC else f"opcode {opcode:#04x}"
        raise BindgenError(f"{what} (at offset {r.base + at:#x}) is not supported by "
                           f"{scanner}")
    for skip in skips:
        skip(r)


def imported_function_count(wasm: WasmFile) -> int:
    return sum(1 for imp in wasm.decoded("import", []) if imp.kind == ExternKind.FUNCTION)


def callers_of(wasm: WasmFile, callee: int) -> list[int]:
    """Indices of the functions whose bodies call function `callee` directly."""
    patterns = [bytes([op]) + encode_unsigned(callee, width) for op in _CALLS
                for width in (None, 5)]  # fmt: skip
    first = imported_function_count(wasm)
    code = code_index(wasm)
    # Search the section's bytes (in C: `re` finds a literal faster than `bytes.find` does
    # when the bytes are common, as 0x10 and 0x00 are in code), then decode each body a hit
    # falls in, as far as its last hit: a call of `callee` starts at one of them.
    last_hit: dict[int, int] = {}  # body -> the last hit's place in its data
    for pattern in patterns:
        search = re.compile(re.escape(pattern)).search
        hit = search(code.payload)
        while hit is not None:
            at = hit.start()
            i = bisect.bisect_right(code.starts, at) - 1
            if i >= 0 and at + len(pattern) <= code.ends[i]:  # not across bodies or a size
                last_hit[i] = max(last_hit.get(i, 0), at - code.starts[i])
            hit = search(code.payload, at + 1)  # overlapping hits too (callee 0x10: 10 10 10)
    found = []
    for i, last in sorted(last_hit.items()):
        try:
            if any(target == callee for _, target in _calls(code.body(i), last)):
                found.append(first + i)
        except WasmDecodeError as err:
            raise BindgenError(f"cannot decode function {first + i}: {err}") from None
    return found
