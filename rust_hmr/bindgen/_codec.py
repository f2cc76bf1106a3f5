"""A decoder for wasm-bindgen's program encoding, built from the `_schema` dataclasses.

wasm-bindgen writes its records with one rule per Rust type (cli-support's `decode.rs` reads
them back the same way), so the decoder is a table from type to reading function:

    bool         one byte, 0 or 1
    u32 (int)    unsigned LEB128
    str          LEB128 byte length, then UTF-8
    Vec<T>       LEB128 count, then the items          (tuple[T, ...] here)
    Option<T>    one byte 0 (None) or 1, then T        (T | None)
    struct       its fields in declaration order       (a dataclass)
    enum         one byte, the variant's index, then its fields  (a union of dataclasses)

`reader_for(cls)` compiles that table once per type into nested closures; bounds, truncation
and bad UTF-8 are reported by `rust_hmr.wasm.reader.Reader` as WasmDecodeError.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Callable
from typing import Any

from rust_hmr.wasm.errors import WasmDecodeError, bad_byte
from rust_hmr.wasm.reader import Reader

Read = Callable[[Reader], Any]


# Each reader takes the common case (a one-byte length, tag or count, in bounds) straight from
# the bytes; anything else goes through the Reader's own checks, which raise the error.

def _read_bool(r: Reader) -> bool:
    pos = r.pos
    if pos < r.end and r.data[pos] <= 1:
        r.pos = pos + 1
        return r.data[pos] == 1
    offset = r.offset
    raise bad_byte("bool", r.u8("bool"), offset)


def _read_u32(r: Reader) -> int:
    return r.u32("u32")


def _read_str(r: Reader) -> str:
    data, pos = r.data, r.pos
    if pos < r.end:
        size = data[pos]
        stop = pos + 1 + size
        if size < 0x80 and stop <= r.end:
            try:
                text = data[pos + 1:stop].decode()
            except UnicodeDecodeError:
                pass  # the Reader says so, with the offset
            else:
                r.pos = stop
                return text
    return r.name("string")


_PRIMITIVES: dict[object, Read] = {bool: _read_bool, int: _read_u32, str: _read_str}


def _vec(item: Read) -> Read:
    def read(r: Reader) -> tuple[Any, ...]:
        pos = r.pos
        count = r.data[pos] if pos < r.end else 0x80
        if count < 0x80 and count < r.end - pos:  # at least a byte per item
            r.pos = pos + 1
        else:
            count = r.count("vector")
        return tuple([item(r) for _ in range(count)])

    return read


def _option(inner: Read) -> Read:
    def read(r: Reader) -> Any:
        pos = r.pos
        flag = r.data[pos] if pos < r.end else None
        if flag == 0 or flag == 1:
            r.pos = pos + 1
            return inner(r) if flag else None
        offset = r.offset
        raise bad_byte("option flag", r.u8("option flag"), offset)

    return read


def _enum(variants: tuple[type, ...]) -> Read:
    readers = [reader_for(variant) for variant in variants]
    names = ", ".join(v.__name__ for v in variants)

    def read(r: Reader) -> Any:
        pos = r.pos
        if pos < r.end and r.data[pos] < len(readers):
            r.pos = pos + 1
            return readers[r.data[pos]](r)
        offset = r.offset
        tag = r.u8("enum tag")
        raise WasmDecodeError(f"enum tag {tag} is none of {len(readers)} ({names})", offset)

    return read


def _struct(cls: type) -> Read:
    hints = typing.get_type_hints(cls)
    fields = [_reader_for_hint(hints[f.name]) for f in dataclasses.fields(cls)]
    if len(fields) <= 3:  # most records: called without building a list of the fields first
        return _SMALL_STRUCTS[len(fields)](cls, *fields)

    def read(r: Reader) -> Any:
        return cls(*[read_field(r) for read_field in fields])

    return read


def _struct0(cls: type) -> Read:
    instance = cls()  # a frozen record without fields: one value, shared
    return lambda _r: instance


def _struct1(cls: type, a: Read) -> Read:
    return lambda r: cls(a(r))


def _struct2(cls: type, a: Read, b: Read) -> Read:
    return lambda r: cls(a(r), b(r))  # arguments are evaluated in order


def _struct3(cls: type, a: Read, b: Read, c: Read) -> Read:
    return lambda r: cls(a(r), b(r), c(r))


_SMALL_STRUCTS: list[Callable[..., Read]] = [_struct0, _struct1, _struct2, _struct3]


def _reader_for_hint(hint: Any) -> Read:
    if hint in _PRIMITIVES:
        return _PRIMITIVES[hint]
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        return _vec(_reader_for_hint(args[0]))
    if origin in (types.UnionType, typing.Union):
        members = tuple(a for a in args if a is not type(None))
        one = members[0] if len(members) == 1 else None
        inner = _reader_for_hint(one) if one is not None else _enum(members)
        return _option(inner) if len(members) < len(args) else inner
    if dataclasses.is_dataclass(hint):
        return reader_for(hint)  # type: ignore[arg-type]
    raise TypeError(f"no wasm-bindgen encoding for {hint!r}")


@functools.cache
def reader_for(cls: type) -> Read:
    """The function that reads one `cls` (a `_schema` dataclass) from a Reader."""
    return _struct(cls)
