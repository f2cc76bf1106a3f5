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
from rust_hmr.link.outcomes import PatchRefused
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


def _outside_brackets(path: str) -> str:
    """The path without its generic arguments and qualified-self parts (`<...>`)."""
    out, depth = [], 0
    for ch in path:
        if ch == "<":
            depth += 1
        elif ch == ">" and depth:
            depth -= 1
        elif not depth:
            out.append(ch)
    return "".join(out)


def _group(name: str) -> str | None:
    """The path an index-named item shares with its siblings, or None for other items (a
    generic instance over a closure, `drop_in_place<…{{closure}}>`, is not one: it is
    derived)."""
    path = demangle_or_raw(name, hash=False)
    own = _outside_brackets(path)
    return path if any(own.endswith(marker) for marker in INDEX_NAMED) else None


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
    # is the same item only while nothing in the group was renumbered, and only for a closure
    # alone on its line (two on one line may have swapped places).
    old_by_name = {d.name: d for d in old}
    settled = (len(old) == len(new) and all(k == v for k, v in result.items()))
    for decl in pending:
        before = old_by_name.get(decl.name)
        same = (settled and before is not None and decl.name not in taken
                and _mapped_line(before, sources) is None
                and _alone(before, old) and _alone(decl, new))
        result[decl.name] = decl.name if same else None
        if same:
            taken.add(decl.name)
    return result


def _alone(decl: Decl, group: list[Decl]) -> bool:
    """No other item of the group is declared on `decl`'s line (or DWARF gives no line)."""
    return decl.line is not None and not any(
        d.name != decl.name and d.file == decl.file and d.line == decl.line for d in group)


def _parent(group: str) -> str:
    for marker in INDEX_NAMED:
        group = group.removesuffix(f"::{marker}")
    return group


_USER_DEPTH = 3  # callers followed up from a closure to a function pointers may reach


def _users(name: str, callers: list[dict[str, set[str]]]) -> set[str]:
    """`name` and the functions that call it, their callers and so on, a few levels up:
    a boxed closure is reached through its shims, a closure it owns through it."""
    found, frontier = {name}, {name}
    for _ in range(_USER_DEPTH):
        frontier = {f for refs in callers for f, callees in refs.items()
                    if callees & frontier} - found
        found |= frontier
    return found


def _refuse_unsure(group: str, old: list[Decl], matched: Mapping[str, str | None],
                   callers: Callable[[], list[dict[str, set[str]]]],
                   reachable: Callable[[str], bool] | None) -> None:
    """`callers()`: the live units' references (computed only when needed)."""
    if None not in matched.values():
        return
    kept = {t for t in matched.values() if t is not None}
    for decl in old:
        if decl.name in kept:
            continue
        if reachable is None or any(map(reachable, _users(decl.name, callers()))):
            where = f" at {decl.file}:{decl.line}" if decl.line else ""
            how = ("changed" if len(old) == len(matched) else
                   "changed while closures beside it were added or removed")
            raise PatchRefused(
                f"the closure of {_parent(group)}{where} {how}, and which closure of the new "
                "code it is can't be told for sure; values made from it before the edit "
                "live in the app's state")


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


def _in_crate(decl: Decl, sources: SourceHistory) -> bool:
    return decl.file is not None and sources.map_for(decl.file) is not None


def _is_source_item(decl: Decl, sources: SourceHistory) -> bool:
    """A function declared in the crate's own text and not a generic instance: its name is
    its path, whatever its callees are called."""
    return (decl.file is not None and not decl.generic
            and sources.map_for(decl.file) is not None)


def match(old: list[Unit], new: list[Unit], sources: SourceHistory,
          captures_changed: Callable[[str, str], bool] | None = None,
          reachable: Callable[[str], bool] | None = None) -> dict[str, str | None]:
    """The renames of this edit: each new function name that is not the live item of the same
    name -> the live item's name, or None (a new item). Names absent are the same item.

    `captures_changed(new, old)` says whether a closure matched to a live one captures
    differently (its environment's layout changed): it is then a new item, so that closures
    made before the edit, boxed in the app's state, keep running the code that reads their
    environment right.

    `reachable(name)` says whether values made before the edit can lead to a live function
    (a pointer to it, or to a shim of it, exists): a live closure left without a match while a
    new one has none either may be that closure changed, and its values would keep the old
    code: `PatchRefused` then, rather than a guess."""
    old_groups, new_groups = _groups(old), _groups(new)
    renames: dict[str, str | None] = {}
    old_references: list[dict[str, set[str]]] = []

    def callers() -> list[dict[str, set[str]]]:
        if not old_references and old:
            old_references.extend(_references(u.view) for u in old)
        return old_references

    for group, decls in new_groups.items():
        if not any(_in_crate(d, sources) for d in decls):
            continue  # a dependency's closure (a new generic instance): its text didn't move
        old_decls = old_groups.get(group, [])
        matched = _match_group(old_decls, decls, sources)
        for name, target in matched.items():
            if target is not None and captures_changed and captures_changed(name, target):
                if reachable is None or reachable(target):
                    raise PatchRefused(
                        f"a closure of {_parent(group)} captures other values now: closures "
                        "made before the edit, held in the app's state, carry the old ones")
                matched[name] = target = None
            if target != name:
                renames[name] = target
        _refuse_unsure(group, old_decls, matched, callers, reachable)
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

