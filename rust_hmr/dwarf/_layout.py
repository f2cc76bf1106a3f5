"""Which types an edit laid out differently, said in the user's terms.

Values made before the edit live on in the app's memory (statics, thread-locals, the heap
behind them); new code reading them with a new layout would read garbage, so a changed
layout means a full reload, and its reason should say what changed: "enum demo::Value:
variant Float added before Str", not a symbol name. A type only one side has is no change
(no value of a type the live program lacks can exist).
"""

from collections.abc import Callable, Mapping, Set
from dataclasses import dataclass

from rust_hmr.dwarf._records import Field, TypeKind, TypeLayout, Variant


@dataclass(frozen=True)
class LayoutChange:
    """A type both sides define whose layout differs; `description` is one sentence."""

    path: str
    description: str


def layout_changes(old: Mapping[str, TypeLayout], new: Mapping[str, TypeLayout]
                   ) -> list[LayoutChange]:
    """The types of both `old` and `new` whose layouts differ, by path."""
    changed = {path for path in old.keys() & new.keys() if old[path] != new[path]}
    return [LayoutChange(path, change_text(path, old[path], new[path], changed))
            for path in sorted(changed)]


def change_text(path: str, old: TypeLayout, new: TypeLayout,
             changed: Set[str] = frozenset()) -> str:
    """One sentence on how `old` became `new`; `changed`: the paths of the other types whose
    layout changed, to name as the cause when a field holds one of them."""
    if old.kind is not new.kind:
        return f"{path}: was {_article(old.kind)}, is now {_article(new.kind)}{_sizes(old, new)}"
    phrases = _DIFFERENCES[new.kind](old, new) or _holders(old, new, changed)
    if phrases:
        return f"{new.kind} {path}: {', '.join(phrases)}{_sizes(old, new)}"
    return f"{new.kind} {path}: {', '.join(_fallback(old, new))}"


def _article(kind: TypeKind) -> str:
    return f"an {kind}" if kind is TypeKind.ENUM else f"a {kind}"


def _sizes(old: TypeLayout, new: TypeLayout) -> str:
    parts = []
    if old.size != new.size:
        parts.append(f"{old.size} → {new.size} bytes")
    if old.alignment != new.alignment:
        parts.append(f"alignment {old.alignment} → {new.alignment}")
    return f" ({', '.join(parts)})" if parts else ""


def _field_phrases(old: tuple[Field, ...], new: tuple[Field, ...], prefix: str = ""
                   ) -> list[str]:
    """Fields added, removed, or of another type; "fields reordered" if only their places
    changed."""
    before = {f.label: f for f in old}
    after = {f.label: f for f in new}
    phrases = [f"{prefix}field `{f.label}: {f.type}` added" for f in new if f.label not in before]
    phrases += [f"{prefix}field `{f.label}` removed" for f in old if f.label not in after]
    phrases += [f"{prefix}field `{f.label}` changed type from {before[f.label].type} to {f.type}"
                for f in new if f.label in before and before[f.label].type != f.type]
    if not phrases and [f.label for f in old] != [f.label for f in new]:
        phrases.append(f"{prefix}fields reordered")
    return phrases


def _struct(old: TypeLayout, new: TypeLayout) -> list[str]:
    return _field_phrases(old.fields, new.fields)


def _placed(name: str, new: list[str], before: set[str]) -> str:
    """Where an added variant sits, named by the old variants around it."""
    at = new.index(name)
    following = next((n for n in new[at + 1:] if n in before), None)
    if following is not None:
        return f"variant {name} added before {following}"
    preceding = next((n for n in reversed(new[:at]) if n in before), None)
    if preceding is not None:
        return f"variant {name} added after {preceding}"
    return f"variant {name} added"


def _enum(old: TypeLayout, new: TypeLayout) -> list[str]:
    old_names = [v.name for v in old.variants]
    new_names = [v.name for v in new.variants]
    before, after = set(old_names), set(new_names)
    phrases = [_placed(n, new_names, before) for n in new_names if n not in before]
    phrases += [f"variant {n} removed" for n in old_names if n not in after]
    if not phrases and old_names != new_names:
        phrases.append("variants reordered")
    old_variants = {v.name: v for v in old.variants}
    for variant in new.variants:
        was = old_variants.get(variant.name)
        if was is None:
            continue
        phrases += [p for p in _field_phrases(was.fields, variant.fields,
                                              f"variant {variant.name}: ")
                    if not p.endswith("fields reordered")]
        if (old_names == new_names and was.discriminant != variant.discriminant):
            phrases.append(f"discriminant of {variant.name} changed from "
                           f"{_value(was)} to {_value(variant)}")
    return phrases


def _value(variant: Variant) -> str:
    return "none (the dataful variant)" if variant.discriminant is None \
        else str(variant.discriminant)


def _holders(old: TypeLayout, new: TypeLayout, changed: Set[str]
             ) -> list[str]:
    """Fields whose (unchanged) type is one whose layout changed."""
    fields = [(f, "") for f in new.fields]
    fields += [(f, f"variant {v.name}: ") for v in new.variants for f in v.fields]
    return [f"{prefix}field `{f.label}` holds a {f.type}, whose layout changed"
            for f, prefix in fields if f.type in changed]


def _moves(old: tuple[Field, ...], new: tuple[Field, ...], prefix: str = "") -> list[str]:
    before = {f.label: f.offset for f in old}
    return [f"{prefix}field `{f.label}` moved from offset {before[f.label]} to {f.offset}"
            for f in new if f.label in before and before[f.label] != f.offset]


def _fallback(old: TypeLayout, new: TypeLayout) -> list[str]:
    """What differs when no field or variant was added, removed or retyped: sizes, places."""
    phrases = []
    if old.size != new.size:
        phrases.append(f"size {old.size} → {new.size} bytes")
    if old.alignment != new.alignment:
        phrases.append(f"alignment {old.alignment} → {new.alignment}")
    if old.discriminant != new.discriminant:
        phrases.append(f"discriminant moved from {_where(old)} to {_where(new)}")
    phrases += _moves(old.fields, new.fields)
    old_variants = {v.name: v for v in old.variants}
    for variant in new.variants:
        if variant.name in old_variants:
            phrases += _moves(old_variants[variant.name].fields, variant.fields,
                              f"variant {variant.name}: ")
    return phrases or ["layout changed"]


def _where(layout: TypeLayout) -> str:
    d = layout.discriminant
    return "nowhere" if d is None else f"offset {d.offset} ({d.size} bytes)"


_DIFFERENCES: dict[TypeKind, Callable[[TypeLayout, TypeLayout], list[str]]] = {
    TypeKind.STRUCT: _struct,
    TypeKind.UNION: _struct,
    TypeKind.ENUM: _enum,
}
