"""Patch link: the dirty objects become one module that runs against the live main module.

The patch imports the main module's memory, table and `__stack_pointer`, and every function it
calls but does not define, by mangled name (the main module exports them all; a hot function's
export is its trampoline, so calls reach its newest code). Data resolves as `data` says.
Function pointers reuse the main module's table entries where it has them, so pointers compare
equal across main and patch; new ones get spare slots that the ledger keeps. Every hot function
the patch defines is written into its trampoline slot by an active element segment:
instantiating the patch applies it.
"""

from bisect import bisect_left
from dataclasses import dataclass

from rust_hmr.link import relocate
from rust_hmr.link.data import DataLayout, DataResolver
from rust_hmr.link.ledger import Ledger
from rust_hmr.link.objects import ObjectView
from rust_hmr.link.records import PatchRefused
from rust_hmr.prepare.symbol_map import FunctionInfo, SymbolMap
from rust_hmr.wasm.demangle import demangle_or_raw
from rust_hmr.wasm.module import WasmFile
from rust_hmr.wasm.sections.code import FunctionBody
from rust_hmr.wasm.sections.common import ConstExpr, Limits, TableType, ValType
from rust_hmr.wasm.sections.data import DataSegment
from rust_hmr.wasm.sections.elements import ElementSegment
from rust_hmr.wasm.sections.imports import ExternKind, Import
from rust_hmr.wasm.sections.linking import Symbol, SymbolKind
from rust_hmr.wasm.sections.reloc import Relocation, RelocType
from rust_hmr.wasm.sections.types import FuncType

MODULE = "env"
MEMORY_IMPORT = "memory"
TABLE_IMPORT = "__indirect_function_table"


@dataclass(frozen=True)
class LinkedPatch:
    module: bytes
    functions: tuple[str, ...]  # demangled names of the functions written into their slots
    placed_bytes: int


def _pretty(name: str) -> str:
    return demangle_or_raw(name, hash=False)


def _symbol_name(view: ObjectView, sym: Symbol) -> str:
    if sym.name is not None:
        return sym.name
    if sym.kind is SymbolKind.FUNCTION and sym.index is not None:
        return view.function_imports[sym.index].field
    if sym.kind is SymbolKind.GLOBAL and sym.index is not None:
        return view.global_imports[sym.index].field
    return ""


class PatchLinker:
    def __init__(self, views: list[ObjectView], symbols: SymbolMap, ledger: Ledger) -> None:
        self.views = views
        self.symbols = symbols
        self.ledger = ledger
        self.types: list[FuncType] = []
        self._type_ids: dict[FuncType, int] = {}
        self.imports: list[Import] = [
            Import(MODULE, MEMORY_IMPORT, ExternKind.MEMORY, Limits(0)),
            Import(MODULE, TABLE_IMPORT, ExternKind.TABLE, TableType(ValType.FUNCREF, Limits(0))),
        ]
        self.globals: dict[str, int] = {}
        self.function_index: dict[tuple[int, int], int] = {}  # (object, func index) -> patch
        self.defined_by_name: dict[str, int] = {}
        self.imported: dict[str, int] = {}
        self.table_entries: dict[int, int] = {}  # slot -> patch function index
        self.slot_of_symbol: dict[tuple[int, int], int] = {}

    # types, functions, globals

    def type_id(self, view: ObjectView, type_index: int) -> int:
        ftype = view.types[type_index]
        if ftype not in self._type_ids:
            self._type_ids[ftype] = len(self.types)
            self.types.append(ftype)
        return self._type_ids[ftype]

    def _main_function(self, name: str) -> FunctionInfo | None:
        try:
            return self.symbols.function(name)
        except KeyError:
            return None

    def _index_functions(self) -> None:
        """Imports first (every function called but defined by no dirty object), then the
        defined functions of each object in order."""
        for view in self.views:
            for sym in view.linking.symbols:
                if (sym.kind is SymbolKind.FUNCTION and sym.defined and sym.name
                        and not sym.local):
                    self.defined_by_name.setdefault(sym.name, -1)
        wanted: dict[str, tuple[ObjectView, int]] = {}
        for view in self.views:
            for sym in view.linking.symbols:
                if sym.kind is SymbolKind.FUNCTION and not sym.defined:
                    name = _symbol_name(view, sym)
                    if name not in self.defined_by_name:
                        wanted.setdefault(name, (view, sym.index or 0))
        for name, (view, import_index) in wanted.items():
            imp = view.function_imports[import_index]
            main = self._main_function(name)
            if main is not None and not main.imported:
                module, field = MODULE, name  # the main module exports it by this name
            else:
                # One of the app's own imports (the page's, wasm-bindgen's): the patch imports
                # it as the object does. With #[link(wasm_import_module)] the symbol is
                # mangled, but the import keeps its module and field.
                given = self._main_function(imp.field)
                if given is None or not given.imported:
                    raise PatchRefused(f"function {_pretty(name)} is not in the main module")
                module, field = imp.module, imp.field
            self.imported[name] = len(self.imported)
            self.imports.append(Import(module, field, ExternKind.FUNCTION,
                                       self.type_id(view, int(imp.desc))))  # type: ignore[arg-type]
        next_index = len(self.imported)
        for o, view in enumerate(self.views):
            for k in range(len(view.defined)):
                self.function_index[(o, view.first_defined + k)] = next_index
                next_index += 1
        for o, view in enumerate(self.views):
            for sym in view.linking.symbols:
                if (sym.kind is SymbolKind.FUNCTION and sym.defined and sym.name
                        and not sym.local and self.defined_by_name.get(sym.name) == -1):
                    self.defined_by_name[sym.name] = self.function_index[(o, sym.index or 0)]

    def _index_globals(self) -> None:
        for view in self.views:
            for imp in view.global_imports:
                if imp.field not in self.globals:
                    self.globals[imp.field] = len(self.globals)
                    self.imports.append(Import(MODULE, imp.field, ExternKind.GLOBAL, imp.desc))
        for view in self.views:
            for sym in view.linking.symbols:
                if sym.kind is SymbolKind.GLOBAL and sym.defined:
                    raise PatchRefused(f"the patch defines a wasm global ({sym.name})")

    def function_of(self, o: int, sym: Symbol) -> int:
        view = self.views[o]
        if sym.defined:
            return self.function_index[(o, sym.index or 0)]
        name = _symbol_name(view, sym)
        if name in self.imported:
            return self.imported[name]
        return self.defined_by_name[name]

    # table slots

    def slot_for(self, o: int, sym_index: int) -> int:
        """The table slot a pointer to this function symbol takes."""
        key = (o, sym_index)
        if key in self.slot_of_symbol:
            return self.slot_of_symbol[key]
        view = self.views[o]
        sym = view.linking.symbols[sym_index]
        name = _symbol_name(view, sym)
        main = None if sym.local else self._main_function(name)
        if main is not None and main.table_index is not None:
            slot = main.table_index  # the main module's own entry: pointers compare equal
        else:
            ledger_key = name if not sym.local else f"{view.name}:{name}"
            slot = self.ledger.slots.get(ledger_key)
            if slot is None:
                slot = self.ledger.new_slot(_pretty(name))
                self.ledger.slots[ledger_key] = slot
            self.table_entries[slot] = self.function_of(o, sym)
        self.slot_of_symbol[key] = slot
        return slot

    # hot functions

    def _slot_writes(self) -> list[str]:
        """Write every hot function the patch defines into its slot(s).

        A global symbol names one function of the main module. A unit-local one (a method only
        its unit's vtable uses, an `#[inline]` copy) may name several, one per unit that
        instantiated it: the same source function, so each same-typed slot gets the new code.
        Old pointers to it (vtables, stored callbacks) go through those slots."""
        written = []
        dirty_main = {f.index for name in self.defined_by_name
                      for f in self.symbols.functions_named(name)}
        for o, view in enumerate(self.views):
            for sym in view.linking.symbols:
                if sym.kind is not SymbolKind.FUNCTION or not sym.defined or not sym.name:
                    continue
                mains = [f for f in self.symbols.functions_named(sym.name)
                         if f.hot and f.slot is not None]
                if not sym.local and not self.symbols.functions_named(sym.name) \
                        and not sym.name.startswith(("_ZN", "_R")):
                    raise PatchRefused(
                        f"new exported function {sym.name}: the host must load the app again "
                        "to call it")
                new_type = view.types[view.defined[(sym.index or 0) - view.first_defined]]
                signature = (tuple(map(str, new_type.params)), tuple(map(str, new_type.results)))
                for main in mains:
                    if signature != (tuple(main.params), tuple(main.results)):
                        if not sym.local:
                            self._check_signature_change(main, dirty_main, new_type)
                        continue
                    self.table_entries[main.slot] = self.function_of(o, sym)  # type: ignore[index]
                    written.append(main.demangled.rsplit("::h", 1)[0])
        return list(dict.fromkeys(written))  # generic instances share a name

    def _check_signature_change(self, main: FunctionInfo, dirty: set[int],
                                new_type: FuncType) -> None:
        outside = set(main.callers) - dirty - {main.index}
        mangled = main.name.startswith(("_ZN", "_R"))
        if outside or not mangled or main.table_index is not None:
            why = ("unchanged code still calls it" if outside else
                   "it is exported under its own name" if not mangled else
                   "the app holds pointers to it")
            raise PatchRefused(
                f"the signature of {_pretty(main.name)} changed from "
                f"({', '.join(main.params)}) -> ({', '.join(main.results)}) to {new_type}: {why}")

    # relocation values

    def value(self, o: int, rel: Relocation, layout: DataLayout) -> int:
        view = self.views[o]
        t = rel.type
        if t is RelocType.TYPE_INDEX_LEB:
            return self.type_id(view, rel.index)
        sym = view.linking.symbols[rel.index]
        if t in (RelocType.FUNCTION_INDEX_LEB, RelocType.FUNCTION_INDEX_I32):
            return self.function_of(o, sym)
        if t in (RelocType.GLOBAL_INDEX_LEB, RelocType.GLOBAL_INDEX_I32):
            return self.globals[_symbol_name(view, sym)]
        if t in (RelocType.MEMORY_ADDR_LEB, RelocType.MEMORY_ADDR_SLEB, RelocType.MEMORY_ADDR_I32):
            return layout.addresses[(o, rel.index)] + rel.addend
        if t in (RelocType.TABLE_INDEX_SLEB, RelocType.TABLE_INDEX_I32):
            return self.slot_for(o, rel.index)
        if t is RelocType.TABLE_NUMBER_LEB:
            return 0
        raise PatchRefused(f"relocation {t.full_name} is not supported in patches")

    # the whole link

    def link(self) -> LinkedPatch:
        self._index_functions()
        self._index_globals()
        layout = DataResolver(self.views, self.symbols, self.ledger).layout()
        written = self._slot_writes()
        bodies = []
        for o, view in enumerate(self.views):
            relocs = sorted(view.code_relocs, key=lambda r: r.offset)
            offsets = [r.offset for r in relocs]
            for body in view.bodies:
                start = body.offset - view.code_base
                end = start + len(body.data)
                mine = relocs[bisect_left(offsets, start):bisect_left(offsets, end)]
                buf = bytearray(body.data)
                relocate.apply(buf, start, mine, lambda r, o=o: self.value(o, r, layout))
                bodies.append(FunctionBody(0, bytes(buf)))
        segments = self._data_segments(layout)
        functions = [self.type_id(view, t) for view in self.views for t in view.defined]
        return LinkedPatch(self._assemble(functions, bodies, segments), tuple(written),
                           layout.placed_bytes)

    def _data_segments(self, layout: DataLayout) -> list[DataSegment]:
        out = []
        for placed in layout.segments:
            view = self.views[placed.obj]
            seg = view.segments[placed.segment]
            start = seg.data_offset - view.data_base
            end = start + len(seg.data)
            mine = [r for r in view.data_relocs if start <= r.offset < end]
            buf = bytearray(seg.data)
            relocate.apply(buf, start, mine, lambda r, o=placed.obj: self.value(o, r, layout))
            out.append(DataSegment(0, 0, ConstExpr.i32(placed.address), bytes(buf)))
        return out

    def _elements(self) -> list[ElementSegment]:
        """Active segments for the slots to write, one per run of consecutive slots."""
        runs: list[tuple[int, list[int]]] = []
        for slot in sorted(self.table_entries):
            if runs and runs[-1][0] + len(runs[-1][1]) == slot:
                runs[-1][1].append(self.table_entries[slot])
            else:
                runs.append((slot, [self.table_entries[slot]]))
        return [ElementSegment.active_functions(start, funcs) for start, funcs in runs]

    def _assemble(self, functions: list[int], bodies: list[FunctionBody],
                  segments: list[DataSegment]) -> bytes:
        wasm = WasmFile([])
        wasm.set("type", self.types)
        wasm.set("import", self.imports)
        wasm.set("function", functions)
        elements = self._elements()
        if elements:
            wasm.set("element", elements)
        wasm.set("code", bodies)
        if segments:
            wasm.set("data", segments)
        return wasm.to_bytes()
