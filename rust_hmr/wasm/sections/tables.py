"""The table, memory and tag sections: vectors of one type each."""

from rust_hmr.wasm.reader import Reader
from rust_hmr.wasm.sections.common import (
    Limits,
    TableType,
    read_limits,
    read_table_type,
    write_limits,
    write_table_type,
)
from rust_hmr.wasm.sections.imports import _read_tag_type, _write_tag_type
from rust_hmr.wasm.writer import Writer


def read_tables(r: Reader) -> list[TableType]:
    return r.vec(read_table_type, "table")


def write_tables(w: Writer, tables: list[TableType]) -> None:
    w.vec(tables, write_table_type)


def read_memories(r: Reader) -> list[Limits]:
    return r.vec(read_limits, "memory")


def write_memories(w: Writer, memories: list[Limits]) -> None:
    w.vec(memories, write_limits)


def read_tags(r: Reader) -> list[int]:
    """The type index of each defined tag."""
    return r.vec(_read_tag_type, "tag")


def write_tags(w: Writer, tags: list[int]) -> None:
    w.vec(tags, _write_tag_type)
