"""Describing without wasmtime: the summaries (`_summary`) of describe functions, expanded in
the module they run in (the main module and the patches applied on it, in order).

    quick = QuickDescriber(wasm, SummaryCache(cache_dir), fallback=lambda: Describer(wasm))
    quick.describe("greet")      # as Describer.describe, from summaries when it can
    quick.closures()             # as Describer.closures

Expanding follows each `Call` into the callee's summary (an imported function of a patch into
the main module's export of that name) and each `Indirect` into the function its table slot
holds now (a type mismatch would trap: not expanded), and checks every frame against the
memory's bounds with the stack pointer's real value. A function that has no summary, or that
can't be expanded, goes to the fallback Describer, made on first use: the results are the
same either way, only the time differs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from rust_hmr.bindgen._calls import callers_of
from rust_hmr.bindgen._describe import (
    DESCRIBE,
    DESCRIBE_CLOSURE,
    DESCRIBE_PREFIX,
    PLACEHOLDER,
    ClosureSite,
    Describer,
)
from rust_hmr.bindgen._errors import DescribeError, DescriptorError
from rust_hmr.bindgen._scan import (
    CodeIndex,
    code_index,
    function_exports,
    function_types,
    global_exports,
)
from rust_hmr.bindgen._summary import (
    Arity,
    Call,
    ClosureSlot,
    Indirect,
    Summary,
    SummaryCache,
)
from rust_hmr.bindgen.descriptors import Closure, Descriptor, decode_descriptor
from rust_hmr.wasm import WasmFile
from rust_hmr.wasm.sections.common import ValType
from rust_hmr.wasm.sections.imports import ExternKind
from rust_hmr.wasm.sections.types import FuncType

MAIN_MODULE = "rust-hmr:main"  # what a patch imports the main module's functions from
MAX_DEPTH = 64  # describe calls nest a few levels; deeper is left to wasmtime
PAGE = 65536
_MASK32 = 0xFFFF_FFFF

GlobalKey = tuple[int, int]  # (unit number, global index in it)
Frames = tuple[tuple[GlobalKey, int], ...]  # stack globals' offsets from their top values
Expansion = tuple[tuple[int, ...], tuple[int, ...]]  # words, closure slots


class Unsupported(Exception):
    """This function can't be described from summaries; run it in wasmtime."""


@dataclass
class Unit:
    """One module's functions, as describing sees them."""

    number: int
    wasm: WasmFile
    arity: Arity
    first: int  # function imports
    bodies: CodeIndex
    signatures: list[FuncType]  # of every function, imports first
    types: list[FuncType]
    imports: dict[int, tuple[Unit, int]] = field(default_factory=dict)  # resolved elsewhere
    globals: dict[int, GlobalKey] = field(default_factory=dict)  # index -> the cell it names

    @classmethod
    def of(cls, number: int, wasm: WasmFile) -> Unit:
        imports = wasm.decoded("import", [])
        functions = [i for i in imports if i.kind == ExternKind.FUNCTION]
        fields = [(i.module, i.field) for i in functions]
        types: list[FuncType] = wasm.decoded("type", [])
        type_indices = [i.desc for i in functions] + function_types(wasm)
        signatures = [types[t] for t in type_indices]
        type_arity = [(len(t.params), len(t.results)) for t in types]
        arity = Arity(_index_of(fields, (PLACEHOLDER, DESCRIBE)),
                      _index_of(fields, (PLACEHOLDER, DESCRIBE_CLOSURE)),
                      [type_arity[t] for t in type_indices], type_arity)  # fmt: skip
        return cls(number, wasm, arity, len(functions), code_index(wasm), signatures, types)


def _index_of(fields: list[tuple[str, str]], wanted: tuple[str, str]) -> int | None:
    return fields.index(wanted) if wanted in fields else None


class QuickDescriber:
    """Describe functions of a module and its patches, from summaries; `fallback` makes the
    wasmtime Describer for what summaries can't do (called at most once)."""

    def __init__(self, wasm: WasmFile, cache: SummaryCache,
                 fallback: Callable[[], Describer]) -> None:  # fmt: skip
        self.cache = cache
        self._fallback = fallback
        self._describer: Describer | None = None
        self.main = Unit.of(0, wasm)
        self.units = [self.main]
        self.exports = function_exports(wasm)
        self.table: dict[int, tuple[Unit, int]] = {}
        self._apply_elements(self.main)
        self.values: dict[GlobalKey, int] = {}
        imported = sum(1 for i in wasm.decoded("import", []) if i.kind == ExternKind.GLOBAL)
        for k, g in enumerate(wasm.decoded("global", [])):
            value = g.init.i32_value()
            if g.type.valtype == ValType.I32 and value is not None:
                self.main.globals[imported + k] = (0, imported + k)
                self.values[(0, imported + k)] = value
        memories = wasm.decoded("memory", [])
        self.memory_size = memories[0].minimum * PAGE if memories else 0
        closure_import = self.main.arity.describe_closure
        self.closure_callers = [] if closure_import is None else callers_of(wasm, closure_import)
        self.fallbacks = 0  # functions that went to wasmtime
        self._by_function: dict[tuple[int, int, Frames], Expansion] = {}
        self._by_body: dict[tuple[int, int, bytes, Frames], Expansion] = {}

    @property
    def describer(self) -> Describer:
        """The wasmtime Describer, made now if it was not needed yet."""
        if self._describer is None:
            self._describer = self._fallback()
        return self._describer

    # --- the main module (the Describer interface) ---

    def describe(self, name: str) -> Descriptor:
        function = self.exports.get(DESCRIBE_PREFIX + name)
        if function is None:
            return self.describer.describe(name)
        try:
            words, _ = self.run(self.main, function)
        except Unsupported:
            self.fallbacks += 1
            return self.describer.describe(name)
        return _decode(words, DESCRIBE_PREFIX + name)

    def closures(self) -> list[ClosureSite]:
        sites = []
        for caller in self.closure_callers:
            site = self.closure_site(self.main, caller)
            if site is None:
                self.fallbacks += 1
                return self.describer.closures()
            sites.append(site)
        return sites

    def closure_site(self, unit: Unit, caller: int) -> ClosureSite | None:
        """The closure type `caller` (a `breaks_if_inlined`) makes, or None when summaries
        can't tell."""
        what = f"closure caller (function {caller})"
        try:
            _, slot = self.run(unit, caller)
            if slot is None:
                return None
            owner = self.table.get(slot & _MASK32)
            if owner is None:
                return None
            words, _ = self.run(*owner)
        except Unsupported:
            return None
        descriptor = _decode(words, f"closure describe function (table slot {slot})")
        if not isinstance(descriptor, Closure):
            raise DescriptorError(f"{what} describes {descriptor}, not a closure")
        return ClosureSite(caller, descriptor, slot)

    # --- patches ---

    def add_patch(self, wasm: WasmFile) -> Unit:
        """A patch, in the order the page applies them: its functions, its table entries."""
        unit = Unit.of(len(self.units), wasm)
        functions = [i for i in wasm.decoded("import", []) if i.kind == ExternKind.FUNCTION]
        for k, imp in enumerate(functions):
            if imp.module == MAIN_MODULE and imp.field in self.exports:
                unit.imports[k] = (self.main, self.exports[imp.field])
        main_globals = global_exports(self.main.wasm)
        globals_ = [i for i in wasm.decoded("import", []) if i.kind == ExternKind.GLOBAL]
        for k, imp in enumerate(globals_):
            index = main_globals.get(imp.field) if imp.module == MAIN_MODULE else None
            if index is not None and index in self.main.globals:
                unit.globals[k] = self.main.globals[index]
        self.units.append(unit)
        self._apply_elements(unit)
        self._by_function.clear()  # table slots may hold other functions now
        self._by_body.clear()
        return unit

    def of_slot(self, slot: int) -> FuncType | None:
        owner = self.table.get(slot)
        return None if owner is None else owner[0].signatures[owner[1]]

    def _apply_elements(self, unit: Unit) -> None:
        for segment in unit.wasm.decoded("element", []):
            start = segment.offset.i32_value() if segment.offset is not None else None
            if start is not None and segment.table == 0:
                self.table.update({start + k: (unit, f) for k, f in enumerate(segment.functions)})

    # --- expanding ---

    def summary(self, unit: Unit, function: int) -> Summary:
        if function < unit.first:
            raise Unsupported(f"function {function} is an import")
        params = unit.arity.functions[function][0]
        return self._summary(unit, unit.bodies.data(function - unit.first), params)

    def _summary(self, unit: Unit, body: bytes, params: int) -> Summary:
        found = self.cache.get(body, params, unit.arity)
        if found is None:
            raise Unsupported("no plain describe function")
        return found

    def run(self, unit: Unit, function: int) -> tuple[tuple[int, ...], int | None]:
        """The words `function` reports and the last closure slot, from its summary."""
        words, closures = self._expand(unit, function, (), 0)
        return words, closures[-1] if closures else None

    def _expand(self, unit: Unit, function: int, frames: Frames,
                depth: int) -> Expansion:  # fmt: skip
        """What running `function` reports, the stack globals moved by `frames` from their
        values at the top. Memoized by function and by body: the same code at the same depth
        of stack reports the same (until a patch changes the table), and a module's describe
        functions share a few hundred bodies."""
        if depth > MAX_DEPTH:
            raise Unsupported("calls nest too deep")
        while function < unit.first:
            if function not in unit.imports:
                raise Unsupported(f"function {function} is an import")
            unit, function = unit.imports[function]
        by_function = (unit.number, function, frames)
        found = self._by_function.get(by_function)
        if found is None:
            params = unit.arity.functions[function][0]
            body = unit.bodies.data(function - unit.first)
            by_body = (unit.number, params, body, frames)
            found = self._by_body.get(by_body)
            if found is None:
                found = self._by_body[by_body] = self._expand_body(unit, body, params, frames,
                                                                   depth)
            self._by_function[by_function] = found
        return found

    def _expand_body(self, unit: Unit, body: bytes, params: int, frames: Frames,
                     depth: int) -> Expansion:  # fmt: skip
        s = self._summary(unit, body, params)
        key = None
        if s.stack != -1:
            key = unit.globals.get(s.stack)
            if key is None:
                raise Unsupported(f"global {s.stack} is not the main module's i32")
            entry = (self.values[key] + dict(frames).get(key, 0)) & _MASK32
            if entry + s.low < 0 or entry + s.high > self.memory_size:
                raise Unsupported("the frame is out of the memory's bounds")
        words: list[int] = []
        closures: list[int] = []
        for item in s.items:
            if isinstance(item, int):
                words.append(item)
            elif isinstance(item, ClosureSlot):
                closures.append(item.slot)
            else:
                callee_unit, callee = self._callee(unit, item)
                inner = frames if key is None or not item.frame else _moved(frames, key,
                                                                            item.frame)
                inner_words, inner_closures = self._by_function.get(
                    (callee_unit.number, callee, inner)) or self._expand(
                    callee_unit, callee, inner, depth + 1)  # fmt: skip
                words += inner_words
                closures += inner_closures
        return tuple(words), tuple(closures)

    def _callee(self, unit: Unit, item: Call | Indirect) -> tuple[Unit, int]:
        """The function a call item of `unit` runs; Unsupported when the summary's arity is
        not the module's, or a `call_indirect` would trap."""
        if isinstance(item, Call):
            arity = unit.arity.functions
            if item.function >= len(arity) or arity[item.function] != (item.params,
                                                                       item.results):
                raise Unsupported("the summary was made where the callee had another arity")
            return unit, item.function
        owner = self.table.get(item.slot)
        if unit.arity.types[item.type_index] != (item.params, item.results):
            raise Unsupported("the summary was made where the type had another arity")
        if owner is None or owner[0].signatures[owner[1]] != unit.types[item.type_index]:
            raise Unsupported(f"call_indirect through slot {item.slot} would trap")
        return owner


def _moved(frames: Frames, key: GlobalKey, delta: int) -> Frames:
    """`frames` with the stack global `key` moved by `delta` more."""
    if not frames:
        return ((key, delta),)
    offsets = dict(frames)
    offsets[key] = offsets.get(key, 0) + delta
    return tuple(sorted(offsets.items()))


# Descriptors by their words, for the process: thousands of imports share a few hundred
# signatures. A descriptor is immutable, so they share the object.
_DESCRIPTORS: dict[tuple[int, ...], Descriptor] = {}
_MAX_DESCRIPTORS = 65536


def _decode(words: tuple[int, ...], what: str) -> Descriptor:
    found = _DESCRIPTORS.get(words)
    if found is not None:
        return found
    try:
        descriptor = decode_descriptor(words)
    except DescriptorError as err:
        raise DescriptorError(f"{what}: {err}") from None
    if len(_DESCRIPTORS) >= _MAX_DESCRIPTORS:
        _DESCRIPTORS.clear()
    _DESCRIPTORS[words] = descriptor
    return descriptor


__all__ = ["DescribeError", "QuickDescriber", "Unit", "Unsupported"]
