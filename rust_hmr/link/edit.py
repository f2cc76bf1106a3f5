"""What an edit did to the live program, read from the DWARF of the old and new objects.

Before a patch is linked: every type the crate defines must keep its layout (values of it made
before the edit live on in the app's memory: in statics, thread-locals, on the heap behind
them), every trait-object method table its entries (`vtables`), and each function of the new
objects is matched to the live item it is (see `identity`). A changed layout refuses the patch
with a reason that names the type and what changed.
"""

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace

from rust_hmr.dwarf import DebugInfo, Field, TypeLayout, layout_changes
from rust_hmr.link import identity
from rust_hmr.link.objects import ObjectView
from rust_hmr.link.outcomes import PatchRefused
from rust_hmr.link.sources import SourceHistory
from rust_hmr.link.vtables import refuse_moved_methods
from rust_hmr.shim import ObjectFile


@dataclass(frozen=True)
class DirtyUnit:
    """A codegen unit the rebuild changed: its live object (None for a new unit) and its
    new one."""

    live: ObjectFile | None
    new: ObjectFile


_CLOSURE = re.compile(r"\{closure#(\d+)\}$")


def _env_path(function_path: str) -> str | None:
    """The DWARF path of a closure's environment type, from the closure's own path."""
    found = _CLOSURE.search(function_path)
    if found is None:
        return None
    return f"{function_path[:found.start()]}{{closure_env#{found.group(1)}}}"


_VTABLE = "::{vtable_type}"
_VTABLE_HEADER = 3  # drop_in_place, size, align: the entries before the methods


def _owned(path: str, crates: set[str]) -> bool:
    """A type of the crate's own, or the method table of a trait object that involves one of
    its traits or types (`<app::Shape as app::Draw>::{vtable_type}`)."""
    if path.endswith(_VTABLE):
        return any(re.search(rf"(?<![\w:]){re.escape(c)}::", path) for c in crates)
    return path.split("::", 1)[0] in crates and "{closure_env#" not in path


def _own_types(infos: Iterable[DebugInfo], crates: set[str]) -> dict[str, TypeLayout]:
    """The crate's own types, closure environments left out (they follow their closures)."""
    out: dict[str, TypeLayout] = {}
    for info in infos:
        for path, layout in info.types.items():
            if _owned(path, crates):
                out.setdefault(path, layout)
    return out


_SHAPE_ROUNDS = 3  # how deep a renamed type inside another type's fields is seen through


def _shapes(types: Mapping[str, TypeLayout]) -> dict[str, TypeLayout]:
    """Each layout with the crate's type names in its fields replaced by a digest of their
    own shape, so that renaming a type (`Binding` to `Slot`) changes no layout that holds it."""
    if not types:
        return {}
    paths = sorted(types, key=len, reverse=True)
    pattern = re.compile("|".join(rf"(?<![\w:]){re.escape(p)}(?![\w])" for p in paths))
    digests = {p: "" for p in paths}
    shaped = dict(types)
    for _ in range(_SHAPE_ROUNDS):
        shaped = {p: _shaped(t, pattern, digests) for p, t in types.items()}
        digests = {p: hashlib.blake2s(repr(shaped[p]).encode(), digest_size=6).hexdigest()
                   for p in paths}
    return shaped


def _shaped(layout: TypeLayout, names: re.Pattern[str], digests: dict[str, str]) -> TypeLayout:
    def fields(items: tuple[Field, ...]) -> tuple[Field, ...]:
        return tuple(replace(f, type=names.sub(lambda m: f"#{digests[m.group(0)]}", f.type))
                     for f in items)

    return replace(layout, fields=fields(layout.fields), variants=tuple(
        replace(v, fields=fields(v.fields)) for v in layout.variants))


def refuse_changed_layouts(old: Iterable[DebugInfo], new: Iterable[DebugInfo],
                           crates: set[str]) -> None:
    old_types, new_types = _own_types(old, crates), _own_types(new, crates)
    if all(old_types[p] == new_types[p] for p in old_types.keys() & new_types.keys()):
        return  # the common case (a body edit); then no shape differs either
    old_shapes, new_shapes = _shapes(old_types), _shapes(new_types)
    changed = {p for p in old_shapes.keys() & new_shapes.keys() if old_shapes[p] != new_shapes[p]}
    changes = layout_changes({p: old_types[p] for p in changed},
                             {p: new_types[p] for p in changed})
    if changes:
        first = min(changes, key=lambda c: c.path.endswith(_VTABLE))  # types first
        more = f" (and {len(changes) - 1} more types)" if len(changes) > 1 else ""
        if first.path.endswith(_VTABLE):
            impl = first.path.removesuffix(_VTABLE)
            was, now = (len(t[first.path].fields) - _VTABLE_HEADER for t in (old_types, new_types))
            raise PatchRefused(
                f"the trait object method table of {impl} changed ({was} → {now} methods)"
                f"{more}: trait objects made before the edit hold the old table")
        raise PatchRefused(
            f"{first.description}{more}: values made before the edit would be read with the "
            "new layout")


class _Captures:
    """Whether a closure matched to a live one captures differently."""

    def __init__(self, old: list[DebugInfo], new: list[DebugInfo]) -> None:
        self.old, self.new = old, new

    @staticmethod
    def _env(infos: list[DebugInfo], name: str) -> TypeLayout | None:
        decl = next((i.functions[name] for i in infos if name in i.functions), None)
        env = None if decl is None else _env_path(decl.path)
        return next((i.types[env] for i in infos if env in i.types), None) if env else None

    def __call__(self, new_name: str, old_name: str) -> bool:
        old, new = self._env(self.old, old_name), self._env(self.new, new_name)
        if old is None or new is None:
            return (old is None) != (new is None)
        return bool(layout_changes({"env": old}, {"env": new}))


def _unit(view: ObjectView, info: DebugInfo) -> identity.Unit:
    decls = {name: identity.Decl(name, d.file, d.line, d.generic)
             for name, d in info.functions.items()}
    return identity.Unit(view, decls)


def analyse(units: list[DirtyUnit], view_of: Callable[[ObjectFile], ObjectView],
            debug_of: Callable[[ObjectFile], DebugInfo], sources: SourceHistory,
            crates: set[str], reachable: Callable[[str], bool] | None = None
            ) -> dict[str, str | None]:
    """Refuses an edit that changed a type's layout; returns the renames the patch linker
    needs (see `identity.match`). `reachable(name)`: whether the app may hold a pointer to
    the live function of that name (None: assume it may)."""
    live = [(u.live, debug_of(u.live)) for u in units if u.live is not None]
    new = [(u.new, debug_of(u.new)) for u in units]
    refuse_changed_layouts((i for _, i in live), (i for _, i in new), crates)
    refuse_moved_methods((view_of(o) for o, _ in live), (view_of(o) for o, _ in new))
    captures = _Captures([i for _, i in live], [i for _, i in new])
    return identity.match([_unit(view_of(o), i) for o, i in live],
                          [_unit(view_of(o), i) for o, i in new], sources, captures,
                          reachable)
