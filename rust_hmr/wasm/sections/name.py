"""The `name` custom section: debug names of the module, functions, locals and more.

Subsections are kept in file order; those this reader does not know stay raw bytes.
"""

from dataclasses import dataclass, field
from enum import IntEnum
from typing import cast

from rust_hmr.wasm.reader import Reader
from rust_hmr.wasm.writer import Writer


class NameKind(IntEnum):
    MODULE = 0
    FUNCTION = 1
    LOCAL = 2
    LABEL = 3
    TYPE = 4
    TABLE = 5
    MEMORY = 6
    GLOBAL = 7
    ELEMENT = 8
    DATA = 9
    FIELD = 10
    TAG = 11


NameMap = dict[int, str]
IndirectNameMap = dict[int, NameMap]
_INDIRECT = frozenset({NameKind.LOCAL, NameKind.LABEL, NameKind.FIELD})


@dataclass
class NameSection:
    """`subsections` maps a subsection id to its value, in file order: a str for MODULE, an
    IndirectNameMap for LOCAL/LABEL/FIELD, a NameMap for the others, bytes when unknown."""

    subsections: dict[int, str | NameMap | IndirectNameMap | bytes] = field(default_factory=dict)

    @property
    def module(self) -> str | None:
        value = self.subsections.get(NameKind.MODULE)
        return value if isinstance(value, str) else None

    @property
    def functions(self) -> NameMap:
        return self._name_map(NameKind.FUNCTION)

    @property
    def globals(self) -> NameMap:
        return self._name_map(NameKind.GLOBAL)

    def _name_map(self, kind: NameKind) -> NameMap:
        value = self.subsections.get(kind)
        # A dict is a NameMap or an IndirectNameMap; which one is the kind's (see read_names).
        return cast(NameMap, value) if isinstance(value, dict) else {}


def read_name_map(r: Reader) -> NameMap:
    names: NameMap = {}
    for _ in range(r.count("name map entry", min_item_size=2)):
        index = r.u32("name index")
        names[index] = r.name("debug name")
    return names


def write_name_map(w: Writer, names: NameMap) -> None:
    w.u32(len(names))
    for index, text in names.items():
        w.u32(index)
        w.name(text)


def read_indirect_name_map(r: Reader) -> IndirectNameMap:
    result: IndirectNameMap = {}
    for _ in range(r.count("indirect name map entry", min_item_size=2)):
        index = r.u32("name index")
        result[index] = read_name_map(r)
    return result


def write_indirect_name_map(w: Writer, maps: IndirectNameMap) -> None:
    w.u32(len(maps))
    for index, names in maps.items():
        w.u32(index)
        write_name_map(w, names)


_KNOWN = {int(k) for k in NameKind}


def read_names(r: Reader) -> NameSection:
    section = NameSection()
    while not r.at_end():
        kind = r.u8("name subsection id")
        if kind in section.subsections:
            raise r.error(f"duplicate name subsection {kind}")
        sub = r.sub(r.u32("name subsection size"), "name subsection")
        if kind == NameKind.MODULE:
            section.subsections[kind] = sub.name("module name")
        elif kind in _INDIRECT:
            section.subsections[kind] = read_indirect_name_map(sub)
        elif kind in _KNOWN:
            section.subsections[kind] = read_name_map(sub)
        else:
            section.subsections[kind] = sub.raw(sub.remaining)
        sub.expect_end(f"name subsection {kind}")
    return section


def write_names(w: Writer, section: NameSection) -> None:
    for kind, value in section.subsections.items():
        body = Writer()
        if isinstance(value, bytes):
            body.raw(value)
        elif isinstance(value, str):
            body.name(value)
        # A dict is a NameMap or an IndirectNameMap: the kind says which (see read_names).
        elif kind in _INDIRECT:
            write_indirect_name_map(body, cast(IndirectNameMap, value))
        else:
            write_name_map(body, cast(NameMap, value))
        w.u8(kind)
        w.sized(body.getvalue())
