"""The global section."""

from dataclasses import dataclass

from rust_hmr.wasm.reader import Reader
from rust_hmr.wasm.sections.common import (
    ConstExpr,
    GlobalType,
    read_const_expr,
    read_global_type,
    write_global_type,
)
from rust_hmr.wasm.writer import Writer


@dataclass(frozen=True)
class Global:
    type: GlobalType
    init: ConstExpr


def read_global(r: Reader) -> Global:
    return Global(read_global_type(r), read_const_expr(r))


def write_global(w: Writer, g: Global) -> None:
    write_global_type(w, g.type)
    w.raw(g.init.raw)


def read_globals(r: Reader) -> list[Global]:
    return r.vec(read_global, "global")


def write_globals(w: Writer, globals_: list[Global]) -> None:
    w.vec(globals_, write_global)
