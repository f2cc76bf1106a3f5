"""The element section: table initialisers, in all eight encodings of the spec.

The flags byte decides the shape: bit 0 = not active (passive, or declarative with bit 1),
bit 1 = explicit table index (when active), bit 2 = items are expressions, not function indices.
"""

from dataclasses import dataclass
from enum import Enum

from rust_hmr.wasm.errors import bad_byte
from rust_hmr.wasm.reader import Reader
from rust_hmr.wasm.sections.common import (
    ConstExpr,
    ValType,
    read_const_expr,
    read_reftype,
)
from rust_hmr.wasm.writer import Writer

_ELEM_KIND_FUNCREF = 0x00


class SegmentMode(Enum):
    ACTIVE = "active"
    PASSIVE = "passive"
    DECLARATIVE = "declarative"


@dataclass(frozen=True)
class ElementSegment:
    """`functions` holds function indices, or `exprs` holds item expressions (flags bit 2)."""

    flags: int
    mode: SegmentMode
    table: int
    offset: ConstExpr | None
    element_type: ValType
    functions: tuple[int, ...] = ()
    exprs: tuple[ConstExpr, ...] = ()

    @classmethod
    def active_functions(
        cls, offset: int, functions: list[int], table: int = 0
    ) -> "ElementSegment":
        return cls(0 if table == 0 else 2, SegmentMode.ACTIVE, table, ConstExpr.i32(offset),
                   ValType.FUNCREF, tuple(functions))


def _read_elem_kind(r: Reader) -> ValType:
    kind = r.u8("element kind")
    if kind != _ELEM_KIND_FUNCREF:
        raise bad_byte("element kind", kind, r.offset - 1)
    return ValType.FUNCREF


def read_element(r: Reader) -> ElementSegment:
    flags = r.u32("element segment flags")
    if flags > 7:
        raise r.error(f"invalid element segment flags {flags}")
    active = not flags & 1
    if active:
        mode = SegmentMode.ACTIVE
    else:
        mode = SegmentMode.DECLARATIVE if flags & 2 else SegmentMode.PASSIVE
    table = r.u32("element table index") if active and flags & 2 else 0
    offset = read_const_expr(r) if active else None
    uses_exprs = bool(flags & 4)
    if flags in (0, 4):
        element_type = ValType.FUNCREF
    elif uses_exprs:
        element_type = read_reftype(r)
    else:
        element_type = _read_elem_kind(r)
    if uses_exprs:
        exprs = tuple(r.vec(read_const_expr, "element expression"))
        return ElementSegment(flags, mode, table, offset, element_type, exprs=exprs)
    functions = tuple(r.vec(lambda r: r.u32("element function index"), "element"))
    return ElementSegment(flags, mode, table, offset, element_type, functions)


def write_element(w: Writer, seg: ElementSegment) -> None:
    flags = seg.flags
    w.u32(flags)
    if seg.mode is SegmentMode.ACTIVE and flags & 2:
        w.u32(seg.table)
    if seg.offset is not None:
        w.raw(seg.offset.raw)
    if flags not in (0, 4):
        w.u8(seg.element_type if flags & 4 else _ELEM_KIND_FUNCREF)
    if flags & 4:
        w.vec(seg.exprs, lambda w, e: w.raw(e.raw))
    else:
        w.u32_vec(seg.functions)


def read_elements(r: Reader) -> list[ElementSegment]:
    return r.vec(read_element, "element segment")


def write_elements(w: Writer, segments: list[ElementSegment]) -> None:
    w.vec(segments, write_element)
