"""Import resolution: turning a module's import list into the externs wasmtime wants.

A resolver is a function `(module, name, type) -> extern or None`; `link` walks the module's
imports in order, asks the resolver, and applies the `missing` policy to what stays unresolved.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Literal, TypeAlias, cast

import wasmtime

Extern: TypeAlias = wasmtime.Func | wasmtime.Memory | wasmtime.Table | wasmtime.Global
ExternType: TypeAlias = (
    wasmtime.FuncType | wasmtime.MemoryType | wasmtime.TableType | wasmtime.GlobalType
)
# A value given for an import: an extern of the host's Store, or a Python callable for a
# function import (wrapped with the import's own type).
ImportValue: TypeAlias = Extern | Callable[..., Any]
ImportMap: TypeAlias = Mapping[str, Mapping[str, ImportValue]]
Missing: TypeAlias = Literal["error", "trap"]
Resolver: TypeAlias = Callable[[str, str, ExternType], "ImportValue | None"]

_KINDS: dict[type, str] = {
    wasmtime.Func: "func", wasmtime.FuncType: "func",
    wasmtime.Memory: "memory", wasmtime.MemoryType: "memory",
    wasmtime.Table: "table", wasmtime.TableType: "table",
    wasmtime.Global: "global", wasmtime.GlobalType: "global",
}  # fmt: skip


class HostError(RuntimeError):
    """The host can't load, link or call a module as asked."""


class UnresolvedImportError(HostError):
    """A module imports something the host does not provide."""

    def __init__(self, module: str, name: str, type_text: str, hint: str = "") -> None:
        message = f"unresolved import {module}.{name}: {type_text}"
        super().__init__(f"{message}; {hint}" if hint else message)
        self.module = module
        self.name = name
        self.type_text = type_text


class Exports(Mapping[str, Extern]):
    """An instance's exports by name, looked up when asked for.

    wasmtime-py's `Instance.exports()` walks the exports with `wasmtime_instance_export_nth`,
    whose cost grows with the index: 0.5 s for the 3,300 exports of a small `--export-all`
    debug build. A Linker holding the instance answers by name in microseconds.
    """

    _NAMESPACE = "instance"

    def __init__(
        self, store: wasmtime.Store, module: wasmtime.Module, instance: wasmtime.Instance
    ) -> None:
        self._store = store
        self._module = module
        self._linker = wasmtime.Linker(store.engine)
        self._linker.define_instance(store, self._NAMESPACE, instance)
        self._found: dict[str, Extern] = {}
        self._names: list[str] | None = None

    def __getitem__(self, name: str) -> Extern:
        found = self._found.get(name)
        if found is None:
            try:
                item = self._linker.get(self._store, self._NAMESPACE, name)
            except wasmtime.WasmtimeError:
                raise KeyError(name) from None
            # wasmtime's AsExtern also has SharedMemory and Tag, which the modules rust-hmr
            # builds (no threads, no exception handling) don't export
            found = cast(Extern, item)
            self._found[name] = found
        return found

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)

    @property
    def names(self) -> list[str]:
        if self._names is None:
            self._names = [export.name for export in self._module.exports]
        return self._names


def kind(value: object) -> str:
    """'func', 'memory', 'table' or 'global' for an extern or an extern type."""
    return _KINDS.get(type(value), type(value).__name__)


def type_text(ty: ExternType) -> str:
    """A WAT-like text of an import's type, for error messages."""
    if isinstance(ty, wasmtime.FuncType):
        parts = ["func"]
        if ty.params:
            parts.append(f"(param {' '.join(map(str, ty.params))})")
        if ty.results:
            parts.append(f"(result {' '.join(map(str, ty.results))})")
        return f"({' '.join(parts)})"
    if isinstance(ty, wasmtime.MemoryType | wasmtime.TableType):
        limits = ty.limits
        bound = "" if limits.max is None else f" {limits.max}"
        element = f" {ty.element}" if isinstance(ty, wasmtime.TableType) else ""
        return f"({kind(ty)} {limits.min}{bound}{element})"
    content = f"(mut {ty.content})" if ty.mutable else str(ty.content)
    return f"(global {content})"


def link(
    store: wasmtime.Store,
    imports: Iterable[wasmtime.ImportType],
    resolve: Resolver,
    missing: Missing,
    hint: str = "",
) -> list[Extern]:
    """The externs for `imports`, in order; unresolved ones raise, or trap when called."""
    externs: list[Extern] = []
    for imp in imports:
        module, name, ty = imp.module, imp.name or "", imp.type
        assert not isinstance(ty, wasmtime.TagType), "exception tags are not supported"
        value = resolve(module, name, ty)
        if value is None:
            if missing == "trap" and isinstance(ty, wasmtime.FuncType):
                value = _trap_stub(store, ty, module, name)
            else:
                raise UnresolvedImportError(module, name, type_text(ty), hint)
        externs.append(as_extern(store, value, module, name, ty))
    return externs


def as_extern(
    store: wasmtime.Store, value: ImportValue, module: str, name: str, ty: ExternType
) -> Extern:
    """`value` as an extern for the import `module.name`; checks the kind, not the signature
    (wasmtime checks that when it instantiates)."""
    if callable(value) and not isinstance(value, wasmtime.Func):
        if not isinstance(ty, wasmtime.FuncType):
            raise HostError(f"import {module}.{name} is a {kind(ty)}, but a function was given")
        return wasmtime.Func(store, ty, value)
    if kind(value) != kind(ty):
        raise HostError(
            f"import {module}.{name} wants a {kind(ty)} {type_text(ty)}, "
            f"but resolves to a {kind(value)}"
        )
    return value


def _trap_stub(
    store: wasmtime.Store, ty: wasmtime.FuncType, module: str, name: str
) -> wasmtime.Func:
    def unresolved(*_args: object) -> None:
        raise wasmtime.Trap(f"called unresolved import {module}.{name}")

    return wasmtime.Func(store, ty, unresolved)
