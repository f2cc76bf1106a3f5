"""What a describe function does, read from its body alone: the words it reports and the
functions it calls, so that describing needs no wasmtime.

A describe function only calls `__wbindgen_describe(word)` with constants and calls other
describe functions. In a release build that is a straight line of `i32.const N; call`; a debug
build adds a stack frame (`global.get $sp; i32.const 16; i32.sub; global.set $sp`), stores each
word into the frame for the debugger, and calls `<T as WasmDescribe>::describe` helpers.
wasm-bindgen's CLI runs them in an interpreter of its own for the same reason.

`summarize` runs a body symbolically: each value is a constant, "the global G at entry plus K",
or unknown. It succeeds when every reported word and closure slot is a constant, every store
goes into the frame below one global (the stack pointer), that global is back at its entry
value on return, and nothing else happens: no branch, load, other import or unknown call
target. The `Summary` is then exactly what running the body does, whatever the caller's state,
but for the callees it names (`Call`, `Indirect`: expanded where they are run, `_replay`) and
the frame's bounds (checked against the memory where it runs). Anything else gives None, and
the function is run in wasmtime.

A summary depends only on the body's bytes, its parameter count and the indices of the two
describe imports, so it is cached by those (`SummaryCache`); not by the bytes as they are,
though: calls name their callees by index, and one import or function more shifts the indices
of the next build, so no body would be found again. The linker leaves each call's immediate
padded to 5 bytes, and the cache keys a body by its `Shape`, those immediates taken out, and
what each of them calls (`__wbindgen_describe`, `__wbindgen_describe_closure`, another
function); a summary found by shape gets the body's own callees back (`Template`). web-sys's
thousands of describe functions keep their shapes from build to build.
"""

from __future__ import annotations

import contextlib
import marshal
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, NamedTuple

import blake3

from rust_hmr.atomic import write_atomic


class Call(NamedTuple):
    """A direct call: the callee's arity as summarized (checked where it is expanded), and the
    stack global's offset from the caller's entry value at the call."""

    function: int
    params: int
    results: int
    frame: int


class Indirect(NamedTuple):
    """`i32.const slot; call_indirect type`: the callee is whatever the table holds then."""

    slot: int
    type_index: int
    params: int
    results: int
    frame: int


class ClosureSlot(NamedTuple):
    """A call of `__wbindgen_describe_closure`: the table slot it reports."""

    slot: int


Item = int | Call | Indirect | ClosureSlot  # an int is a reported word (as an i32)


class Summary(NamedTuple):
    """The items, in order, and the frame: stores land in [entry + low, entry + high), entry
    being the value of the global `stack` on entry (-1: the body touches no global); `low` is
    the lowest address before a store's constant offset is added, which wasm adds unwrapped."""

    items: tuple[Item, ...]
    stack: int
    low: int
    high: int


class _Rel(NamedTuple):
    """The value of global `global_index` at entry, plus `offset`."""

    global_index: int
    offset: int


_UNKNOWN = None
_MASK32 = 0xFFFF_FFFF
Value = int | _Rel | None

_STORE_WIDTHS = {0x36: 4, 0x37: 8, 0x38: 4, 0x39: 8, 0x3A: 1, 0x3B: 2, 0x3C: 1, 0x3D: 2, 0x3E: 4}
_I32_CONST_OPS: dict[int, tuple[int, Callable[..., int]]] = {
    0x45: (1, lambda a: int(a == 0)), 0x46: (2, lambda a, b: int(a == b)),
    0x47: (2, lambda a, b: int(a != b)), 0x6C: (2, lambda a, b: a * b),
    0x71: (2, lambda a, b: a & b), 0x72: (2, lambda a, b: a | b), 0x73: (2, lambda a, b: a ^ b),
    0x74: (2, lambda a, b: a << (b & 31)), 0x76: (2, lambda a, b: a >> (b & 31)),
}  # fmt: skip
_CONST, _LOCAL_GET, _LOCAL_SET, _LOCAL_TEE, _GLOBAL_GET, _GLOBAL_SET = (
    0x41, 0x20, 0x21, 0x22, 0x23, 0x24)
_CALL, _CALL_INDIRECT, _DROP, _NOP, _END, _RETURN, _ADD, _SUB = (
    0x10, 0x11, 0x1A, 0x01, 0x0B, 0x0F, 0x6A, 0x6B)


class _NotSimple(Exception):
    pass


def _s32(value: int) -> int:
    value &= _MASK32
    return value - (1 << 32) if value & 0x8000_0000 else value


def _leb(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return result, pos


def _sleb(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            if byte & 0x40:
                result -= 1 << shift
            return _s32(result), pos


@dataclass
class Arity:
    """What summarizing needs to know of the module around a body."""

    describe: int | None  # function index of __wbindgen_describe
    describe_closure: int | None
    functions: list[tuple[int, int]]  # (params, results) of every function, by index
    types: list[tuple[int, int]]  # (params, results) of every type

    @cached_property
    def padded_describes(self) -> dict[bytes, int]:
        """The two describe imports' indices as padded call immediates, and their roles."""
        found = {padded_u32(self.describe_closure): _DESCRIBE_CLOSURE} \
            if self.describe_closure is not None else {}
        if self.describe is not None:
            found[padded_u32(self.describe)] = _DESCRIBE
        return found


def summarize(body: bytes, params: int, arity: Arity) -> Summary | None:
    """The summary of a body (locals included) of a function of `params` parameters, or None
    when it does anything but what a describe function does."""
    return _summarize_with_calls(body, params, arity)[0]


CallSites = dict[int, int]  # where each call's immediate starts in the body -> its item's index


def _summarize_with_calls(body: bytes, params: int,
                          arity: Arity) -> tuple[Summary | None, CallSites]:  # fmt: skip
    calls: CallSites = {}
    try:
        return _summarize(body, params, arity, calls), calls
    except (_NotSimple, IndexError):
        return None, calls


def _summarize(data: bytes, params: int, arity: Arity, calls: CallSites) -> Summary:
    pos = 0
    groups, pos = _leb(data, pos)
    count = 0
    for _ in range(groups):
        n, pos = _leb(data, pos)
        count += n
        pos += 1  # the type: locals start at zero whatever it is
    if count > 10_000:
        raise _NotSimple
    local: list[Value] = [*([_UNKNOWN] * params), *([0] * count)]
    stack: list[Value] = []
    push, pop = stack.append, stack.pop
    items: list[Item] = []
    glob = -1  # the one global the body touches
    value: Value = _UNKNOWN  # its current value
    low, high = 0, 0
    end = len(data)
    while pos < end:
        op = data[pos]
        pos += 1
        if op == _CONST:
            imm, pos = _sleb(data, pos)
            push(imm)
        elif op == _LOCAL_GET:
            imm, pos = _leb(data, pos)
            push(local[imm])
        elif op == _LOCAL_SET:
            imm, pos = _leb(data, pos)
            local[imm] = pop()
        elif op == _LOCAL_TEE:
            imm, pos = _leb(data, pos)
            local[imm] = stack[-1]
        elif op == _CALL:
            calls[pos] = len(items)
            imm, pos = _leb(data, pos)
            frame = _frame(glob, value)
            if imm == arity.describe:
                word = pop()
                if not isinstance(word, int):
                    raise _NotSimple
                items.append(word)
            elif imm == arity.describe_closure:
                slot = pop()
                if not isinstance(slot, int):
                    raise _NotSimple
                del stack[-2:]
                items.append(ClosureSlot(slot))
                push(0)
            else:
                p, r = arity.functions[imm]
                _call(stack, p, r)
                items.append(Call(imm, p, r, frame))
        elif op in (_GLOBAL_GET, _GLOBAL_SET):
            imm, pos = _leb(data, pos)
            if glob == -1:
                glob, value = imm, _Rel(imm, 0)
            elif imm != glob:
                raise _NotSimple
            if op == _GLOBAL_GET:
                push(value)
            else:
                value = pop()
        elif op in _STORE_WIDTHS:
            _, pos = _leb(data, pos)  # alignment
            offset, pos = _leb(data, pos)
            pop()
            address = pop()
            if not isinstance(address, _Rel) or address.global_index != glob:
                raise _NotSimple
            low = min(low, address.offset)  # no wrap below zero: the check is on this
            high = max(high, address.offset + offset + _STORE_WIDTHS[op])
        elif op in (_ADD, _SUB):
            b, a = pop(), pop()
            push(_add(a, b, op == _SUB))
        elif op in _I32_CONST_OPS:
            n, fn = _I32_CONST_OPS[op]
            operands = [pop() for _ in range(n)][::-1]
            ints = [v for v in operands if isinstance(v, int)]
            push(_s32(fn(*(v & _MASK32 for v in ints))) if len(ints) == n else _UNKNOWN)
        elif op == _CALL_INDIRECT:
            type_index, pos = _leb(data, pos)
            table, pos = _leb(data, pos)
            slot = pop()
            if table != 0 or not isinstance(slot, int):
                raise _NotSimple
            p, r = arity.types[type_index]
            frame = _frame(glob, value)
            _call(stack, p, r)
            items.append(Indirect(slot & _MASK32, type_index, p, r, frame))
        elif op == _DROP:
            pop()
        elif op == _RETURN or (op == _END and pos == end):
            if glob != -1 and value != _Rel(glob, 0):
                raise _NotSimple  # the stack pointer is not restored
            return Summary(tuple(items), glob, low, high)
        elif op != _NOP:
            raise _NotSimple
    raise _NotSimple


def _frame(glob: int, value: Value) -> int:
    """The stack global's offset from its entry value (0 when the body has not touched it)."""
    if glob == -1:
        return 0
    if not isinstance(value, _Rel):
        raise _NotSimple
    return value.offset


def _call(stack: list[Value], params: int, results: int) -> None:
    if params:
        if len(stack) < params:
            raise _NotSimple
        del stack[-params:]
    stack.extend([_UNKNOWN] * results)


def _add(a: Value, b: Value, subtract: bool) -> Value:
    if isinstance(a, int) and isinstance(b, int):
        return _s32(a - b if subtract else a + b)
    if isinstance(a, _Rel) and isinstance(b, int):
        return _Rel(a.global_index, _s32(a.offset - b if subtract else a.offset + b))
    if isinstance(a, int) and isinstance(b, _Rel) and not subtract:
        return _Rel(b.global_index, _s32(a + b.offset))
    return _UNKNOWN


# --- the cache of summaries, by the body's shape -------------------------------------------

# A call whose callee index the linker left padded to 5 bytes (a relocation site): opcode, then
# four LEB128 bytes with the continuation bit and a last one of at most 4 bits.
_PADDED_CALL = re.compile(rb"\x10([\x80-\xff]{4}[\x00-\x0f])")
_NO_TARGET = b"\x10\x80\x80\x80\x80\x00"  # what a padded call's immediate is replaced by
# What a padded call's target is to the summarizer, by the module's arity.
_OTHER, _DESCRIBE, _DESCRIBE_CLOSURE = range(3)


class Shape(NamedTuple):
    """A body with the callees of its padded calls taken out (`code`), what each callee is to
    the summarizer (`roles`) and their LEB128 bytes.

    The regex tells each byte's part the same way in the body and in `code` (the replacement
    bytes fall in the classes of the bytes they replace), so `code` and `callees` give the body
    back: two bodies of one code differ only in whom their padded calls call."""

    code: bytes
    roles: tuple[int, ...]
    callees: list[bytes]


def shape_of(body: bytes, arity: Arity) -> Shape:
    parts = _PADDED_CALL.split(body)
    if len(parts) == 1:
        return Shape(body, (), [])
    callees = parts[1::2]
    known = arity.padded_describes
    return Shape(_NO_TARGET.join(parts[0::2]), tuple([known.get(c, _OTHER) for c in callees]),
                 callees)


def padded_u32(value: int) -> bytes:
    return bytes([value >> shift & 0x7F | 0x80 for shift in (0, 7, 14, 21)] + [value >> 28])


def _padded_value(raw: bytes) -> int:
    """The value of a 5-byte LEB128 (the pattern above checked its form)."""
    v = int.from_bytes(raw, "little")
    return (v & 0x7F | v >> 1 & 0x3F80 | v >> 2 & 0x1F_C000 | v >> 3 & 0xFE0_0000
            | v >> 4 & 0xF000_0000)  # fmt: skip


class Template(NamedTuple):
    """A summary made for one body, for every body of its shape: `links` name the `Call` items
    whose callee is a padded call's target, (item index, target index). `only` is the body it
    holds for when some padded call's bytes were no call the summarizer read (an immediate of
    another instruction, code after a `return`): then it is for that body alone."""

    summary: Summary
    links: tuple[tuple[int, int], ...]
    only: bytes | None

    def relocated(self, shape: Shape, functions: int) -> Summary | None:
        """The summary of the body of `shape`; None when it calls past the `functions`."""
        if not self.links:
            return self.summary
        s = self.summary
        items = list(s.items)
        for item, callee in self.links:
            function = _padded_value(shape.callees[callee])
            if function >= functions:
                return None
            call: Call = items[item]  # type: ignore[assignment]
            items[item] = Call(function, call.params, call.results, call.frame)
        return Summary(tuple(items), s.stack, s.low, s.high)


def _template(body: bytes, params: int, arity: Arity) -> Template | None:
    summary, calls = _summarize_with_calls(body, params, arity)
    if summary is None:
        return None
    immediates = [match.start() + 1 for match in _PADDED_CALL.finditer(body)]
    if not all(at in calls for at in immediates):
        return Template(summary, (), body)
    links = tuple((calls[at], k) for k, at in enumerate(immediates)
                  if isinstance(summary.items[calls[at]], Call))  # fmt: skip
    return Template(summary, links, None)


_FORMAT = b"rust-hmr describe summaries 2\n"
_DIGEST = 32
CACHE_FILE = f"summaries-py{sys.version_info[0]}{sys.version_info[1]}.bin"
MAX_ENTRIES = 20_000  # a dev module of a large app has a few thousand describe functions


# (parameter count, describe import indices, the targets' roles, the shape's code)
Key = tuple[int, int, int, tuple[int, ...], bytes]
_LOADED: dict[Path | None, dict[Key, Template | None]] = {}


class SummaryCache:
    """Summaries by (parameter count, describe import indices, the body's shape and what its
    padded calls' targets are), in memory and in one file of `cache_dir` (marshal, behind a
    blake3 digest checked before use: a damaged file is ignored and rewritten)."""

    def __init__(self, cache_dir: Path | None) -> None:
        self.path = None if cache_dir is None else cache_dir / CACHE_FILE
        # One dict per file for the process (read once), and one for no file at all.
        if self.path not in _LOADED:
            _LOADED[self.path] = self._load()
        self.entries = _LOADED[self.path]
        self.added = 0  # summaries this cache made (not found), for reports and tests
        self._unsaved = False

    def _load(self) -> dict[Key, Template | None]:
        if self.path is None:
            return {}
        try:
            blob = self.path.read_bytes()
        except OSError:
            return {}
        head, digest = blob[:len(_FORMAT)], blob[len(_FORMAT):len(_FORMAT) + _DIGEST]
        payload = blob[len(_FORMAT) + _DIGEST:]
        if head != _FORMAT or blake3.blake3(payload).digest() != digest:
            return {}
        try:
            raw = marshal.loads(payload)
            return {key: None if t is None else _revive(t) for key, t in raw.items()}
        except (EOFError, ValueError, TypeError, KeyError, IndexError, AttributeError):
            return {}

    def get(self, body: bytes, params: int, arity: Arity) -> Summary | None:
        shape = shape_of(body, arity)
        key = (params, _index(arity.describe), _index(arity.describe_closure), shape.roles,
               shape.code)  # fmt: skip
        entries = self.entries
        if key in entries:
            found = entries[key]
            if found is None:
                return None
            if found.only is None or found.only == body:
                summary = found.relocated(shape, len(arity.functions))
                if summary is not None:
                    return summary
        if len(entries) >= MAX_ENTRIES:
            entries.clear()
        template = entries[key] = _template(body, params, arity)
        self.added += 1
        self._unsaved = True
        return None if template is None else template.summary

    def save(self) -> None:
        """Write the file if anything was added since the last save (atomically)."""
        if self.path is None or not self._unsaved:
            return
        payload = marshal.dumps({key: None if t is None else _plain(t)
                                 for key, t in self.entries.items()})  # fmt: skip
        with contextlib.suppress(OSError):  # a cache that can't be written is only slower
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(self.path, _FORMAT + blake3.blake3(payload).digest() + payload)
        self._unsaved = False


def _index(index: int | None) -> int:
    return -1 if index is None else index


_KINDS: dict[int, type] = {0: Call, 1: Indirect, 2: ClosureSlot}
_TAGS = {kind: tag for tag, kind in _KINDS.items()}


def _plain(t: Template) -> tuple[object, ...]:
    s = t.summary
    items = tuple(i if isinstance(i, int) else (_TAGS[type(i)], *i) for i in s.items)
    return (items, s.stack, s.low, s.high, t.links, t.only)


def _revive(raw: tuple[Any, ...]) -> Template:
    items, stack, low, high, links, only = raw
    summary = Summary(tuple(i if isinstance(i, int) else _KINDS[i[0]](*i[1:]) for i in items),
                      stack, low, high)
    return Template(summary, links, only)
