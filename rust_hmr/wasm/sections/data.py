"""The data section: memory initialisers (active with an offset, or passive)."""

from dataclasses import dataclass

from rust_hmr.wasm.reader import Reader
from rust_hmr.wasm.sections.common import ConstExpr, read_const_expr
from rust_hmr.wasm.writer import Writer


@dataclass(frozen=True)
class DataSegment:
    """`offset` is None for a passive segment; `data_offset` is where `data` sat in the file."""

    flags: int
    memory: int
    offset: ConstExpr | None
    data: bytes
    data_offset: int = -1

    @property
    def is_active(self) -> bool:
        return self.offset is not None


def read_data_segment(r: Reader) -> DataSegment:
    flags = r.u32("data segment flags")
    if flags > 2:
        raise r.error(f"invalid data segment flags {flags}")
    memory = r.u32("data memory index") if flags == 2 else 0
    offset = None if flags == 1 else read_const_expr(r)
    size = r.u32("data segment size")
    data_offset = r.offset
    return DataSegment(flags, memory, offset, r.raw(size, "data segment"), data_offset)


def write_data_segment(w: Writer, seg: DataSegment) -> None:
    w.u32(seg.flags)
    if seg.flags == 2:
        w.u32(seg.memory)
    if seg.offset is not None:
        w.raw(seg.offset.raw)
    w.sized(seg.data)


def read_data(r: Reader) -> list[DataSegment]:
    return r.vec(read_data_segment, "data segment")


def write_data(w: Writer, segments: list[DataSegment]) -> None:
    w.vec(segments, write_data_segment)
