"""How wasm-bindgen 0.2.83 passes each Rust type across the wasm boundary, for the JS glue.

A descriptor becomes a *type form*, the compact JSON the runtime (`runtime/bindgen.js`) builds
its converters from:

    "u32" "f64" ... "bool" "char" "unit" "string" "externref"     leaves
    ["ref", T] ["refmut", T]       borrowed (a string, a JsValue, a slice, an exported struct)
    ["slice", "u8"] ["vector", N]  numbers (or "externref" in a Vec)
    ["option", T] ["result", T] ["struct", "Name"] ["enum", hole]
    ["fn", shim, mutable, [args], ret]   a stack closure `&dyn Fn(..)` lent to an import

and a list of *fields*: the wasm values the type occupies, in order. Rust 1.63's `extern "C"`
on wasm32-unknown-unknown passes an aggregate argument as its scalar fields (a `&str` is ptr,
len; an `Option<f64>` is tag, value) and returns anything wider than one scalar through a
pointer given as the first parameter, at which the fields lie in repr(C) order. `signature`
derives the wasm type a function must have; the glue checks every export, import and closure
shim against the module's real types, so an ABI this file gets wrong is an error at generation
time, never a page reading the wrong bytes.

A type the glue does not convert raises UnsupportedError naming it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rust_hmr.bindgen._errors import UnsupportedError
from rust_hmr.bindgen.descriptors import (
    Boolean,
    Char,
    Closure,
    Descriptor,
    Enum,
    Externref,
    Function,
    NamedExternref,
    Number,
    NumberKind,
    Option,
    Ref,
    RefMut,
    Result,
    RustStruct,
    Slice,
    String,
    Unit,
    Vector,
)

TypeForm = Any  # a str, or a list whose first item names the form
I32, I64, F32, F64 = "i32", "i64", "f32", "f64"

_NUMBER_FIELD = {
    NumberKind.I64: I64, NumberKind.U64: I64, NumberKind.F32: F32, NumberKind.F64: F64,
}  # fmt: skip
# Option<T> of these is (tag, value); of the narrow ones a u32 with 0xFFFFFF for None.
_WIDE_OPTIONAL = {NumberKind.I32, NumberKind.U32, *_NUMBER_FIELD}


@dataclass(frozen=True)
class Lowered:
    """A type's form for the runtime and the wasm values it occupies."""

    form: TypeForm
    fields: tuple[str, ...]


def _number(d: Number) -> Lowered:
    if d.clamped:
        raise UnsupportedError("Clamped<..> (Uint8ClampedArray)")
    return Lowered(d.kind.value, (_NUMBER_FIELD.get(d.kind, I32),))


def _leaf(form: str, fields: tuple[str, ...] = (I32,)) -> Callable[[Any], Lowered]:
    return lambda _d: Lowered(form, fields)


def _slice_item(d: Descriptor, what: str) -> str:
    if isinstance(d, Number) and d.clamped:
        raise UnsupportedError(f"Clamped<{what}<u8>> (Uint8ClampedArray)")
    if isinstance(d, Number):
        return d.kind.value
    if isinstance(d, Externref | NamedExternref) and what == "Vec":
        return "externref"
    raise UnsupportedError(f"{what}<{describe(d)}>")


def _ref(d: Ref | RefMut) -> Lowered:
    word = "ref" if isinstance(d, Ref) else "refmut"
    inner = d.inner
    if isinstance(inner, Slice):
        return Lowered([word, ["slice", _slice_item(inner.inner, "slice")]], (I32, I32))
    if isinstance(inner, String) and word == "ref":
        return Lowered(["ref", "string"], (I32, I32))
    if isinstance(inner, Externref | NamedExternref):
        return Lowered([word, "externref"], (I32,))
    if isinstance(inner, RustStruct):
        return Lowered([word, ["struct", inner.name]], (I32,))
    if isinstance(inner, Function):
        args = [lower(a).form for a in inner.arguments]
        return Lowered(["fn", inner.shim, word == "refmut", args, lower(inner.ret).form],
                       (I32, I32))  # fmt: skip
    raise UnsupportedError(f"a {'&mut ' if word == 'refmut' else '&'}{describe(inner)} value")


def _option(d: Option) -> Lowered:
    inner = d.inner
    if isinstance(inner, Number) and inner.kind in _WIDE_OPTIONAL:
        number = _number(inner)
        return Lowered(["option", number.form], (I32, *number.fields))
    if isinstance(inner, Number | Boolean | Char | Enum | RustStruct | NamedExternref):
        return Lowered(["option", lower(inner).form], (I32,))
    if isinstance(inner, String | Vector) or (isinstance(inner, Ref) and not isinstance(
            inner.inner, Function)):  # fmt: skip
        found = lower(inner)
        if found.fields == (I32, I32) or found.fields == (I32,):
            return Lowered(["option", found.form], found.fields)
    raise UnsupportedError(f"Option<{describe(inner)}>")


def _result(d: Result) -> Lowered:
    inner = lower(d.inner)
    if isinstance(d.inner, Result):
        raise UnsupportedError("a nested Result")
    return Lowered(["result", inner.form], (*inner.fields, I32, I32))


_LOWER: dict[type, Callable[[Any], Lowered]] = {
    Number: _number,
    Boolean: _leaf("bool"),
    Char: _leaf("char"),
    Unit: _leaf("unit", ()),
    String: _leaf("string", (I32, I32)),
    Externref: _leaf("externref"),
    NamedExternref: _leaf("externref"),
    RustStruct: lambda d: Lowered(["struct", d.name], (I32,)),
    Enum: lambda d: Lowered(["enum", d.hole], (I32,)),
    Ref: _ref,
    RefMut: _ref,
    Vector: lambda d: Lowered(["vector", _slice_item(d.inner, "Vec")], (I32, I32)),
    Option: _option,
    Result: _result,
}


def lower(d: Descriptor) -> Lowered:
    """The type form and wasm fields of `d`; UnsupportedError for a type the glue lacks."""
    if isinstance(d, String) and d.cached:
        raise UnsupportedError("interned strings (the enable-interning feature)")
    found = _LOWER.get(type(d))
    if found is None:
        raise UnsupportedError(f"a {describe(d)} value")
    return found(d)


def describe(d: Descriptor) -> str:
    """A short Rust-like spelling of a descriptor, for error messages."""
    if isinstance(d, Number):
        return d.kind.value
    if isinstance(d, NamedExternref | RustStruct):
        return d.name
    inner = getattr(d, "inner", None)
    if inner is not None:
        return f"{type(d).__name__}<{describe(inner)}>"
    if isinstance(d, Closure):
        return "Closure"
    return type(d).__name__


@dataclass(frozen=True)
class Signature:
    """The wasm function type of a shim: its parameters and results (names of value types)."""

    params: tuple[str, ...]
    results: tuple[str, ...]

    def __str__(self) -> str:
        return f"({', '.join(self.params)}) -> ({', '.join(self.results)})"


def signature(args: list[Lowered], ret: Lowered, prefix: tuple[str, ...] = ()) -> Signature:
    """The wasm type wasm-bindgen gives a function: `prefix` params (a method's self pointer, a
    closure's two data words), the args' fields; a return wider than one value (and any
    Result) goes through a pointer passed first."""
    params = tuple(f for a in args for f in a.fields)
    if len(ret.fields) > 1:
        return Signature((I32, *prefix, *params), ())
    return Signature((*prefix, *params), ret.fields)

