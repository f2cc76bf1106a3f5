"""A small copy of a module to run describe functions in: only the code they can reach.

A dev module (every rlib linked whole, `--export-all`) has ~10,000 functions and as many
exports; wasmtime compiles each, a few seconds, for the few hundred that describing runs. The
copy keeps the functions reachable from the roots (the describe exports, the closure callers,
every function whose debug name says `describe` or `inform`, since hot ones are reached through
a table slot), following `call`, `return_call`, `ref.func` and `i32.const K; call_indirect` (a
trampoline's call through slot K). Everything else goes: unused imports, unkept bodies,
exports of them. Kept bodies keep their bytes; only their call immediates are rewritten to the
new indices, in the same LEB128 width (an index only gets smaller). Table entries of dropped
functions point to one function whose body is `unreachable`, so a slot keeps its number.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from rust_hmr.bindgen._calls import RETURN_CALL, skip_immediates
from rust_hmr.bindgen._errors import BindgenError
from rust_hmr.wasm import Section, WasmDecodeError, WasmFile
from rust_hmr.wasm.leb128 import encode_unsigned
from rust_hmr.wasm.reader import Reader
from rust_hmr.wasm.sections.code import FunctionBody, read_locals
from rust_hmr.wasm.sections.exports import Export
from rust_hmr.wasm.sections.imports import ExternKind, Import
from rust_hmr.wasm.sections.types import FuncType

_CALL, _CALL_INDIRECT, _REF_FUNC, _I32_CONST = 0x10, 0x11, 0xD2, 0x41
_STUB_BODY = b"\x00\x00\x0b"  # no locals, unreachable, end
_ROOT_WORDS = ("describe", "inform")


@dataclass(frozen=True)
class _Site:
    """A function index immediate in a body: where (in `data`), its width, its value."""

    pos: int
    width: int
    index: int


def _scan(body: FunctionBody) -> tuple[list[_Site], list[int]]:
    """The function immediates of a body, and the table slots it calls through with a constant
    (`i32.const K; call_indirect`)."""
    _, start = read_locals(body)
    r = Reader(body.data, pos=start, base=body.offset)
    sites: list[_Site] = []
    slots: list[int] = []
    constant: int | None = None
    while not r.at_end():
        opcode = r.u8("opcode")
        if opcode in (_CALL, RETURN_CALL, _REF_FUNC):
            pos = r.pos
            index = r.u32("function index")
            sites.append(_Site(pos, r.pos - pos, index))
            constant = None
            continue
        if opcode == _CALL_INDIRECT and constant is not None:
            slots.append(constant)
        if opcode == _I32_CONST:
            constant = r.s32("i32 constant")
            continue
        constant = None
        skip_immediates(r, opcode, "the describe slimmer")
    return sites, slots


def _slots(wasm: WasmFile) -> dict[int, int]:
    slots: dict[int, int] = {}
    for segment in wasm.decoded("element", []):
        start = segment.offset.i32_value() if segment.offset is not None else None
        if start is not None and segment.table == 0:
            slots.update({start + k: f for k, f in enumerate(segment.functions)})
    return slots


@dataclass(frozen=True)
class SlimModule:
    """The copy's bytes and where each kept function of the original went."""

    data: bytes
    functions: dict[int, int]  # original function index -> index in the copy


def slim_module(wasm: WasmFile, extra_roots: list[int], exports: list[Export]) -> SlimModule:
    """The copy of `wasm` (custom sections dropped) that keeps what the roots reach; `exports`
    (original indices) are added to it."""
    imports: list[Import] = wasm.decoded("import", [])
    function_imports = [i for i in imports if i.kind == ExternKind.FUNCTION]
    first = len(function_imports)
    bodies: list[FunctionBody] = wasm.decoded("code", [])
    names_section = wasm.decoded("name")
    names = names_section.functions if names_section is not None else {}
    old_exports: list[Export] = wasm.decoded("export", [])
    roots = [e.index for e in old_exports if e.kind == ExternKind.FUNCTION
             and e.name.startswith("__wbindgen_describe_")]  # fmt: skip
    roots += [i for i, n in names.items() if i >= first and any(w in n for w in _ROOT_WORDS)]
    roots += extra_roots
    slots = _slots(wasm)
    keep: set[int] = set()
    sites: dict[int, list[_Site]] = {}
    stack = list(roots)
    while stack:
        f = stack.pop()
        if f in keep:
            continue
        keep.add(f)
        if f < first:
            continue
        try:
            found, through = _scan(bodies[f - first])
        except (WasmDecodeError, IndexError) as err:
            raise BindgenError(f"cannot decode function {f}: {err}") from None
        sites[f] = found
        stack += [s.index for s in found] + [slots[k] for k in through if k in slots]
    new: dict[int, int] = {}
    for f in sorted(keep):
        new[f] = len(new)
    stub = len(new)
    kept_imports = [imp for imp in imports if imp.kind != ExternKind.FUNCTION]
    kept_imports = [*[imp for i, imp in enumerate(function_imports) if i in keep],
                    *kept_imports]  # fmt: skip
    types: list[FuncType] = list(wasm.decoded("type", []))
    stub_type = len(types)
    types.append(FuncType((), ()))
    function_types: list[int] = wasm.decoded("function", [])
    kept_defined = [f for f in sorted(keep) if f >= first]
    code = [FunctionBody(0, _rewrite(bodies[f - first], sites[f], new)) for f in kept_defined]
    code.append(FunctionBody(0, _STUB_BODY))
    elements = [replace(s, functions=tuple(new.get(f, stub) for f in s.functions))
                if s.functions else s for s in wasm.decoded("element", [])]  # fmt: skip
    out_exports = [e for e in old_exports if e.kind != ExternKind.FUNCTION]
    out_exports += [Export(e.name, e.kind, new[e.index]) for e in old_exports
                    if e.kind == ExternKind.FUNCTION and e.index in new]  # fmt: skip
    names_taken = {e.name for e in out_exports}
    out_exports += [Export(e.name, e.kind, new[e.index] if e.kind == ExternKind.FUNCTION
                           else e.index) for e in exports if e.name not in names_taken]
    out = WasmFile([Section(s.id, s.name, s.payload, s.offset) for s in wasm.sections
                    if not s.is_custom and s.name != "start"])  # fmt: skip
    out.set("type", types)
    out.set("import", kept_imports)
    out.set("function", [function_types[f - first] for f in kept_defined] + [stub_type])
    out.set("export", out_exports)
    if elements:
        out.set("element", elements)
    out.set("code", code)
    return SlimModule(out.to_bytes(), new)


def _rewrite(body: FunctionBody, sites: list[_Site], new: dict[int, int]) -> bytes:
    if not sites:
        return body.data
    data = bytearray(body.data)
    for site in sites:
        data[site.pos:site.pos + site.width] = encode_unsigned(new[site.index], site.width)
    return bytes(data)
