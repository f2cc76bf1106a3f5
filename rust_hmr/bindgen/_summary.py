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
describe imports, so it is cached by those (`SummaryCache`): web-sys's thousands of describe
functions keep their bytes from build to build.
"""

from __future__ import annotations

import contextlib
import marshal
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import blake3


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
    """The value of global `index` at entry, plus `offset`."""

    index: int
    offset: int


_UNKNOWN = None
_MASK32 = 0xFFFF_FFFF
Value = int | _Rel | None

_STORE_WIDTHS = {0x36: 4, 0x37: 8, 0x38: 4, 0x39: 8, 0x3A: 1, 0x3B: 2, 0x3C: 1, 0x3D: 2, 0x3E: 4}
_I32_CONST_OPS = {
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


def summarize(body: bytes, params: int, arity: Arity) -> Summary | None:
    """The summary of a body (locals included) of a function of `params` parameters, or None
    when it does anything but what a describe function does."""
    try:
        return _summarize(body, params, arity)
    except (_NotSimple, IndexError):
        return None


def _summarize(data: bytes, params: int, arity: Arity) -> Summary:
    pos = 0
    groups, pos = _leb(data, pos)
    count = 0
    for _ in range(groups):
        n, pos = _leb(data, pos)
        count += n
        pos += 1  # the type: locals start at zero whatever it is
    if count > 10_000:
        raise _NotSimple
    local: list[Value] = [_UNKNOWN] * params + [0] * count
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
            if not isinstance(address, _Rel) or address.index != glob:
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
        return _Rel(a.index, _s32(a.offset - b if subtract else a.offset + b))
    if isinstance(a, int) and isinstance(b, _Rel) and not subtract:
        return _Rel(b.index, _s32(a + b.offset))
    return _UNKNOWN


# --- the cache of summaries, by body -------------------------------------------------------

_FORMAT = b"rust-hmr describe summaries 1\n"
_DIGEST = 32
CACHE_FILE = f"summaries-py{sys.version_info[0]}{sys.version_info[1]}.bin"
MAX_ENTRIES = 20_000  # a dev module of a large app has a few thousand describe functions


Key = tuple[int, int, int, bytes]
_LOADED: dict[Path | None, dict[Key, Summary | None]] = {}


class SummaryCache:
    """Summaries by (parameter count, describe import indices, body bytes), in memory and in
    one file of `cache_dir` (marshal, behind a blake3 digest checked before use: a damaged
    file is ignored and rewritten)."""

    def __init__(self, cache_dir: Path | None) -> None:
        self.path = None if cache_dir is None else cache_dir / CACHE_FILE
        # One dict per file for the process (read once), and one for no file at all.
        if self.path not in _LOADED:
            _LOADED[self.path] = self._load()
        self.entries = _LOADED[self.path]
        self.added = 0

    def _load(self) -> dict[Key, Summary | None]:
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
            return {key: None if s is None else _revive(s) for key, s in raw.items()}
        except (EOFError, ValueError, TypeError, KeyError, IndexError, AttributeError):
            return {}

    def get(self, body: bytes, params: int, arity: Arity) -> Summary | None:
        key = (params, _index(arity.describe), _index(arity.describe_closure), body)
        entries = self.entries
        if key in entries:
            return entries[key]
        if len(entries) >= MAX_ENTRIES:
            entries.clear()
        summary = entries[key] = summarize(body, params, arity)
        self.added += 1
        return summary

    def save(self) -> None:
        """Write the file if anything was added (atomically: temp file + rename)."""
        if self.path is None or not self.added:
            return
        payload = marshal.dumps({key: None if s is None else _plain(s)
                                 for key, s in self.entries.items()})  # fmt: skip
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=self.path.parent)
            with os.fdopen(fd, "wb") as out:
                out.write(_FORMAT + blake3.blake3(payload).digest() + payload)
            os.replace(tmp, self.path)
        except OSError:
            with contextlib.suppress(OSError, UnboundLocalError):
                os.unlink(tmp)
        self.added = 0


def _index(index: int | None) -> int:
    return -1 if index is None else index


_KINDS: dict[int, type] = {0: Call, 1: Indirect, 2: ClosureSlot}
_TAGS = {kind: tag for tag, kind in _KINDS.items()}


def _plain(s: Summary) -> tuple[object, ...]:
    items = tuple(i if isinstance(i, int) else (_TAGS[type(i)], *i) for i in s.items)
    return (items, s.stack, s.low, s.high)


def _revive(raw: tuple[object, ...]) -> Summary:
    items, stack, low, high = raw
    return Summary(tuple(i if isinstance(i, int) else _KINDS[i[0]](*i[1:])  # type: ignore
                         for i in items), stack, low, high)  # type: ignore[arg-type]
