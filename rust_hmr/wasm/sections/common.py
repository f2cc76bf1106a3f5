"""Pieces several sections share: value types, limits, table/memory/global types, const exprs."""

from dataclasses import dataclass
from enum import IntEnum

from rust_hmr.wasm.errors import WasmDecodeError, bad_byte
from rust_hmr.wasm.reader import Reader
from rust_hmr.wasm.writer import Writer


class ValType(IntEnum):
    """Value types of the core spec (binary encoding as the enum value)."""

    I32 = 0x7F
    I64 = 0x7E
    F32 = 0x7D
    F64 = 0x7C
    V128 = 0x7B
    FUNCREF = 0x70
    EXTERNREF = 0x6F

    def __str__(self) -> str:
        return self.name.lower()


_VALTYPES = {int(v): v for v in ValType}
REF_TYPES = (ValType.FUNCREF, ValType.EXTERNREF)


def read_valtype(r: Reader, what: str = "value type") -> ValType:
    byte = r.u8(what)
    try:
        return _VALTYPES[byte]
    except KeyError:
        raise bad_byte(what, byte, r.offset - 1) from None


def read_reftype(r: Reader) -> ValType:
    t = read_valtype(r, "reference type")
    if t not in REF_TYPES:
        raise bad_byte("reference type", int(t), r.offset - 1)
    return t


@dataclass(frozen=True)
class Limits:
    """Size limits of a table or memory. `flags` keeps shared/64-bit bits as read."""

    minimum: int
    maximum: int | None = None
    flags: int = 0

    @property
    def is64(self) -> bool:
        return bool(self.flags & 0x04)


def read_limits(r: Reader) -> Limits:
    flags = r.u8("limits flags")
    if flags > 0x07:
        raise bad_byte("limits flags", flags, r.offset - 1)
    number = r.u64 if flags & 0x04 else r.u32
    minimum = number("limits minimum")
    maximum = number("limits maximum") if flags & 0x01 else None
    return Limits(minimum, maximum, flags)


def write_limits(w: Writer, limits: Limits) -> None:
    flags = (limits.flags & ~0x01) | (0x01 if limits.maximum is not None else 0)
    w.u8(flags)
    number = w.u64 if flags & 0x04 else w.u32
    number(limits.minimum)
    if limits.maximum is not None:
        number(limits.maximum)


@dataclass(frozen=True)
class TableType:
    element: ValType
    limits: Limits


def read_table_type(r: Reader) -> TableType:
    return TableType(read_reftype(r), read_limits(r))


def write_table_type(w: Writer, table: TableType) -> None:
    w.u8(table.element)
    write_limits(w, table.limits)


@dataclass(frozen=True)
class GlobalType:
    valtype: ValType
    mutable: bool


def read_global_type(r: Reader) -> GlobalType:
    valtype = read_valtype(r)
    mut = r.u8("global mutability")
    if mut > 1:
        raise bad_byte("global mutability", mut, r.offset - 1)
    return GlobalType(valtype, bool(mut))


def write_global_type(w: Writer, g: GlobalType) -> None:
    w.u8(g.valtype)
    w.u8(int(g.mutable))


# Constant expressions: opcode -> how its immediate is skipped. Kept as raw bytes so padded
# immediates (relocation sites in objects) survive a round trip unchanged.
_END = 0x0B
_CONST_IMMEDIATES: dict[int, str | int] = {
    0x41: "s32",  # i32.const
    0x42: "s64",  # i64.const
    0x43: 4,  # f32.const
    0x44: 8,  # f64.const
    0x23: "u32",  # global.get
    0xD0: "u8",  # ref.null
    0xD2: "u32",  # ref.func
    0x6A: 0, 0x6B: 0, 0x6C: 0,  # i32.add/sub/mul (extended-const)
    0x7C: 0, 0x7D: 0, 0x7E: 0,  # i64.add/sub/mul
}


@dataclass(frozen=True)
class ConstExpr:
    """A constant expression, `end` included, as its raw bytes."""

    raw: bytes

    @classmethod
    def i32(cls, value: int) -> "ConstExpr":
        w = Writer()
        w.u8(0x41)
        w.s32(value)
        w.u8(_END)
        return cls(w.getvalue())

    @classmethod
    def global_get(cls, index: int) -> "ConstExpr":
        w = Writer()
        w.u8(0x23)
        w.u32(index)
        w.u8(_END)
        return cls(w.getvalue())

    def i32_value(self) -> int | None:
        """The value of a plain `i32.const N end`, else None."""
        if len(self.raw) < 2 or self.raw[0] != 0x41:
            return None
        r = Reader(self.raw, 1)
        value = r.s32()
        return value if r.remaining == 1 else None

    def global_index(self) -> int | None:
        """The index of a plain `global.get N end`, else None."""
        if len(self.raw) < 2 or self.raw[0] != 0x23:
            return None
        r = Reader(self.raw, 1)
        value = r.u32()
        return value if r.remaining == 1 else None


def read_const_expr(r: Reader) -> ConstExpr:
    start = r.pos
    while True:
        opcode = r.u8("constant expression opcode")
        if opcode == _END:
            return ConstExpr(r.data[start : r.pos])
        immediate = _CONST_IMMEDIATES.get(opcode)
        if immediate is None:
            raise WasmDecodeError(
                f"opcode {opcode:#04x} is not allowed in a constant expression", r.offset - 1
            )
        if isinstance(immediate, int):
            r.skip(immediate, "constant expression immediate")
        else:
            getattr(r, immediate)("constant expression immediate")


def write_const_expr(w: Writer, expr: ConstExpr) -> None:
    w.raw(expr.raw)
