"""The descriptions the JS runtime builds its adapters from: one JSON-able record per import,
instanceof check, closure type, export, class and enum of a wasm-bindgen module.

    {"version": "0.2.83",
     "imports": [{"shim": "__wbg_log_..", "op": "call", "path": ["console", "log"],
                  "module": null, "catch": false, "final": false, "args": [["ref", "string"]],
                  "ret": "unit"}, ...],
     "types": [{"shim": "__wbg_instanceof_Window_..", "path": ["Window"], "module": null,
                "vendor": []}],
     "closures": [{"describe": 12, "invoke": 7, "destroy": 8, "mutable": true,
                   "args": ["externref"], "ret": "unit"}],
     "exports": [{"name": "greet", "wasm": "greet", "class": null, "op": "function",
                  "args": [["ref", "string"]], "ret": "string"}],
     "classes": ["Counter"], "enums": {"Color": {"Red": 0}}, "start": "start"}

Descriptions of one module do not depend on each other, so a patch can ship only those of its
new imports and closures, and the live glue takes them (`Glue.add` in the runtime). Every shim's
wasm type is checked against what `_abi` derives from its descriptor.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from rust_hmr.bindgen._abi import Lowered, Signature, lower, signature
from rust_hmr.bindgen._bindings import Bindings, BoundExport, BoundImport
from rust_hmr.bindgen._describe import ClosureSite
from rust_hmr.bindgen._errors import BindgenError, UnsupportedError
from rust_hmr.bindgen._intrinsics import (
    EXTERNREF_INTRINSICS,
    EXTERNREF_MODULE,
    INTRINSICS,
    PLACEHOLDER_MODULE,
)
from rust_hmr.bindgen._modules import JsModules
from rust_hmr.bindgen._scan import function_exports, function_types
from rust_hmr.bindgen.descriptors import Descriptor, Function
from rust_hmr.bindgen.schema import (
    SCHEMA_VERSION,
    Constructor,
    Getter,
    ImportFunction,
    ImportStatic,
    ImportType,
    IndexingDeleter,
    IndexingGetter,
    IndexingSetter,
    Operation,
    Regular,
    Setter,
)
from rust_hmr.wasm import WasmFile
from rust_hmr.wasm.sections.imports import ExternKind
from rust_hmr.wasm.sections.types import FuncType

Description = dict[str, Any]

# (operation kind, is_static) -> the runtime's op name; the property name comes from the kind.
_OPERATIONS: dict[tuple[type, bool], str] = {
    (Regular, False): "method", (Regular, True): "static-method",
    (Getter, False): "getter", (Getter, True): "static-getter",
    (Setter, False): "setter", (Setter, True): "static-setter",
    (IndexingGetter, False): "index-get", (IndexingSetter, False): "index-set",
    (IndexingDeleter, False): "index-delete",
}  # fmt: skip


class FunctionTypes:
    """The wasm types of a module's functions, by import field, export name or table slot."""

    def __init__(self, wasm: WasmFile) -> None:
        self.types: list[FuncType] = wasm.decoded("type", [])
        imports = [i for i in wasm.decoded("import", []) if i.kind == ExternKind.FUNCTION]
        self.imports = {(i.module, i.field): self.types[i.desc] for i in imports}
        self.by_index: list[FuncType] = [self.types[i.desc] for i in imports]
        self.by_index += [self.types[t] for t in function_types(wasm)]
        self.exports = function_exports(wasm)
        self.slots: dict[int, int] = {}
        for segment in wasm.decoded("element", []):
            start = segment.offset.i32_value() if segment.offset is not None else None
            if start is not None and segment.table == 0:
                self.slots.update({start + k: f for k, f in enumerate(segment.functions)})

    def of_export(self, name: str) -> FuncType:
        if name not in self.exports:
            raise BindgenError(f"the module has no export {name!r} (wasm-bindgen declares it)")
        return self.by_index[self.exports[name]]

    def of_slot(self, slot: int) -> FuncType:
        if slot not in self.slots:
            raise BindgenError(f"table slot {slot} holds no function (a closure shim)")
        return self.by_index[self.slots[slot]]


@functools.lru_cache(maxsize=4096)
def _signature_of(found: FuncType) -> Signature:
    """A wasm type as a Signature (a module has a few hundred types; thousands of shims)."""
    return Signature(tuple(map(str, found.params)), tuple(map(str, found.results)))


def _check(what: str, found: FuncType, expected: Signature) -> None:
    got = _signature_of(found)
    if got != expected:
        raise BindgenError(f"{what} has the wasm type {got}, but its descriptor gives {expected}: "
                           f"a wasm-bindgen ABI the glue for {SCHEMA_VERSION} does not know")


def _function(what: str, d: Descriptor) -> tuple[list[Lowered], Lowered]:
    if not isinstance(d, Function):
        raise BindgenError(f"{what} describes {d}, not a function")
    try:
        return [lower(a) for a in d.arguments], lower(d.ret)
    except UnsupportedError as err:
        raise UnsupportedError(f"{err.what} (in {what})") from None


def _forms(args: list[Lowered], ret: Lowered) -> dict[str, Any]:
    return {"args": [a.form for a in args], "ret": ret.form}


@dataclass
class Planner:
    """Builds the descriptions of one module."""

    bindings: Bindings
    wasm: WasmFile
    modules: JsModules

    def __post_init__(self) -> None:
        self.types = FunctionTypes(self.wasm)
        self.vendor = {imp.kind.name: list(imp.kind.vendor_prefixes)
                       for r in self.bindings.records for imp in r.program.imports
                       if isinstance(imp.kind, ImportType)}  # fmt: skip
        # Each function descriptor lowered once, by identity: the imports of a module share a
        # few hundred descriptor objects (`_replay` decodes each word sequence once). So the
        # descriptions of those imports share their type forms (JSON data, never changed).
        self._lowered: dict[int, tuple[Descriptor, list[Any], Any, Signature]] = {}

    def imports(self) -> list[Description]:
        return [self._import(bound) for bound in self.bindings.imports]

    def _import(self, bound: BoundImport) -> Description:
        kind = bound.kind
        shim = kind.shim
        what = f"import {bound.js_name} ({shim})"
        module = self.modules.key(bound.import_.module, shim)
        namespace = list(bound.js_namespace or ())
        found = self.types.imports[(PLACEHOLDER_MODULE, shim)]
        if isinstance(kind, ImportStatic):
            value = lower(bound.descriptor)
            _check(what, found, signature([], value))
            return {"shim": shim, "op": "value", "path": [*namespace, kind.name],
                    "module": module, "catch": False, "final": False, "vendor": [],
                    "variadic": False, "args": [], "ret": value.form}  # fmt: skip
        args, ret, expected = self._lower_function(what, bound.descriptor)
        _check(what, found, expected)
        if ret and isinstance(ret, list) and ret[0] == "result":
            raise UnsupportedError(f"an import returning Result without `catch` ({what})")
        op, path = self._target(kind, namespace, what)
        vendor = self.vendor.get(kind.method.class_, []) if kind.method else []
        return {"shim": shim, "op": op, "path": path, "module": module,
                "catch": kind.catch, "final": not kind.structural, "vendor": vendor,
                "variadic": kind.variadic, "args": list(args), "ret": ret}  # fmt: skip

    def _lower_function(self, what: str, d: Descriptor) -> tuple[list[Any], Any, Signature]:
        """The type forms of an import's arguments and return value, and the wasm type they
        give its shim."""
        found = self._lowered.get(id(d))
        if found is None:
            args, ret = _function(what, d)
            forms = _forms(args, ret)
            found = self._lowered[id(d)] = (d, forms["args"], forms["ret"],
                                            signature(args, ret))  # d held: its id unique
        return found[1], found[2], found[3]

    @staticmethod
    def _target(kind: ImportFunction, namespace: list[str], what: str) -> tuple[str, list[str]]:
        """The runtime's op and the path to the function, class or property it reaches."""
        method = kind.method
        if method is None:
            return "call", [*namespace, kind.function.name]
        path = [*namespace, method.class_]
        if isinstance(method.kind, Constructor):
            return "constructor", path
        operation: Operation = method.kind
        op = _OPERATIONS.get((type(operation.kind), operation.is_static))
        if op is None:
            raise UnsupportedError(f"a static indexing operation ({what})")
        name = getattr(operation.kind, "property", None) or kind.function.name
        return op, path if op.startswith("index") else [*path, name]

    def instanceof_checks(self) -> list[Description]:
        """`dyn_into`/`instanceof` shims: those of the module's imports that an ImportType names."""
        found = []
        for record in self.bindings.records:
            for imp in record.program.imports:
                kind = imp.kind
                if isinstance(kind, ImportType) and (
                        (PLACEHOLDER_MODULE, kind.instanceof_shim) in self.types.imports):
                    what = f"instanceof {kind.name}"
                    _check(what, self.types.imports[(PLACEHOLDER_MODULE, kind.instanceof_shim)],
                           Signature(("i32",), ("i32",)))  # fmt: skip
                    found.append({
                        "shim": kind.instanceof_shim, "path": [*(imp.js_namespace or ()),
                                                               kind.name],
                        "module": self.modules.key(imp.module, kind.instanceof_shim),
                        "vendor": list(kind.vendor_prefixes)})  # fmt: skip
        return _unique(found)

    def closures(self) -> list[Description]:
        return _unique([self._closure(site) for site in self.bindings.closures])

    def _closure(self, site: ClosureSite) -> Description:
        closure = site.descriptor
        what = f"closure (invoke shim in table slot {closure.shim})"
        args, ret = _function(what, closure.function)
        _check(what, self.types.of_slot(closure.shim), signature(args, ret, ("i32", "i32")))
        _check(f"closure destructor (table slot {closure.destroy})",
               self.types.of_slot(closure.destroy), Signature(("i32", "i32"), ()))
        return {"describe": site.describe_index, "invoke": closure.shim,
                "destroy": closure.destroy, "mutable": closure.mutable, **_forms(args, ret)}

    def exports(self) -> list[Description]:
        return [self._export(bound) for bound in self.bindings.exports]

    def _export(self, bound: BoundExport) -> Description:
        export = bound.export
        what = f"export {bound.wasm_name}"
        args, ret = _function(what, bound.descriptor)
        op = "function"
        if export.class_ is not None:
            op = self._class_op(export.method_kind, what, export.consumed)
        prefix = ("i32",) if op in ("method", "consuming-method") else ()
        _check(what, self.types.of_export(bound.wasm_name), signature(args, ret, prefix))
        return {"name": bound.js_name, "wasm": bound.wasm_name, "class": export.class_,
                "op": op, **_forms(args, ret)}  # fmt: skip

    @staticmethod
    def _class_op(kind: Constructor | Operation, what: str, consumed: bool) -> str:
        if isinstance(kind, Constructor):
            return "constructor"
        if not isinstance(kind.kind, Regular):
            raise UnsupportedError(f"exported getters, setters and indexing ({what})")
        if kind.is_static:
            return "static-method"
        return "consuming-method" if consumed else "method"

    def classes(self) -> list[str]:
        names = []
        for record in self.bindings.records:
            for struct in record.program.structs:
                if struct.fields:
                    fields = ", ".join(f"{struct.name}.{f.name}" for f in struct.fields)
                    raise UnsupportedError(f"public fields of exported structs ({fields})")
                self.types.of_export(free_export(struct.name))
                names.append(struct.name)
        return names

    def enums(self) -> dict[str, dict[str, int]]:
        return {e.name: {v.name: v.value for v in e.variants}
                for r in self.bindings.records for e in r.program.enums}  # fmt: skip

    def start(self) -> str | None:
        starts = [b.wasm_name for b in self.bindings.exports if b.export.start]
        if len(starts) > 1:
            raise BindgenError(f"more than one #[wasm_bindgen(start)] function: {starts}")
        return starts[0] if starts else None

    def check_imports(self) -> None:
        """Every wasm import is something the glue provides; else one error naming them all."""
        known = {b.shim for b in self.bindings.imports} | INTRINSICS
        known |= {d["shim"] for d in self.instanceof_checks()}
        unknown = [f"{m}.{f}" for m, f in self.types.imports
                   if not (m == PLACEHOLDER_MODULE and f in known)
                   and not (m == EXTERNREF_MODULE and f in EXTERNREF_INTRINSICS)]  # fmt: skip
        others = [i for i in self.wasm.decoded("import", []) if i.kind != ExternKind.FUNCTION]
        unknown += [f"{i.module}.{i.field} ({i.kind})" for i in others]
        if unknown:
            raise UnsupportedError(f"the import(s) {', '.join(sorted(unknown))}")

    def describe_all(self) -> Description:
        self.check_imports()
        return {"version": SCHEMA_VERSION, "imports": self.imports(),
                "types": self.instanceof_checks(), "closures": self.closures(),
                "exports": self.exports(), "classes": self.classes(), "enums": self.enums(),
                "start": self.start()}  # fmt: skip


def free_export(struct: str) -> str:
    """The wasm export that frees an exported struct's heap cell."""
    return f"__wbg_{struct.lower()}_free"


def _unique(items: list[Description]) -> list[Description]:
    seen: dict[str, Description] = {}
    for item in items:
        seen.setdefault(repr(sorted(item.items())), item)
    return list(seen.values())

