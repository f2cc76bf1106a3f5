"""Patch link: the dirty objects become one module that runs against the live main module.

The patch imports the main module's memory, table and `__stack_pointer`, and every function it
calls but does not define, by mangled name (the main module exports them all; a hot function's
export is its trampoline, so calls reach its newest code). Data resolves as `data` says.
Function pointers reuse the main module's table entries where it has them, so pointers compare
equal across main and patch; new ones get spare slots that the ledger keeps. Every hot function
the patch defines is written into its trampoline slot by an active element segment:
instantiating the patch applies it.
"""

import json
from bisect import bisect_left
from collections.abc import Mapping

from rust_hmr.link import data, relocate
from rust_hmr.link.data import DataLayout
from rust_hmr.link.ledger import Ledger
from rust_hmr.link.objects import ObjectView
from rust_hmr.link.outcomes import Patch, PatchRefused
from rust_hmr.prepare.symbol_map import FunctionInfo, SymbolMap
from rust_hmr.prepare.trampolines import trampoline_body
from rust_hmr.wasm.demangle import demangle_or_raw
from rust_hmr.wasm.module import Section, SectionId, WasmFile
from rust_hmr.wasm.sections.code import FunctionBody
from rust_hmr.wasm.sections.common import ConstExpr, Limits, TableType, ValType
from rust_hmr.wasm.sections.data import DataSegment
from rust_hmr.wasm.sections.elements import ElementSegment
from rust_hmr.wasm.sections.imports import ExternKind, Import
from rust_hmr.wasm.sections.linking import Symbol, SymbolKind
from rust_hmr.wasm.sections.name import NameKind, NameSection
from rust_hmr.wasm.sections.reloc import Relocation, RelocType
from rust_hmr.wasm.sections.types import FuncType

# The import module a patch names for what the running main instance gives it (its memory,
# table, `__stack_pointer`, data globals and functions, by export name). The app's own imports
# (`env.log`, wasm-bindgen's) keep their module: a main export and an app import may share a
# field name (libm's `log`, exported, and the page's `env.log`), so one module can't hold both.
MODULE = "rust-hmr:main"
_CALL = 0x10  # the `call` opcode: a FUNCTION_INDEX_LEB site right after it is a call
MEMORY_IMPORT = "memory"
TABLE_IMPORT = "__indirect_function_table"
PATCH_MODULE_NAME = "rust-hmr-patch-{id}"  # the name section's module name: traps tell patches
TRAMPOLINE_NAME = "hmr_trampoline"         # apart by it (wasmtime's frames, a browser's URLs)
OBJECTS_SECTION = "rust-hmr.objects"
BINDGEN_MODULE = "__wbindgen_placeholder__"  # wasm-bindgen's imports, which its glue provides


def with_objects(module: bytes, paths: list[str]) -> bytes:
    """`module` with a custom section naming the objects it was linked from, in link order
    (a JSON list of paths): a trap's backtrace reads their DWARF for its file:line."""
    out = bytearray(module)
    Section(SectionId.CUSTOM, OBJECTS_SECTION, json.dumps(paths).encode()).write(out)
    return bytes(out)


def _pretty(name: str) -> str:
    return demangle_or_raw(name, hash=False)


def _symbol_type(view: ObjectView, sym: Symbol) -> FuncType:
    """The type of a function symbol: its definition's, or its import's."""
    index = sym.index or 0
    if sym.defined:
        return view.types[view.defined[index - view.first_defined]]
    return view.types[int(view.function_imports[index].desc)]  # type: ignore[arg-type]


def _signature(ftype: FuncType) -> str:
    return f"({', '.join(map(str, ftype.params))}) -> ({', '.join(map(str, ftype.results))})"


def _main_signature(main: FunctionInfo) -> str:
    return f"({', '.join(main.params)}) -> ({', '.join(main.results)})"


class PatchLinker:
    """One patch link. `renames` maps a defined function's symbol name in the new objects to
    the name of the live item it is (a closure renumbered by the edit), or to None when it is
    a new item whatever its name says: the old slot then keeps its old code."""

    def __init__(self, views: list[ObjectView], symbols: SymbolMap, ledger: Ledger,
                 renames: Mapping[str, str | None] | None = None) -> None:
        self.views = views
        self.symbols = symbols
        self.ledger = ledger
        self.renames = dict(renames or {})
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
        self.hot_slot: dict[str, int] = {}  # global function name -> the slot calls go through
        self.trampolines: dict[tuple[int, int], int] = {}  # (slot, type id) -> patch function
        self.trampoline_bodies: list[tuple[int, bytes]] = []  # (type id, body)
        self.defined_count = 0
        self.aliases: dict[str, str] = {}  # the ledger's aliases after this patch

    # types, identities, functions, globals

    def type_id(self, view: ObjectView, type_index: int) -> int:
        return self._type_id(view.types[type_index])

    def _type_id(self, ftype: FuncType) -> int:
        if ftype not in self._type_ids:
            self._type_ids[ftype] = len(self.types)
            self.types.append(ftype)
        return self._type_ids[ftype]

    def identity(self, name: str, *, defined: bool) -> str:
        """The live item a symbol name of the new objects stands for. A defined name goes
        through this edit's renames first; every name then through the ledger's aliases (the
        identities earlier patches gave the names of their objects)."""
        if defined and name in self.renames:
            target = self.renames[name]
            if target is None:
                return f"{name}@{self.ledger.patches + 1}"  # a new item: a slot of its own
            name = target
        return self.ledger.aliases.get(name, name)

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
                    name = view.symbol_name(sym)
                    if name not in self.defined_by_name:
                        wanted.setdefault(name, (view, sym.index or 0))
        for name, (view, import_index) in wanted.items():
            imp = view.function_imports[import_index]
            ftype = view.types[int(imp.desc)]  # type: ignore[arg-type]
            live = self.identity(name, defined=False)
            main = self._main_function(live)
            if main is not None and not main.imported and _main_signature(main) == \
                    _signature(ftype) and live not in self.ledger.signatures:
                if main.hot and main.slot is not None:
                    # Called through its slot, which holds its newest code. The main module
                    # may not export it at all: a function rustc kept internal to its codegen
                    # unit, which a later unit (an earlier patch's) calls.
                    self.hot_slot[name] = main.slot
                    continue
                module, field = MODULE, live  # the main module exports it by this name
            elif self.ledger.signatures.get(live) == _signature(ftype):
                # A function only an earlier patch has (or whose signature a patch changed):
                # called through its slot, so its newest code answers.
                self.hot_slot[name] = self.ledger.slots[live]
                continue
            else:
                # One of the app's own imports (the page's, wasm-bindgen's): the patch imports
                # it as the object does. With #[link(wasm_import_module)] the symbol is
                # mangled, but the import keeps its module and field.
                given = self._main_function(imp.field)
                # a wasm-bindgen import the app never had: the page's glue gets its
                # description with the patch (rust_hmr.bindgen.live), or the page reloads
                new_binding = imp.module == BINDGEN_MODULE and main is None
                if (given is None or not given.imported) and not new_binding:
                    if main is not None:
                        raise PatchRefused(
                            f"function {_pretty(name)} is called as {_signature(ftype)}, but "
                            f"the running app's has {_main_signature(main)}")
                    raise PatchRefused(f"function {_pretty(name)} is not in the main module")
                module, field = imp.module, imp.field
            self.imported[name] = len(self.imported)
            self.imports.append(Import(module, field, ExternKind.FUNCTION, self._type_id(ftype)))
        next_index = len(self.imported)
        for o, view in enumerate(self.views):
            for k in range(len(view.defined)):
                self.function_index[(o, view.first_defined + k)] = next_index
                next_index += 1
        self.defined_count = next_index - len(self.imported)
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
        """The patch's function index of a function symbol: its own body, or its import."""
        view = self.views[o]
        if sym.defined:
            return self.function_index[(o, sym.index or 0)]
        name = view.symbol_name(sym)
        if name in self.imported:
            return self.imported[name]
        if name in self.defined_by_name:
            return self.defined_by_name[name]
        return self._trampoline_for(self.hot_slot[name], _symbol_type(view, sym))

    def call_target(self, o: int, sym: Symbol) -> int:
        """What a `call` of this symbol calls: a function with a slot of its own is called
        through the slot (a trampoline in the patch), so the next patch that writes the slot
        reaches this patch's callers too; anything else directly."""
        view = self.views[o]
        name = view.symbol_name(sym)
        slot = None if sym.local else self.hot_slot.get(name)
        if slot is None:
            return self.function_of(o, sym)
        return self._trampoline_for(slot, _symbol_type(view, sym))

    def _trampoline_for(self, slot: int, ftype: FuncType) -> int:
        tid = self._type_id(ftype)
        key = (slot, tid)
        if key not in self.trampolines:
            self.trampolines[key] = (len(self.imported) + self.defined_count
                                     + len(self.trampoline_bodies))
            self.trampoline_bodies.append((tid, trampoline_body(ftype, tid, slot)))
        return self.trampolines[key]

    # table slots

    def slot_for(self, o: int, sym_index: int) -> int:
        """The table slot a pointer to this function symbol takes."""
        key = (o, sym_index)
        if key in self.slot_of_symbol:
            return self.slot_of_symbol[key]
        view = self.views[o]
        sym = view.linking.symbols[sym_index]
        name = view.symbol_name(sym)
        slot: int | None
        if not sym.local and name in self.hot_slot:
            slot = self.hot_slot[name]
            main = self._main_function(self.identity(name, defined=sym.defined))
            if main is not None and main.slot == slot and main.table_index is not None:
                slot = main.table_index  # the main module's own entry: pointers compare equal
        else:
            live = self.identity(name, defined=sym.defined)
            main = None if sym.local else self._main_function(live)
            if main is not None and main.table_index is not None:
                slot = main.table_index
            else:
                ledger_key = live if not sym.local else f"{view.name}:{live}"
                slot = self.ledger.slots.get(ledger_key)
                if slot is None:
                    slot = self.ledger.new_slot(_pretty(name))
                    self.ledger.slots[ledger_key] = slot
                self.table_entries[slot] = self.function_of(o, sym)
        self.slot_of_symbol[key] = slot
        self.ledger.pointed[self.identity(name, defined=sym.defined)] = slot
        return slot

    # hot functions

    def _slot_writes(self) -> list[str]:
        """Write every hot function the patch defines into its slot(s).

        A global symbol names one function of the main module. A unit-local one (a method only
        its unit's vtable uses, an `#[inline]` copy) may name several, one per unit that
        instantiated it: the same source function, so each same-typed slot gets the new code.
        Old pointers to it (vtables, stored callbacks) go through those slots. A global
        function the main module lacks (or whose signature changed) gets a slot of its own in
        the ledger, kept for later patches."""
        written = []
        dirty_main = {f.index for name in self.defined_by_name
                      for f in self.symbols.functions_named(self.identity(name, defined=True))}
        for o, view in enumerate(self.views):
            for sym in view.linking.symbols:
                if sym.kind is not SymbolKind.FUNCTION or not sym.defined or not sym.name:
                    continue
                live = self.identity(sym.name, defined=True)
                if live != sym.name:
                    self.aliases[sym.name] = live
                named = self.symbols.functions_named(live)
                # wasm-bindgen's describe functions are exported for its bindgen step only
                # (rust_hmr.bindgen.live runs a patch's own): the page never calls them
                if not sym.local and not named and not sym.name.startswith(
                        ("_ZN", "_R", "__wbindgen_describe_")):
                    raise PatchRefused(
                        f"new exported function {sym.name}: the host must load the app again "
                        "to call it")
                new_type = _symbol_type(view, sym)
                signature = _signature(new_type)
                body = self.function_of(o, sym)
                matched = False
                for main in named:
                    if not main.hot or main.slot is None:
                        continue
                    if signature != _main_signature(main):
                        if not sym.local:
                            self._check_signature_change(main, dirty_main, new_type)
                        continue
                    if live in self.ledger.signatures:
                        continue  # its signature changed earlier: the ledger's slot is live
                    self.table_entries[main.slot] = body
                    matched = True
                    if not sym.local:
                        self.hot_slot[sym.name] = main.slot
                    written.append(_pretty(main.name))
                if matched or sym.local:
                    continue
                slot = self._ledger_slot(live, signature)
                self.table_entries[slot] = body
                self.hot_slot[sym.name] = slot
                written.append(_pretty(sym.name))
        return list(dict.fromkeys(written))  # generic instances share a name

    def _ledger_slot(self, live: str, signature: str) -> int:
        """The ledger's slot for a function a patch defines and the main module has no slot
        for; a new one when it is new, or when its signature changed (pointers made before
        keep their old code and type)."""
        slot = self.ledger.slots.get(live)
        if slot is None or self.ledger.signatures.get(live) != signature:
            slot = self.ledger.new_slot(_pretty(live))
            self.ledger.slots[live] = slot
            self.ledger.signatures[live] = signature
        return slot

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
                f"{_main_signature(main)} to {_signature(new_type)}: {why}")

    # relocation values

    def value(self, o: int, rel: Relocation, layout: DataLayout, call: bool = False) -> int:
        """The value a relocation site gets; `call`: the site is a `call` instruction's."""
        view = self.views[o]
        t = rel.type
        if t is RelocType.TYPE_INDEX_LEB:
            return self.type_id(view, rel.index)
        sym = view.linking.symbols[rel.index]
        if t is RelocType.FUNCTION_INDEX_LEB and call:
            return self.call_target(o, sym)
        if t in (RelocType.FUNCTION_INDEX_LEB, RelocType.FUNCTION_INDEX_I32):
            return self.function_of(o, sym)
        if t in (RelocType.GLOBAL_INDEX_LEB, RelocType.GLOBAL_INDEX_I32):
            return self.globals[view.symbol_name(sym)]
        if t in (RelocType.MEMORY_ADDR_LEB, RelocType.MEMORY_ADDR_SLEB, RelocType.MEMORY_ADDR_I32):
            return layout.addresses[(o, rel.index)] + rel.addend
        if t in (RelocType.TABLE_INDEX_SLEB, RelocType.TABLE_INDEX_I32):
            return self.slot_for(o, rel.index)
        if t is RelocType.TABLE_NUMBER_LEB:
            return 0
        raise PatchRefused(f"relocation {t.full_name} is not supported in patches")

    # the whole link

    def link(self) -> Patch:
        """The patch, as far as the link knows it: its id (the ledger's next), module,
        the functions written into their slots, the bytes placed and the ledger's room used."""
        self._index_functions()
        self._index_globals()
        layout = data.run(self.views, self.symbols, self.ledger)
        written = self._slot_writes()
        bodies = []
        for o, view in enumerate(self.views):
            relocs = sorted(view.code_relocs, key=lambda r: r.offset)
            offsets = [r.offset for r in relocs]
            for body in view.bodies:
                start = body.offset - view.code_base
                end = start + len(body.data)
                mine = relocs[bisect_left(offsets, start):bisect_left(offsets, end)]
                code = body.data

                def value_of(r: Relocation, o: int = o, c: bytes = code, s: int = start) -> int:
                    return self.value(o, r, layout, call=c[r.offset - s - 1] == _CALL)

                bodies.append(FunctionBody(0, relocate.run(code, start, mine, value_of)))
        segments = self._data_segments(layout)
        functions = [self.type_id(view, t) for view in self.views for t in view.defined]
        functions += [tid for tid, _ in self.trampoline_bodies]
        bodies += [FunctionBody(0, body) for _, body in self.trampoline_bodies]
        defined = {s.name for view in self.views for s in view.linking.symbols
                   if s.kind is SymbolKind.FUNCTION and s.defined and s.name}
        self.ledger.aliases = {k: v for k, v in self.ledger.aliases.items()
                               if k not in defined} | self.aliases
        return Patch(self.ledger.patches + 1, self._assemble(functions, bodies, segments),
                     tuple(written), placed_bytes=layout.placed_bytes,
                     ledger_memory_used=self.ledger.memory_used,
                     ledger_slots_used=self.ledger.slots_used)

    def _data_segments(self, layout: DataLayout) -> list[DataSegment]:
        out = []
        for placed in layout.segments:
            view = self.views[placed.obj]
            seg = view.segments[placed.segment]
            start = seg.data_offset - view.data_base
            end = start + len(seg.data)
            mine = [r for r in view.data_relocs if start <= r.offset < end]

            def value_of(r: Relocation, o: int = placed.obj) -> int:
                return self.value(o, r, layout)

            relocated = relocate.run(seg.data, start, mine, value_of)
            out.append(DataSegment(0, 0, ConstExpr.i32(placed.address), relocated))
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
        wasm.set("name", self._names())
        return wasm.to_bytes()

    def _names(self) -> NameSection:
        """The module's name (with the patch's id) and each function's mangled name, as a
        main module has them: backtraces name the patch's code."""
        functions: dict[int, str] = {}
        for o, view in enumerate(self.views):
            for sym in view.linking.symbols:
                if sym.kind is SymbolKind.FUNCTION and sym.defined and sym.name:
                    functions.setdefault(self.function_index[(o, sym.index or 0)], sym.name)
        first = len(self.imported) + self.defined_count
        functions.update((first + k, TRAMPOLINE_NAME) for k in range(len(self.trampoline_bodies)))
        module = PATCH_MODULE_NAME.format(id=self.ledger.patches + 1)
        return NameSection({NameKind.MODULE: module,
                            NameKind.FUNCTION: dict(sorted(functions.items()))})
