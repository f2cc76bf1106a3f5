"""Trait-object method tables (vtables) of the old and new objects, compared entry by entry.

A trait object made before the edit keeps the vtable it was made with: method k of the trait
is whatever that table has at entry k. Reordering, renaming, adding or removing a trait's
methods moves the entries, and new code calling method k through an old table would run
another method (or trap on a type mismatch). A vtable is a read-only data segment whose first
word points to `drop_in_place::<T>`, then size and alignment, then one function per method;
the object's data relocations name each entry.

Names are compared without their hashes, so one key may name several tables: the closures of
one function are all `f::{{closure}}`, the `Fn` ones with three methods and the `FnMut` ones
with two. A new table is refused only when no old table of its key has its methods.
"""

import re
from bisect import bisect_left
from collections.abc import Iterable

from rust_hmr.link.objects import ObjectView
from rust_hmr.link.outcomes import PatchRefused
from rust_hmr.wasm.demangle import demangle_or_raw
from rust_hmr.wasm.sections.reloc import RelocType

_HEADER = 12  # drop_in_place, size, alignment
_WORD = 4
_DROP = "core::ptr::drop_in_place"
_IMPL_METHOD = re.compile(r"^<(?P<type>.+) as (?P<trait>.+)>::(?P<method>[^:<>]+)$")


def _trait_and_method(path: str) -> tuple[str, str]:
    """`<T as Trait>::m` -> (Trait, m); a default method `Trait::m` -> (Trait, m)."""
    found = _IMPL_METHOD.match(path)
    if found:
        return found["trait"], found["method"]
    trait, _, method = path.rpartition("::")
    return trait, method


VtableKey = tuple[str, frozenset[str]]  # the dropped type's glue, the traits of the methods


def vtables(view: ObjectView) -> dict[VtableKey, set[tuple[str, ...]]]:
    """The vtables of the object: (drop glue, traits) -> their methods' names in table order."""
    out: dict[VtableKey, set[tuple[str, ...]]] = {}
    relocs = sorted((r for r in view.data_relocs if r.type is RelocType.TABLE_INDEX_I32),
                    key=lambda r: r.offset)
    offsets = [r.offset for r in relocs]
    for seg in view.segments:
        start = seg.data_offset - view.data_base
        size = len(seg.data)
        if size < _HEADER or (size - _HEADER) % _WORD:
            continue
        mine = relocs[bisect_left(offsets, start):bisect_left(offsets, start + size)]
        entries = {r.offset - start: demangle_or_raw(
                       view.symbol_name(view.linking.symbols[r.index]), hash=False)
                   for r in mine}
        drop = entries.get(0, "")
        if not drop.startswith(_DROP):
            continue
        methods = [entries.get(at, "") for at in range(_HEADER, size, _WORD)]
        split = [_trait_and_method(m) for m in methods if m]
        out.setdefault((drop, frozenset(t for t, _ in split)), set()).add(
            tuple(m for _, m in split))
    return out


def refuse_moved_methods(old: Iterable[ObjectView], new: Iterable[ObjectView]) -> None:
    before: dict[VtableKey, set[tuple[str, ...]]] = {}
    for view in old:
        for key, tables in vtables(view).items():
            before.setdefault(key, set()).update(tables)
    for view in new:
        for key, tables in vtables(view).items():
            was_tables = before.get(key)
            for methods in tables:
                if was_tables is None or methods in was_tables:
                    continue
                was = min(was_tables)
                glue, traits = key
                target = glue.removeprefix(f"{_DROP}<").removesuffix(">")
                raise PatchRefused(
                    f"the methods of {' + '.join(sorted(traits))} for {target} changed their "
                    f"order or names ({', '.join(was)} → {', '.join(methods)}): trait objects "
                    "made before the edit hold the old method table")
