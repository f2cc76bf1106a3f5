"""Type descriptors: what a describe function tells about a Rust type, as a typed tree.

`#[wasm_bindgen]` gives every export and import a function `__wbindgen_describe_<name>` that
calls `__wbindgen_describe(u32)` once per word of its type (wasm-bindgen's `describe.rs`). The
first word is a tag; some tags are followed by more words or by nested descriptors:

    FUNCTION        shim index, argument count, arguments..., return type, inner return type
    CLOSURE         invoke shim, destroy shim, REF or REFMUT, then a FUNCTION
    REF REFMUT SLICE VECTOR OPTIONAL RESULT   one nested descriptor
    NAMED_EXTERNREF RUST_STRUCT               a length, then that many code points (the name)
    ENUM            the "hole" value (one past the variants) that encodes None
    CLAMPED         the next descriptor is clamped (`Clamped<Vec<u8>>`: Uint8ClampedArray)

`decode_descriptor(words)` checks that the words are used up exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import IntEnum, StrEnum

from rust_hmr.bindgen._errors import DescriptorError


class Tag(IntEnum):
    """The descriptor tags of wasm-bindgen 0.2.83, numbered in the order of its `tys!` list."""

    I8 = 0
    U8 = 1
    I16 = 2
    U16 = 3
    I32 = 4
    U32 = 5
    I64 = 6
    U64 = 7
    F32 = 8
    F64 = 9
    BOOLEAN = 10
    FUNCTION = 11
    CLOSURE = 12
    CACHED_STRING = 13
    STRING = 14
    REF = 15
    REFMUT = 16
    SLICE = 17
    VECTOR = 18
    EXTERNREF = 19
    NAMED_EXTERNREF = 20
    ENUM = 21
    RUST_STRUCT = 22
    CHAR = 23
    OPTIONAL = 24
    RESULT = 25
    UNIT = 26
    CLAMPED = 27


class NumberKind(StrEnum):
    I8 = "i8"
    U8 = "u8"
    I16 = "i16"
    U16 = "u16"
    I32 = "i32"
    U32 = "u32"
    I64 = "i64"
    U64 = "u64"
    F32 = "f32"
    F64 = "f64"


@dataclass(frozen=True)
class Number:
    """A Rust number (`usize`/`isize` describe as u32/i32); `clamped` only for `Clamped<u8>`."""

    kind: NumberKind
    clamped: bool = False


@dataclass(frozen=True)
class Boolean:
    pass


@dataclass(frozen=True)
class Char:
    pass


@dataclass(frozen=True)
class Unit:
    pass


@dataclass(frozen=True)
class String:
    """`str` or `String` (a `Ref` around it for `&str`); `cached` with `enable-interning`."""

    cached: bool = False


@dataclass(frozen=True)
class Externref:
    """A `JsValue`: a JS value held in the glue's heap (or an externref table)."""


@dataclass(frozen=True)
class NamedExternref:
    """An imported JS type (`web_sys::Element`), by its JS name."""

    name: str


@dataclass(frozen=True)
class RustStruct:
    """An exported `#[wasm_bindgen] struct`, passed as a pointer to its heap cell."""

    name: str


@dataclass(frozen=True)
class Enum:
    """An exported C-like enum; `hole` is the u32 that stands for `None` in an `Option`."""

    hole: int


@dataclass(frozen=True)
class Ref:
    inner: Descriptor


@dataclass(frozen=True)
class RefMut:
    inner: Descriptor


@dataclass(frozen=True)
class Slice:
    inner: Descriptor


@dataclass(frozen=True)
class Vector:
    """`Vec<T>` or `Box<[T]>`: ownership of the buffer passes to the receiver."""

    inner: Descriptor


@dataclass(frozen=True)
class Option:
    inner: Descriptor


@dataclass(frozen=True)
class Result:
    """`Result<T, E>`: only `T` is described; `E` becomes a thrown JS value."""

    inner: Descriptor


@dataclass(frozen=True)
class Function:
    """A function type. `shim` is the table index of the invoke shim (0 for the describe
    function of an export or import, which is called by name instead)."""

    shim: int
    arguments: tuple[Descriptor, ...]
    ret: Descriptor
    inner_ret: Descriptor


@dataclass(frozen=True)
class Closure:
    """A `Closure<dyn Fn..>` or `Closure<dyn FnMut..>` handed to JS: table indices of its
    invoke and destroy shims, and the function type JS calls it with."""

    shim: int
    destroy: int
    mutable: bool
    function: Function


Descriptor = (
    Number | Boolean | Char | Unit | String | Externref | NamedExternref | RustStruct | Enum
    | Ref | RefMut | Slice | Vector | Option | Result | Function | Closure
)  # fmt: skip


class _Words:
    """A cursor over the u32 words, raising DescriptorError when they run out."""

    def __init__(self, words: Sequence[int]) -> None:
        self.words = words
        self.pos = 0

    def next(self, what: str) -> int:
        pos = self.pos
        if pos >= len(self.words):
            raise DescriptorError(f"descriptor ends where {what} was expected: {self.text()}")
        self.pos = pos + 1
        return self.words[pos]

    def name(self) -> str:
        length = self.next("a name's length")
        pos = self.pos
        if length > len(self.words) - pos:
            raise DescriptorError(f"name of {length} characters is longer than the descriptor")
        self.pos = pos + length
        try:
            return "".join(map(chr, self.words[pos:pos + length]))
        except ValueError:
            text = self.text()
            raise DescriptorError(f"name holds a word that is no code point: {text}") from None

    def text(self) -> str:
        return f"{list(self.words)}"


# What each tag word reads as. Leaves and numbers are immutable values, made once.
_NUMBERS = {int(Tag[kind.name]): (Number(kind), Number(kind, kind == NumberKind.U8))
            for kind in NumberKind}  # (plain, under CLAMPED)  # fmt: skip
_WRAPPERS: dict[int, type] = {
    Tag.REF: Ref, Tag.REFMUT: RefMut, Tag.SLICE: Slice, Tag.VECTOR: Vector,
    Tag.OPTIONAL: Option, Tag.RESULT: Result,
}  # fmt: skip
_LEAVES: dict[int, Descriptor] = {
    Tag.BOOLEAN: Boolean(), Tag.CHAR: Char(), Tag.UNIT: Unit(), Tag.STRING: String(),
    Tag.CACHED_STRING: String(cached=True), Tag.EXTERNREF: Externref(),
}  # fmt: skip


def _read(w: _Words, clamped: bool = False) -> Descriptor:
    word = w.next("a descriptor tag")
    number = _NUMBERS.get(word)
    if number is not None:
        return number[clamped]
    leaf = _LEAVES.get(word)
    if leaf is not None:
        return leaf
    wrapper = _WRAPPERS.get(word)
    if wrapper is not None:
        return wrapper(_read(w, clamped))  # type: ignore[no-any-return]
    compound = _COMPOUND.get(word)
    if compound is None:
        raise DescriptorError(f"unknown descriptor tag {word} in {w.text()}")
    return compound(w, clamped)


def _function(w: _Words, _clamped: bool = False) -> Function:
    shim = w.next("the function's shim index")
    count = w.next("the argument count")
    if count > len(w.words) - w.pos:
        raise DescriptorError(f"{count} arguments cannot fit in the descriptor {w.text()}")
    arguments = tuple([_read(w) for _ in range(count)])
    return Function(shim, arguments, _read(w), _read(w))


def _closure(w: _Words, _clamped: bool = False) -> Closure:
    shim = w.next("the closure's invoke shim")
    destroy = w.next("the closure's destroy shim")
    kind = w.next("REF or REFMUT")
    if kind not in (Tag.REF, Tag.REFMUT):
        raise DescriptorError(f"closure expects REF or REFMUT, got {kind} in {w.text()}")
    if w.next("FUNCTION") != Tag.FUNCTION:
        raise DescriptorError(f"closure expects a FUNCTION descriptor in {w.text()}")
    return Closure(shim, destroy, kind == Tag.REFMUT, _function(w))


_COMPOUND: dict[int, Callable[[_Words, bool], Descriptor]] = {
    Tag.FUNCTION: _function,
    Tag.CLOSURE: _closure,
    Tag.NAMED_EXTERNREF: lambda w, _c: NamedExternref(w.name()),
    Tag.RUST_STRUCT: lambda w, _c: RustStruct(w.name()),
    Tag.ENUM: lambda w, _c: Enum(w.next("the enum's hole")),
    Tag.CLAMPED: lambda w, _c: _read(w, clamped=True),
}


def decode_descriptor(words: Sequence[int]) -> Descriptor:
    """The descriptor the u32 `words` spell; DescriptorError if malformed or not used up."""
    w = _Words(words)
    descriptor = _read(w)
    if w.pos != len(words):
        raise DescriptorError(f"{len(words) - w.pos} word(s) left after the descriptor {words}")
    return descriptor
