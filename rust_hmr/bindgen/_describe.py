"""Running describe functions in wasmtime: the types of a wasm-bindgen module's exports,
imports and closures.

The raw module (before any glue exists) is instantiated in a throw-away Store in which every
import traps when called, except the two that describing needs:

    __wbindgen_placeholder__.__wbindgen_describe(u32)              records one descriptor word
    __wbindgen_placeholder__.__wbindgen_describe_closure(a, b, f)  records `f`, returns 0

`describe(name)` calls the export `__wbindgen_describe_<name>` and decodes the words it
recorded. A closure is described in two calls: its `breaks_if_inlined` caller (found by
`_calls.callers_of`, exported under a name of our own) is called with zeros and reports the table
index of the closure's describe function; that function is then called from the table.

Custom sections (DWARF, names) are left out of the instance's module: wasmtime would only
parse them. `slim=True` compiles only what describing can reach (`_slim`): a dev module's
~10,000 functions take wasmtime seconds, its describe functions a fraction of that.

The instance lives on: `instantiate_patch` runs a hot patch's module against it (as the page
does against the main instance), so that the patch's own describe functions and closure callers
can run too (`rust_hmr.bindgen.live`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import wasmtime

from rust_hmr.bindgen._calls import callers_of
from rust_hmr.bindgen._errors import DescribeError, DescriptorError
from rust_hmr.bindgen._slim import slim_module
from rust_hmr.bindgen.descriptors import Closure, Descriptor, decode_descriptor
from rust_hmr.host import engine, load_module
from rust_hmr.wasm import Section, WasmFile
from rust_hmr.wasm.sections.exports import Export
from rust_hmr.wasm.sections.imports import ExternKind

PLACEHOLDER = "__wbindgen_placeholder__"
DESCRIBE = "__wbindgen_describe"
DESCRIBE_CLOSURE = "__wbindgen_describe_closure"
DESCRIBE_PREFIX = "__wbindgen_describe_"
_TABLE_EXPORT = "__rust_hmr_bindgen_table"
_CALLER_EXPORT = "__rust_hmr_bindgen_closure_{}"


@dataclass(frozen=True)
class ClosureSite:
    """A closure type the module hands to JS: `caller` is the index of the function that calls
    `__wbindgen_describe_closure`, and `describe_index` the table slot of the closure's describe
    function, which that call passes as its third argument at run time too (the glue knows the
    closure's type by it)."""

    caller: int
    descriptor: Closure
    describe_index: int = 0


def describe_module(wasm: WasmFile, closure_callers: list[int]) -> bytes:
    """The module to describe with: `wasm` without custom sections, with the table and each
    closure caller exported under names of our own."""
    sections = [Section(s.id, s.name, s.payload, s.offset) for s in wasm.sections
                if not s.is_custom]  # fmt: skip
    module = WasmFile(sections)
    exports: list[Export] = list(module.decoded("export", []))
    if module.get("table") is not None:
        exports.append(Export(_TABLE_EXPORT, ExternKind.TABLE, 0))
    for i, caller in enumerate(closure_callers):
        exports.append(Export(_CALLER_EXPORT.format(i), ExternKind.FUNCTION, caller))
    module.set("export", exports)
    return module.to_bytes()


class Describer:
    """A live instance of the module in which describe functions can run."""

    def __init__(self, wasm: WasmFile, cache_dir: Path | None = None, *,
                 slim: bool = False) -> None:
        closure_import = _function_import_index(wasm, PLACEHOLDER, DESCRIBE_CLOSURE)
        self.closure_callers = [] if closure_import is None else callers_of(wasm, closure_import)
        if slim:
            exports = [Export(_CALLER_EXPORT.format(i), ExternKind.FUNCTION, caller)
                       for i, caller in enumerate(self.closure_callers)]  # fmt: skip
            if wasm.get("table") is not None:
                exports.append(Export(_TABLE_EXPORT, ExternKind.TABLE, 0))
            data = slim_module(wasm, self.closure_callers, exports).data
        else:
            data = describe_module(wasm, self.closure_callers)
        compiled = load_module(data, cache_dir)
        self.store = wasmtime.Store(engine())
        self._words: list[int] = []
        self._closure_function: int | None = None
        externs = [self._stub(imp) for imp in compiled.module.imports]
        try:
            instance = wasmtime.Instance(self.store, compiled.module, externs)
        except (wasmtime.Trap, wasmtime.WasmtimeError) as err:
            raise DescribeError(f"cannot instantiate the module to describe it: {err}") from None
        self._linker = wasmtime.Linker(self.store.engine)
        self._linker.define_instance(self.store, "m", instance)
        self.instance = instance

    def _stub(self, imp: wasmtime.ImportType) -> Any:
        ty, name = imp.type, f"{imp.module}.{imp.name}"
        if isinstance(ty, wasmtime.MemoryType):
            return wasmtime.Memory(self.store, ty)
        if isinstance(ty, wasmtime.TableType):
            return wasmtime.Table(self.store, ty, None)
        if not isinstance(ty, wasmtime.FuncType):
            raise DescribeError(f"cannot describe a module that imports {name} ({ty})")
        if imp.module == PLACEHOLDER and imp.name == DESCRIBE:
            return wasmtime.Func(self.store, ty, self._words.append)
        if imp.module == PLACEHOLDER and imp.name == DESCRIBE_CLOSURE:
            return wasmtime.Func(self.store, ty, self._on_describe_closure)
        return wasmtime.Func(self.store, ty, _trap(name))

    def _on_describe_closure(self, _a: int, _b: int, function: int) -> int:
        self._closure_function = function
        return 0

    def _get(self, name: str) -> Any:
        try:
            return self._linker.get(self.store, "m", name)
        except wasmtime.WasmtimeError:
            return None

    def describe(self, name: str) -> Descriptor:
        """The descriptor that `__wbindgen_describe_<name>` reports."""
        func = self._get(DESCRIBE_PREFIX + name)
        if not isinstance(func, wasmtime.Func):
            raise DescribeError(f"the module has no describe function {DESCRIBE_PREFIX}{name}")
        return self._run(func, f"{DESCRIBE_PREFIX}{name}")

    def _run(self, func: wasmtime.Func, what: str, *args: int) -> Descriptor:
        self._words.clear()
        self._call(func, what, *args)
        try:
            return decode_descriptor(self._words)
        except DescriptorError as err:
            raise DescriptorError(f"{what}: {err}") from None

    def _call(self, func: wasmtime.Func, what: str, *args: int) -> Any:
        try:
            return func(self.store, *args)
        except (wasmtime.Trap, wasmtime.WasmtimeError) as err:
            reason = str(err).partition("\nCaused by:\n")[2].strip() or str(err).splitlines()[0]
            raise DescribeError(f"{what} trapped while describing: {reason}") from None

    def closures(self) -> list[ClosureSite]:
        """Every closure type of the module, by the function that creates it."""
        table = self._get(_TABLE_EXPORT)
        sites: list[ClosureSite] = []
        for i, caller in enumerate(self.closure_callers):
            func = self._get(_CALLER_EXPORT.format(i))
            what = f"closure caller (function {caller})"
            self._closure_function = None
            zeros = [0] * len(func.type(self.store).params)
            self._call(func, what, *zeros)
            index = self._closure_function
            if index is None or not isinstance(table, wasmtime.Table):
                raise DescribeError(f"{what} did not call {DESCRIBE_CLOSURE}")
            describe = table.get(self.store, index)
            if not isinstance(describe, wasmtime.Func):
                raise DescribeError(f"{what}: table slot {index} holds no describe function")
            descriptor = self._run(describe, f"closure describe function (table slot {index})")
            if not isinstance(descriptor, Closure):
                raise DescriptorError(f"{what} describes {descriptor}, not a closure")
            sites.append(ClosureSite(caller, descriptor, index))
        return sites


def _function_import_index(wasm: WasmFile, module: str, name: str) -> int | None:
    """The function index of an imported function (function imports open the index space)."""
    functions = [imp for imp in wasm.decoded("import", []) if imp.kind == ExternKind.FUNCTION]
    return next((i for i, imp in enumerate(functions) if (imp.module, imp.field) == (module, name)),
                None)  # fmt: skip


def _trap(name: str) -> Callable[..., None]:
    def called(*_args: object) -> None:
        raise wasmtime.Trap(f"{name} was called while describing; describe functions only "
                            "report types")

    return called
