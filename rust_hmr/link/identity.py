"""Which live function each function of the new objects is: the same source item, or a new one.

rustc names a closure after its index inside the parent function (the legacy symbol hash
encodes it), so adding a closure gives the later closures the names their predecessors had.
Writing new code into slots by name would then make a stored fn pointer (a table of builtins,
a callback) run another closure. Here a closure of the new objects is matched to the live one
declared at the same place: its DWARF `decl_line`, mapped through the edit's text diff. Where
that is unsure, the new closure is a new item (a slot of its own) and the old slot keeps its
old code: values made before the edit keep their behaviour.

Functions derived from a closure's type (a generic instance over it, an `FnOnce` shim, its drop
glue) carry a name that also follows the closure's index; when their closure was renumbered
they are new items too.
"""

from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from rust_hmr.link.objects import ObjectView
from rust_hmr.link.sources import SourceHistory
from rust_hmr.wasm.demangle import demangle_or_raw
from rust_hmr.wasm.sections.linking import SymbolKind
from rust_hmr.wasm.sections.reloc import RelocType

INDEX_NAMED = ("{{closure}}", "{{constant}}")
"""Path segments rustc numbers by position: items named by them are matched by place."""

_REFERENCES = (RelocType.FUNCTION_INDEX_LEB, RelocType.TABLE_INDEX_SLEB,
               RelocType.TABLE_INDEX_I32)


@dataclass(frozen=True)
class Decl:
    """Where a function is declared; `line` None when its DWARF does not say."""

    name: str
    file: str | None
    line: int | None
    generic: bool = False


@dataclass(frozen=True)
class Unit:
    """One codegen unit's object with the declarations its DWARF gives."""

    view: ObjectView
    decls: Mapping[str, Decl]  # defined function symbol name -> its declaration


def _group(name: str) -> str | None:
    """The path an index-named item shares with its siblings, or None for other items."""
    path = demangle_or_raw(name, hash=False)
    return path if any(marker in path for marker in INDEX_NAMED) else None


def _defined_functions(view: ObjectView) -> list[str]:
    return [s.name for s in view.linking.symbols
            if s.kind is SymbolKind.FUNCTION and s.defined and s.name]


def _decl(unit: Unit, name: str) -> Decl:
    return unit.decls.get(name) or Decl(name, None, None)


def _groups(units: Iterable[Unit]) -> dict[str, list[Decl]]:
    out: dict[str, list[Decl]] = {}
    for unit in units:
        for name in _defined_functions(unit.view):
            group = _group(name)
            if group is not None:
                out.setdefault(group, []).append(_decl(unit, name))
    return out


def _mapped_line(decl: Decl, sources: SourceHistory) -> int | None:
    if decl.file is None or decl.line is None:
        return None
    lines = sources.map_for(decl.file)
    return None if lines is None else lines(decl.line)


def _match_group(old: list[Decl], new: list[Decl],
                 sources: SourceHistory) -> dict[str, str | None]:
    """New name -> the old name of the same item, or None for a new item."""
    placed: dict[tuple[str | None, int], list[Decl]] = {}
    for decl in old:
        line = _mapped_line(decl, sources)
        if line is not None:
            placed.setdefault((decl.file, line), []).append(decl)
    result: dict[str, str | None] = {}
    taken: set[str] = set()
    pending: list[Decl] = []
    for decl in new:
        candidates = placed.get((decl.file, decl.line or -1), []) if decl.line else []
        if len(candidates) > 1:  # closures on one line: only their own name tells them apart
            candidates = [c for c in candidates if c.name == decl.name]
        if len(candidates) == 1 and candidates[0].name not in taken:
            result[decl.name] = candidates[0].name
            taken.add(candidates[0].name)
        else:
            pending.append(decl)
    # The rest were declared where the edit changed the text (or DWARF does not say). A name
    # is the same item only while nothing in the group was renumbered.
    old_names = {d.name for d in old}
    settled = (len(old) == len(new) and all(k == v for k, v in result.items()))
    for decl in pending:
        same = (settled and decl.name in old_names and decl.name not in taken
                and _mapped_line(next(d for d in old if d.name == decl.name), sources) is None)
        result[decl.name] = decl.name if same else None
        if same:
            taken.add(decl.name)
    return result


def _references(view: ObjectView) -> dict[str, set[str]]:
    """Defined function name -> the names of the functions its code calls or points to."""
    symbols = view.linking.symbols
    by_index = {s.index: s.name for s in symbols
                if s.kind is SymbolKind.FUNCTION and s.defined and s.name}
    starts = [b.offset - view.code_base for b in view.bodies]
    out: dict[str, set[str]] = {}
    for rel in view.code_relocs:
        if rel.type not in _REFERENCES:
            continue
        sym = symbols[rel.index]
        if sym.kind is not SymbolKind.FUNCTION:
            continue
        k = bisect_right(starts, rel.offset) - 1
        caller = by_index.get(view.first_defined + k) if k >= 0 else None
        if caller:
            out.setdefault(caller, set()).add(view.symbol_name(sym))
    return out


def _is_source_item(decl: Decl, sources: SourceHistory) -> bool:
    """A function declared in the crate's own text and not a generic instance: its name is
    its path, whatever its callees are called."""
    return (decl.file is not None and not decl.generic
            and sources.map_for(decl.file) is not None)


def match(old: list[Unit], new: list[Unit], sources: SourceHistory,
          captures_changed: Callable[[str, str], bool] | None = None
          ) -> dict[str, str | None]:
    """The renames of this edit: each new function name that is not the live item of the same
    name -> the live item's name, or None (a new item). Names absent are the same item.

    `captures_changed(new, old)` says whether a closure matched to a live one captures
    differently (its environment's layout changed): it is then a new item, so that closures
    made before the edit, boxed in the app's state, keep running the code that reads their
    environment right."""
    old_groups, new_groups = _groups(old), _groups(new)
    renames: dict[str, str | None] = {}
    for group, decls in new_groups.items():
        for name, target in _match_group(old_groups.get(group, []), decls, sources).items():
            if target is not None and captures_changed and captures_changed(name, target):
                target = None
            if target != name:
                renames[name] = target
    if not renames:
        return renames
    # Derived functions of a renumbered closure: new items, until nothing more follows.
    moved = set(renames) | {t for t in renames.values() if t is not None}
    for unit in new:
        refs = _references(unit.view)
        changed = True
        while changed:
            changed = False
            for name, callees in refs.items():
                if name in renames or _group(name) is not None:
                    continue
                if callees & moved and not _is_source_item(_decl(unit, name), sources):
                    renames[name] = None
                    moved.add(name)
                    changed = True
    return renames


def describe(renames: Mapping[str, str | None]) -> list[str]:
    """One line per rename, for a report."""
    out = []
    for name, target in sorted(renames.items()):
        new = demangle_or_raw(name)
        out.append(f"{new}: new item" if target is None
                   else f"{new}: is {demangle_or_raw(target)}")
    return out
