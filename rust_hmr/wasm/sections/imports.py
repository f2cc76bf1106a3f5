"""The import section."""

from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from rust_hmr.wasm.errors import bad_byte
from rust_hmr.wasm.reader import Reader
from rust_hmr.wasm.sections.common import (
    GlobalType,
    Limits,
    TableType,
    read_global_type,
    read_limits,
    read_table_type,
    write_global_type,
    write_limits,
    write_table_type,
)
from rust_hmr.wasm.writer import Writer


class ExternKind(IntEnum):
    """What an import or export names (binary encoding as the value)."""

    FUNCTION = 0
    TABLE = 1
    MEMORY = 2
    GLOBAL = 3
    TAG = 4

    def __str__(self) -> str:
        return self.name.lower()


_KINDS = {int(k): k for k in ExternKind}


def read_extern_kind(r: Reader) -> ExternKind:
    byte = r.u8("external kind")
    try:
        return _KINDS[byte]
    except KeyError:
        raise bad_byte("external kind", byte, r.offset - 1) from None


ImportDesc = int | TableType | Limits | GlobalType
"""A type index (function, tag), a table type, memory limits or a global type."""


@dataclass(frozen=True)
class Import:
    module: str
    field: str
    kind: ExternKind
    desc: ImportDesc

    @property
    def type_index(self) -> int:
        """A function's or tag's desc: its type index."""
        if not isinstance(self.desc, int):
            raise TypeError(f"{self.module}.{self.field} is a {self.kind} import: no type index")
        return self.desc


def _read_tag_type(r: Reader) -> int:
    attribute = r.u8("tag attribute")
    if attribute != 0:
        raise bad_byte("tag attribute", attribute, r.offset - 1)
    return r.u32("tag type index")


def _write_tag_type(w: Writer, type_index: int) -> None:
    w.u8(0)
    w.u32(type_index)


# By kind: the desc's type goes with the kind (see ImportDesc), which a dict's type can't say.
_DESC_READERS: dict[ExternKind, Callable[[Reader], ImportDesc]] = {
    ExternKind.FUNCTION: lambda r: r.u32("function type index"),
    ExternKind.TABLE: read_table_type,
    ExternKind.MEMORY: read_limits,
    ExternKind.GLOBAL: read_global_type,
    ExternKind.TAG: _read_tag_type,
}
_DESC_WRITERS: dict[ExternKind, Callable[[Writer, Any], None]] = {
    ExternKind.FUNCTION: Writer.u32,
    ExternKind.TABLE: write_table_type,
    ExternKind.MEMORY: write_limits,
    ExternKind.GLOBAL: write_global_type,
    ExternKind.TAG: _write_tag_type,
}


def read_import(r: Reader) -> Import:
    module = r.name("import module name")
    field = r.name("import field name")
    kind = read_extern_kind(r)
    return Import(module, field, kind, _DESC_READERS[kind](r))


def write_import(w: Writer, imp: Import) -> None:
    w.name(imp.module)
    w.name(imp.field)
    w.u8(imp.kind)
    _DESC_WRITERS[imp.kind](w, imp.desc)


def read_imports(r: Reader) -> list[Import]:
    return r.vec(read_import, "import")


def write_imports(w: Writer, imports: list[Import]) -> None:
    w.vec(imports, write_import)
