"""The type section: function signatures."""

from dataclasses import dataclass

from rust_hmr.wasm.errors import bad_byte
from rust_hmr.wasm.reader import Reader
from rust_hmr.wasm.sections.common import ValType, read_valtype
from rust_hmr.wasm.writer import Writer

_FUNC_FORM = 0x60


@dataclass(frozen=True)
class FuncType:
    params: tuple[ValType, ...]
    results: tuple[ValType, ...]

    def __str__(self) -> str:
        params = ", ".join(map(str, self.params))
        results = ", ".join(map(str, self.results))
        return f"({params}) -> ({results})"


def read_func_type(r: Reader) -> FuncType:
    form = r.u8("type form")
    if form != _FUNC_FORM:
        raise bad_byte("type form (only function types are supported)", form, r.offset - 1)
    params = tuple(r.vec(read_valtype, "parameter"))
    results = tuple(r.vec(read_valtype, "result"))
    return FuncType(params, results)


def write_func_type(w: Writer, t: FuncType) -> None:
    w.u8(_FUNC_FORM)
    w.vec(t.params, Writer.u8)
    w.vec(t.results, Writer.u8)


def read_types(r: Reader) -> list[FuncType]:
    return r.vec(read_func_type, "type")


def write_types(w: Writer, types: list[FuncType]) -> None:
    w.vec(types, write_func_type)
