"""The glue of a wasm-bindgen app under `rust-hmr dev`, and the bindings its hot patches bring.

    live = LiveBindings(prepared_module_bytes, runtime="/_hmr/runtime/bindgen.js")
    live.glue.files()                 # app.js and its snippets: the page builds its glue from them
    new = live.patch(patch_module)    # None, or descriptions for `glue.add` before instantiating

The page's one glue serves the main module and every patch: a patch's `__wbindgen_placeholder__`
imports resolve by name to the same adapters, so the object heap and the closures are shared.

A patch that calls a binding the live glue lacks (a `#[wasm_bindgen] extern` block added in the
edit, a closure type made for the first time) brings what describes it: its objects carry their
`__wasm_bindgen_unstable` records (the patch names its objects) and its module defines the
`__wbindgen_describe_*` functions and closure callers. Those run from their summaries
(`_replay.QuickDescriber`, which follows every patch's table entries, in order, so that table
slots agree with the page's). Where summaries can't tell, the patch is instantiated in the slim
describe instance of the main module (`Describer(slim=True)`, made then), as the page
instantiates it against the main instance, with every patch before it, in order; then its
describe functions run there. What can't be described raises
BindgenError: the dev loop reloads with that reason rather than apply a patch the glue can't
serve.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import wasmtime

from rust_hmr.bindgen._bindings import Bindings, BoundImport, Timings, read_bindings
from rust_hmr.bindgen._calls import callers_of
from rust_hmr.bindgen._describe import (
    DESCRIBE,
    DESCRIBE_CLOSURE,
    DESCRIBE_PREFIX,
    PLACEHOLDER,
    ClosureSite,
    Describer,
    _trap,
)
from rust_hmr.bindgen._errors import BindgenError, DescribeError, DescriptorError
from rust_hmr.bindgen._intrinsics import INTRINSICS
from rust_hmr.bindgen._modules import JsModules
from rust_hmr.bindgen._plan import Planner
from rust_hmr.bindgen._replay import QuickDescriber, Unit, Unsupported
from rust_hmr.bindgen._section import Record, read_records
from rust_hmr.bindgen._summary import SummaryCache
from rust_hmr.bindgen.descriptors import Closure, decode_descriptor
from rust_hmr.bindgen.glue import GlueTimings, describe_module, entry_module
from rust_hmr.bindgen.schema import (
    SCHEMA_VERSION,
    Import,
    ImportFunction,
    ImportStatic,
    ImportType,
)
from rust_hmr.host import load_module
from rust_hmr.wasm import WasmDecodeError, WasmFile, parse
from rust_hmr.wasm.sections.exports import Export
from rust_hmr.wasm.sections.imports import ExternKind
from rust_hmr.wasm.sections.types import FuncType

TABLE_EXPORT = "__indirect_function_table"  # the prepared module exports its table so
OBJECTS_SECTION = "rust-hmr.objects"  # the patch linker's list of a patch's objects
_PATCH_DESCRIBE = "__rust_hmr_patch_describe_{}"
_PATCH_CALLER = "__rust_hmr_patch_closure_{}"


@dataclass(frozen=True)
class DevGlue:
    """The main module's glue: the entry module the page imports, and its snippet files."""

    entry: str
    descriptions: dict[str, Any]
    snippets: dict[str, str]
    timings: GlueTimings

    def files(self) -> dict[str, bytes]:
        return {"app.js": self.entry.encode(),
                **{path: text.encode() for path, text in self.snippets.items()}}  # fmt: skip


@dataclass(frozen=True)
class PatchBindings:
    """What a patch brings: descriptions for `glue.add` (imports, instanceof checks, closure
    types), and the seconds it took to find them."""

    descriptions: dict[str, Any]
    seconds: float

    @property
    def count(self) -> int:
        d = self.descriptions
        return len(d["imports"]) + len(d["types"]) + len(d["closures"])


def has_bindgen_section(module: bytes | WasmFile) -> bool:
    wasm = module if isinstance(module, WasmFile) else parse(module)
    return wasm.get("__wasm_bindgen_unstable") is not None


class _PatchTypes:
    """The wasm types the planner checks descriptions against, for a patch: its imports from its
    own module, table slots from the describe instance's table (the main module's and every
    patch's functions, as in the page)."""

    def __init__(self, patch: WasmFile, quick: QuickDescriber) -> None:
        types: list[FuncType] = patch.decoded("type", [])
        self.imports = {(i.module, i.field): types[i.desc] for i in patch.decoded("import", [])
                        if i.kind == ExternKind.FUNCTION}  # fmt: skip
        self.quick = quick

    def of_slot(self, slot: int) -> FuncType:
        found = self.quick.of_slot(slot)  # the table as the page has it: every patch applied
        if found is None:
            raise BindgenError(f"table slot {slot} holds no function (a closure shim)")
        return found

    def of_export(self, name: str) -> FuncType:
        raise BindgenError(f"a patch can't add the export {name!r}")


@dataclass
class LiveBindings:
    """The main module's bindings and glue, and the describe instance patches run in."""

    module: bytes
    runtime: str = "./bindgen.js"
    cache_dir: Path | None = None
    glue: DevGlue = field(init=False)
    _pending: list[bytes] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        start = time.perf_counter()
        wasm = parse(self.module)
        cache_dir = self.cache_dir
        self.quick = QuickDescriber(wasm, SummaryCache(cache_dir),
                                    lambda: Describer(wasm, cache_dir, slim=True))
        bindings = read_bindings(wasm, describer=self.quick)
        read = time.perf_counter()
        descriptions, modules = describe_module(wasm, bindings)
        descriptions["table"] = TABLE_EXPORT
        planned = time.perf_counter()
        entry = entry_module(descriptions, modules, self.runtime, "app_bg.wasm")
        timings = GlueTimings(read - start, planned - read, time.perf_counter() - planned)
        self.glue = DevGlue(entry, descriptions, dict(modules.files), timings)
        self.module_keys = set(modules.specifiers)
        self.known = {d["shim"] for d in descriptions["imports"] + descriptions["types"]}
        self.known |= {i.field for i in wasm.decoded("import", []) if i.module == PLACEHOLDER}
        self.closure_slots = {d["describe"] for d in descriptions["closures"]}

    @property
    def describer(self) -> Describer:
        """The wasmtime instance, for what summaries can't describe (made on first use)."""
        return self.quick.describer

    def patch(self, module: bytes) -> PatchBindings | None:
        """The descriptions a patch needs that the live glue lacks; None when it needs none.
        Call it for every patch, in order. Raises BindgenError when they can't be found."""
        start = time.perf_counter()
        try:
            wasm = parse(module)
        except WasmDecodeError as err:
            raise BindgenError(f"the patch is no wasm module: {err}") from None
        fields = [i.field for i in wasm.decoded("import", []) if i.module == PLACEHOLDER
                  and i.kind == ExternKind.FUNCTION]  # fmt: skip
        unknown = [f for f in fields if f not in self.known and f not in INTRINSICS]
        function_imports = [i for i in wasm.decoded("import", []) if i.kind == ExternKind.FUNCTION]
        closure_import = next((k for k, i in enumerate(function_imports)
                               if (i.module, i.field) == (PLACEHOLDER, DESCRIBE_CLOSURE)), None)
        callers = [] if closure_import is None else callers_of(wasm, closure_import)
        self._pending.append(module)
        unit = self.quick.add_patch(wasm)
        if not unknown and not callers:
            return None
        describers = self._describe_functions(wasm, unknown)
        quick = self._quick_patch(unit, wasm, unknown, describers, callers)
        if quick is not None:
            records, bound, sites = quick
            return self._planned(wasm, records, bound, sites, unknown, start)
        exports = [Export(_PATCH_DESCRIBE.format(k), ExternKind.FUNCTION, f)
                   for k, f in enumerate(describers.values())]
        exports += [Export(_PATCH_CALLER.format(k), ExternKind.FUNCTION, f)
                    for k, f in enumerate(callers)]
        instance = self._instantiate_pending(wasm, exports)
        bound_imports, bound_records = self._bind_imports(instance, wasm, unknown,
                                                          list(describers))
        sites = self._closures(instance, len(callers))
        return self._planned(wasm, bound_records, bound_imports, sites, unknown, start)

    def _planned(self, wasm: WasmFile, records: tuple[Record, ...],
                 bound: tuple[BoundImport, ...], sites: tuple[ClosureSite, ...],
                 unknown: list[str], start: float) -> PatchBindings:  # fmt: skip
        descriptions = self._plan(wasm, records, bound, sites, unknown)
        self.known |= set(unknown)
        self.closure_slots |= {d["describe"] for d in descriptions["closures"]}
        return PatchBindings(descriptions, time.perf_counter() - start)

    # --- describing from summaries (`_replay`); None: in wasmtime instead ---

    def _quick_patch(
        self, unit: Unit, wasm: WasmFile, unknown: list[str], describers: dict[str, int],
        callers: list[int],
    ) -> tuple[tuple[Record, ...], tuple[BoundImport, ...], tuple[ClosureSite, ...]] | None:
        records = tuple(_patch_records(wasm))
        declared = _declared(records)
        bound = []
        for shim in unknown:
            imp = self._declared_import(declared, shim)
            if isinstance(imp.kind, ImportType):
                continue
            what = f"{DESCRIBE_PREFIX}{shim}"
            if shim in describers:
                try:
                    words, _ = self.quick.run(unit, describers[shim])
                except Unsupported:
                    return None
                try:
                    descriptor = decode_descriptor(words)
                except DescriptorError as err:
                    raise DescriptorError(f"{what}: {err}") from None
            else:
                descriptor = self.quick.describe(shim)  # the main module defines it
            bound.append(BoundImport(imp, descriptor))
        sites = []
        for caller in callers:
            site = self.quick.closure_site(unit, caller)
            if site is None:
                return None
            if site.describe_index not in self.closure_slots:
                sites.append(ClosureSite(0, site.descriptor, site.describe_index))
        return records, tuple(bound), tuple(sites)

    @staticmethod
    def _declared_import(declared: dict[str, Import], shim: str) -> Import:
        if shim not in declared:
            raise BindgenError(f"the patch imports {PLACEHOLDER}.{shim}, which no "
                               "wasm-bindgen program of its objects declares")
        return declared[shim]

    # --- running the patch in the describe instance ---

    @staticmethod
    def _describe_functions(wasm: WasmFile, unknown: list[str]) -> dict[str, int]:
        """The patch's describe function of each unknown import, by shim (instanceof shims
        have none: their type is fixed)."""
        names = wasm.decoded("name")
        by_name = {n: i for i, n in (names.functions.items() if names else ())}
        return {shim: by_name[DESCRIBE_PREFIX + shim] for shim in unknown
                if DESCRIBE_PREFIX + shim in by_name}  # fmt: skip

    def _instantiate_pending(self, wasm: WasmFile, exports: list[Export]) -> wasmtime.Instance:
        """Every patch not yet in the describe instance, in order; the last one (this one) with
        `exports` added. Returns this patch's instance."""
        *earlier, _ = self._pending
        for module in earlier:
            self._instantiate(parse(module), [])
        self._pending = []
        return self._instantiate(wasm, exports)

    def _instantiate(self, wasm: WasmFile, exports: list[Export]) -> wasmtime.Instance:
        copy = WasmFile([s for s in wasm.sections if not s.is_custom])
        if exports:
            copy.set("export", [*copy.decoded("export", []), *exports])
        d = self.describer
        compiled = load_module(copy.to_bytes(), None)
        externs: list[Any] = []
        for imp in compiled.module.imports:
            ty = imp.type
            from_main = imp.module == "rust-hmr:main" and imp.name is not None
            value = d._get(imp.name) if from_main and imp.name is not None else None
            if imp.module == "rust-hmr:main" and isinstance(ty, wasmtime.TableType):
                value = d._get("__rust_hmr_bindgen_table")
            if value is None and isinstance(ty, wasmtime.FuncType):
                if imp.module == PLACEHOLDER and imp.name == DESCRIBE:
                    value = wasmtime.Func(d.store, ty, d._words.append)
                elif imp.module == PLACEHOLDER and imp.name == DESCRIBE_CLOSURE:
                    value = wasmtime.Func(d.store, ty, d._on_describe_closure)
                else:
                    value = wasmtime.Func(d.store, ty, _trap(f"{imp.module}.{imp.name}"))
            if value is None:
                raise DescribeError(f"the describe instance has no {imp.name} for the patch")
            externs.append(value)
        try:
            return wasmtime.Instance(d.store, compiled.module, externs)
        except (wasmtime.Trap, wasmtime.WasmtimeError) as err:
            raise DescribeError(f"cannot instantiate the patch to describe it: {err}") from None

    def _run(self, instance: wasmtime.Instance, export: str, what: str) -> Any:
        func = instance.exports(self.describer.store)[export]
        assert isinstance(func, wasmtime.Func)
        self.describer._words.clear()
        zeros = [0] * len(func.type(self.describer.store).params)
        self.describer._call(func, what, *zeros)
        return func

    def _words(self, what: str) -> Any:
        try:
            return decode_descriptor(self.describer._words)
        except DescriptorError as err:
            raise DescriptorError(f"{what}: {err}") from None

    def _bind_imports(self, instance: wasmtime.Instance, wasm: WasmFile, unknown: list[str],
                      described: list[str]) -> tuple[tuple[BoundImport, ...], tuple[Record, ...]]:
        records = _patch_records(wasm)
        declared = _declared(records)
        bound = []
        for shim in unknown:
            imp = self._declared_import(declared, shim)
            if isinstance(imp.kind, ImportType):
                continue  # an instanceof check: the planner describes it from the record
            what = f"{DESCRIBE_PREFIX}{shim}"
            if shim in described:
                self._run(instance, _PATCH_DESCRIBE.format(described.index(shim)), what)
                descriptor = self._words(what)
            else:
                descriptor = self.quick.describe(shim)  # the main module defines it
            bound.append(BoundImport(imp, descriptor))
        return tuple(bound), tuple(records)

    def _closures(self, instance: wasmtime.Instance, count: int) -> tuple[ClosureSite, ...]:
        d = self.describer
        table = d._get("__rust_hmr_bindgen_table")
        sites: list[ClosureSite] = []
        for k in range(count):
            what = f"the patch's closure caller {k}"
            d._closure_function = None
            self._run(instance, _PATCH_CALLER.format(k), what)
            slot = d._closure_function
            if slot is None or not isinstance(table, wasmtime.Table):
                raise DescribeError(f"{what} did not call {DESCRIBE_CLOSURE}")
            if slot in self.closure_slots:
                continue
            describe = table.get(d.store, slot)
            if not isinstance(describe, wasmtime.Func):
                raise DescribeError(f"{what}: table slot {slot} holds no describe function")
            d._words.clear()
            d._call(describe, f"closure describe function (table slot {slot})")
            descriptor = self._words(f"closure describe function (table slot {slot})")
            if not isinstance(descriptor, Closure):
                raise DescriptorError(f"{what} describes {descriptor}, not a closure")
            sites.append(ClosureSite(0, descriptor, slot))
        return tuple(sites)

    def _plan(self, wasm: WasmFile, records: tuple[Record, ...], imports: tuple[BoundImport, ...],
              sites: tuple[ClosureSite, ...], unknown: list[str]) -> dict[str, Any]:
        bindings = Bindings(records, (), imports, sites, Timings(0, 0, 0))
        modules = JsModules(records)
        planner = Planner(bindings, wasm, modules)
        planner.types = _PatchTypes(wasm, self.quick)  # type: ignore[assignment]
        descriptions: dict[str, Any] = {"version": SCHEMA_VERSION, "imports": planner.imports(),
                        "types": [t for t in planner.instanceof_checks() if t["shim"] in unknown],
                        "closures": planner.closures()}  # fmt: skip
        used = {d["module"] for d in descriptions["imports"] + descriptions["types"]} - {None}
        new_modules = sorted(used - self.module_keys)
        if new_modules:
            raise BindgenError(f"the patch imports from a JS module the page has not loaded "
                               f"({', '.join(new_modules)})")
        return descriptions


def _declared(records: Sequence[Record]) -> dict[str, Import]:
    """The imports the records declare, by shim (an instanceof check by its shim)."""
    declared: dict[str, Import] = {}
    for record in records:
        for imp in record.program.imports:
            kind = imp.kind
            if isinstance(kind, ImportFunction | ImportStatic):
                declared.setdefault(kind.shim, imp)
            elif isinstance(kind, ImportType):
                declared.setdefault(kind.instanceof_shim, imp)
    return declared


def _patch_records(wasm: WasmFile) -> list[Record]:
    """The wasm-bindgen records of the objects a patch was linked from."""
    section = wasm.get(OBJECTS_SECTION)
    if section is None:
        raise BindgenError("the patch names none of its objects, so its new wasm-bindgen "
                           "imports can't be read")
    records: list[Record] = []
    for path in json.loads(section.payload):
        try:
            records += read_records(parse(Path(path).read_bytes()))
        except (OSError, WasmDecodeError) as err:
            raise BindgenError(f"cannot read the patch's object {Path(path).name}: {err}") \
                from None
    return records
