"""What the patch linker reads from an object's DWARF: function declarations, type layouts."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


@dataclass(frozen=True)
class FunctionDecl:
    """Where a defined function is declared in the source.

    `file` is relative to the compile unit's directory when under it (`src/env.rs`), else
    absolute (std's sources); `file` and `line` are None for a function DWARF gives no
    declaration for. `generic`: an instance of a generic item (the subprogram has template
    parameters), whose name says nothing about where its code came from. `path` is the
    qualified DWARF name (`demo::tally::{closure#1}`, `demo::{impl#0}::new`).
    """

    file: str | None
    line: int | None
    generic: bool
    path: str = ""


@dataclass(frozen=True)
class Field:
    """A member: its name (`__0` for a tuple field), byte offset, and readable type name."""

    name: str
    offset: int
    type: str

    @property
    def label(self) -> str:
        """The field as the source names it: `count`, or `0` for a tuple field."""
        return self.name[2:] if self.name.startswith("__") and self.name[2:].isdigit() \
            else self.name


@dataclass(frozen=True)
class Variant:
    """An enum variant. `discriminant` is None for the dataful variant of a niche-encoded
    enum (the one whose data holds the niche) and for a single-variant enum."""

    name: str
    discriminant: int | None
    fields: tuple[Field, ...] = ()


@dataclass(frozen=True)
class Discriminant:
    """Where an enum keeps its tag (or the niche it reads the variant from)."""

    offset: int
    size: int


class TypeKind(StrEnum):
    STRUCT = "struct"
    ENUM = "enum"
    UNION = "union"


@dataclass(frozen=True)
class TypeLayout:
    """The in-memory layout of a struct, enum or union, as rustc laid it out.

    `alignment` is 0 when DWARF doesn't give it. An enum has no `fields` of its own: its
    data is in its `variants`; a C-like enum has variants without fields.
    """

    kind: TypeKind
    size: int
    alignment: int
    fields: tuple[Field, ...] = ()
    discriminant: Discriminant | None = None
    variants: tuple[Variant, ...] = ()


@dataclass(frozen=True)
class DebugInfo:
    """One object's debug info. `functions`: linkage (mangled) name of each defined function
    -> its declaration; `types`: qualified path (`demo::value::Value`,
    `demo::value::Wrapper<i32>`) -> layout, for every type the object describes (std's
    included: filter by the path's first component)."""

    functions: Mapping[str, FunctionDecl] = field(default_factory=dict)
    types: Mapping[str, TypeLayout] = field(default_factory=dict)
