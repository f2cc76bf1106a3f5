"""A wasm-bindgen module's interface: its programs, joined with the type of every import and
export (from their describe functions) and of every closure it hands to JS.

    bindings = read_bindings(Path("app.wasm").read_bytes())
    bindings.export("greet").descriptor    # Function(arguments=(Ref(String()),), ret=String())
    bindings.import_("log").js_namespace   # ("console",)

Only imports the module still imports are described: a crate's programs declare every item of
every dependency (web-sys declares thousands), the linker keeps those the code uses.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from rust_hmr.bindgen._describe import PLACEHOLDER, ClosureSite, Describer
from rust_hmr.bindgen._errors import BindgenError, DescriptorError
from rust_hmr.bindgen._replay import QuickDescriber
from rust_hmr.bindgen._section import Record, read_records
from rust_hmr.bindgen._summary import SummaryCache
from rust_hmr.bindgen.descriptors import Descriptor, Function
from rust_hmr.bindgen.schema import (
    Export,
    Import,
    ImportFunction,
    ImportModule,
    ImportStatic,
    Program,
)
from rust_hmr.wasm import WasmDecodeError, WasmFile, parse


@dataclass(frozen=True)
class BoundExport:
    """An exported function (free, method or constructor) and its type."""

    export: Export
    wasm_name: str  # the wasm export: the JS name, or `<class>_<name>` for a method
    descriptor: Function

    @property
    def js_name(self) -> str:
        return self.export.function.name


@dataclass(frozen=True)
class BoundImport:
    """An imported JS function or static the module uses, and its type."""

    import_: Import
    descriptor: Descriptor  # a Function for a function, the value's type for a static

    @property
    def kind(self) -> ImportFunction | ImportStatic:
        kind = self.import_.kind
        assert isinstance(kind, ImportFunction | ImportStatic)
        return kind

    @property
    def shim(self) -> str:
        """The wasm import's field name (module `__wbindgen_placeholder__`)."""
        return self.kind.shim

    @property
    def js_name(self) -> str:
        kind = self.kind
        return kind.function.name if isinstance(kind, ImportFunction) else kind.name

    @property
    def js_namespace(self) -> tuple[str, ...] | None:
        return self.import_.js_namespace

    @property
    def module(self) -> ImportModule | None:
        return self.import_.module


@dataclass(frozen=True)
class Timings:
    decode: float  # seconds to decode the custom section
    instantiate: float  # compile (or load) and instantiate the describe instance
    describe: float  # run every describe function, closures included


@dataclass(frozen=True)
class Bindings:
    records: tuple[Record, ...]
    exports: tuple[BoundExport, ...]
    imports: tuple[BoundImport, ...]
    closures: tuple[ClosureSite, ...]
    timings: Timings = field(compare=False)

    @property
    def programs(self) -> tuple[Program, ...]:
        return tuple(record.program for record in self.records)

    def export(self, js_name: str) -> BoundExport:
        for bound in self.exports:
            if bound.js_name == js_name:
                return bound
        raise KeyError(f"no export named {js_name!r}")

    def import_(self, js_name: str, namespace: tuple[str, ...] | None = None) -> BoundImport:
        """The import with that JS name (in `namespace`, when given)."""
        for bound in self.imports:
            if bound.js_name == js_name and namespace in (None, bound.js_namespace):
                return bound
        raise KeyError(f"no import named {js_name!r}")


def forget_process_caches() -> None:
    """Empty what this process remembers between reads (decoded programs, descriptors,
    summaries read from cache files, the last sections scanned): the next read is what a new
    process's first one would be. For benchmarks and tests; nothing else needs it."""
    from rust_hmr.bindgen import _replay, _scan, _section, _summary

    _section._PROGRAMS.clear()
    _replay._DESCRIPTORS.clear()
    _summary._LOADED.clear()
    _scan._last_exports = _scan._last_code = None


def export_name(export: Export) -> str:
    """The wasm export of an exported function, as the macro names it."""
    name = export.function.name
    return name if export.class_ is None else f"{export.class_.lower()}_{name}"


def as_module(wasm: bytes | WasmFile) -> WasmFile:
    """`wasm` parsed, if it is bytes; BindgenError when it is not a wasm module."""
    if isinstance(wasm, WasmFile):
        return wasm
    try:
        return parse(wasm)
    except WasmDecodeError as err:
        raise BindgenError(f"not a wasm module: {err}") from None


def read_bindings(wasm: bytes | WasmFile, cache_dir: Path | None = None, *,
                  describer: Describer | QuickDescriber | None = None,
                  quick: bool = True) -> Bindings:
    """The interface of a raw wasm-bindgen module (as cargo built it, before any glue).

    Describe functions run from their summaries (`_replay`), in wasmtime only where those
    can't (`quick=False`: all in wasmtime, the reference the summaries are tested against).
    `cache_dir` keeps the summaries and the compiled describe instance's code between runs
    (see `rust_hmr.host.load_module`); `describer`, one made already (kept for patches:
    `rust_hmr.bindgen.live`), is used instead of a new one. Raises BindgenError
    (SchemaVersionError, SectionDecodeError, DescribeError, DescriptorError) when the module
    can't be read.
    """
    wasm = as_module(wasm)
    start = time.perf_counter()
    records = tuple(read_records(wasm))
    if not records:
        raise BindgenError("the module has no __wasm_bindgen_unstable section: it does not use "
                           "wasm-bindgen (or was already processed by its CLI)")
    decoded = time.perf_counter()
    if describer is None and quick:
        parsed = wasm
        describer = QuickDescriber(wasm, SummaryCache(cache_dir),
                                   lambda: Describer(parsed, cache_dir))
    describer = describer or Describer(wasm, cache_dir)
    instantiated = time.perf_counter()
    imported = {imp.field for imp in wasm.decoded("import", []) if imp.module == PLACEHOLDER}
    exports = tuple(_bind_export(describer, e) for r in records for e in r.program.exports)
    imports = _bind_imports(describer, records, imported)
    closures = tuple(describer.closures())
    if isinstance(describer, QuickDescriber):
        describer.cache.save()
    timings = Timings(decoded - start, instantiated - decoded, time.perf_counter() - instantiated)
    return Bindings(records, exports, imports, closures, timings)


def _bind_export(describer: Describer | QuickDescriber, export: Export) -> BoundExport:
    name = export_name(export)
    descriptor = describer.describe(name)
    if not isinstance(descriptor, Function):
        raise DescriptorError(f"export {name} describes {descriptor}, not a function")
    return BoundExport(export, name, descriptor)


def _bind_imports(
    describer: Describer | QuickDescriber, records: tuple[Record, ...], imported: set[str]
) -> tuple[BoundImport, ...]:
    bound: dict[str, BoundImport] = {}
    for record in records:
        for imp in record.program.imports:
            kind = imp.kind
            if not isinstance(kind, ImportFunction | ImportStatic):
                continue
            if kind.shim in imported and kind.shim not in bound:
                bound[kind.shim] = BoundImport(imp, describer.describe(kind.shim))
    return tuple(bound.values())
