"""The export section."""

from dataclasses import dataclass

from rust_hmr.wasm.reader import Reader
from rust_hmr.wasm.sections.imports import ExternKind, read_extern_kind
from rust_hmr.wasm.writer import Writer


@dataclass(frozen=True)
class Export:
    name: str
    kind: ExternKind
    index: int


def read_export(r: Reader) -> Export:
    name = r.name("export name")
    kind = read_extern_kind(r)
    return Export(name, kind, r.u32("export index"))


def write_export(w: Writer, e: Export) -> None:
    w.name(e.name)
    w.u8(e.kind)
    w.u32(e.index)


def read_exports(r: Reader) -> list[Export]:
    return r.vec(read_export, "export")


def write_exports(w: Writer, exports: list[Export]) -> None:
    w.vec(exports, write_export)
