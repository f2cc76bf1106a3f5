"""The code section: function bodies as byte slices, decoded only on request.

A debug build's code section is megabytes; stages that rewrite a few call sites patch bytes in
place and never decode instructions. `read_locals` decodes a body's local declarations for the
stages that append or inspect functions.
"""

from dataclasses import dataclass

from rust_hmr.wasm.reader import Reader
from rust_hmr.wasm.sections.common import ValType, read_valtype
from rust_hmr.wasm.writer import Writer


@dataclass(frozen=True)
class FunctionBody:
    """One body: `data` is locals + instructions; `offset` is where `data` starts in the file."""

    offset: int
    data: bytes


def read_code(r: Reader) -> list[FunctionBody]:
    bodies = []
    for _ in range(r.count("function body", min_item_size=2)):
        size = r.u32("function body size")
        offset = r.offset
        bodies.append(FunctionBody(offset, r.raw(size, "function body")))
    return bodies


def write_code(w: Writer, bodies: list[FunctionBody]) -> None:
    w.vec(bodies, lambda w, body: w.sized(body.data))


def read_locals(body: FunctionBody) -> tuple[list[tuple[int, ValType]], int]:
    """The local declarations (count, type) and the offset in `data` where instructions start."""
    r = Reader(body.data, base=body.offset)
    groups = r.vec(lambda r: (r.u32("local count"), read_valtype(r, "local type")), "local group")
    if sum(n for n, _ in groups) > 50_000:
        raise r.error("more than 50000 locals in one function")
    return groups, r.pos
