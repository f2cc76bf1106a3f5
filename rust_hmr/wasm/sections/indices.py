"""Sections that are a single index or a vector of indices: function, start, data count."""

from rust_hmr.wasm.reader import Reader
from rust_hmr.wasm.writer import Writer


def read_functions(r: Reader) -> list[int]:
    """The type index of each defined function."""
    return r.u32_vec("function", "function type index")


def write_functions(w: Writer, type_indices: list[int]) -> None:
    w.u32_vec(type_indices)


def read_start(r: Reader) -> int:
    return r.u32("start function index")


def read_data_count(r: Reader) -> int:
    return r.u32("data count")


write_start = write_data_count = Writer.u32
