"""One walk over each compile unit's DIE tree, collecting subprograms and type DIEs; the
records are assembled once the walk is over, since a DIE may refer to one that comes later
(a concrete function to its declaration, a field to its type, an enum to its variants).

rustc's layout of the tree: types and functions sit in DW_TAG_namespace DIEs (one per path
component, `{impl#0}` for an impl block, the function's name for a closure's items); an enum
is a DW_TAG_structure_type holding a DW_TAG_variant_part (its tag member, then one
DW_TAG_variant per variant, whose member's type is a structure nested in the enum); a C-like
enum is a DW_TAG_enumeration_type. LLVM emits no DW_AT_sibling, so pyelftools parses every DIE
on the way anyway: subtrees we don't need are walked but not looked into.
"""

import posixpath
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from elftools.common.exceptions import DWARFError, ELFError
from elftools.construct.core import ConstructError
from elftools.dwarf.compileunit import CompileUnit
from elftools.dwarf.die import DIE
from elftools.dwarf.dwarfinfo import DWARFInfo

from rust_hmr.dwarf._errors import DwarfError
from rust_hmr.dwarf._records import (
    DebugInfo,
    Discriminant,
    Field,
    FunctionDecl,
    TypeKind,
    TypeLayout,
    Variant,
)
from rust_hmr.dwarf._sections import debug_sections, open_dwarf

Path = tuple[str, ...]
# pyelftools' DIE.tag: the tag's name, or its number when pyelftools has no name for it (None
# for a null entry).
Tag = str | int | None
# pyelftools' names for DW_TAG_template_type_parameter and DW_TAG_template_value_parameter.
_TEMPLATE_TAGS = frozenset({"DW_TAG_template_type_param", "DW_TAG_template_value_param"})
_MAX_TYPE_DEPTH = 32  # pointer/array chains deeper than this are malformed (or cyclic)


@dataclass
class _TypeDie:
    """A type DIE, enough to name it: `name` is qualified for named aggregates."""

    tag: Tag
    name: str | None
    target: int | None
    size: int | None
    counts: tuple[int | None, ...] = ()


@dataclass
class _Aggregate:
    """A struct, union or enum DIE; `variants`: (name, discriminant, type, offset)."""

    kind: TypeKind
    size: int
    alignment: int
    top: bool
    members: list[tuple[str, int, int | None]] = field(default_factory=list)
    discriminant: tuple[int, int | None] | None = None
    variants: list[tuple[str, int | None, int | None, int]] = field(default_factory=list)


@dataclass
class _Subprogram:
    linkage: str | None
    name: str | None
    path: Path
    file: int | None
    line: int | None
    generic: bool
    origin: int | None
    defined: bool


def _text(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _name(die: DIE) -> str | None:
    attr = die.attributes.get("DW_AT_name")
    return None if attr is None else _text(attr.value)


def _int(die: DIE, attr_name: str) -> int | None:
    attr = die.attributes.get(attr_name)
    return attr.value if attr is not None and isinstance(attr.value, int) else None


def _ref(die: DIE, attr_name: str) -> int | None:
    """The section offset a reference attribute points to."""
    attr = die.attributes.get(attr_name)
    if attr is None or not isinstance(attr.value, int):
        return None
    return attr.value if attr.form == "DW_FORM_ref_addr" else attr.value + die.cu.cu_offset


def _member_offset(die: DIE) -> int:
    attr = die.attributes.get("DW_AT_data_member_location")
    if attr is None:
        return 0
    if isinstance(attr.value, int):
        return attr.value
    # An expression: only the plain DW_OP_plus_uconst <uleb> old producers emit.
    raw: list[int] = list(attr.value)
    if raw and raw[0] == 0x23:
        value, shift = 0, 0
        for byte in raw[1:]:
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return value
    raise DwarfError(f"unsupported member location {raw!r} at DIE {die.offset:#x}")


def _qualified(path: Path, name: str) -> str:
    return "::".join((*path, name))


class _UnitReader:
    """The records of one compile unit."""

    def __init__(self, dwarf: DWARFInfo, cu: CompileUnit) -> None:
        self.dwarf = dwarf
        self.cu = cu
        self.types: dict[int, _TypeDie] = {}
        self.aggregates: dict[int, _Aggregate] = {}
        self.paths: dict[int, str] = {}
        self.subprograms: dict[int, _Subprogram] = {}
        self._names: dict[int, str] = {}

    # -- the walk ---------------------------------------------------------------------------

    def walk(self, parent: DIE, path: Path, top: bool) -> None:
        for die in parent.iter_children():
            handler = _HANDLERS.get(die.tag)
            if handler is not None:
                handler(self, die, path, top)

    def namespace(self, die: DIE, path: Path, top: bool) -> None:
        self.walk(die, (*path, _name(die) or "?"), top)

    def subprogram(self, die: DIE, path: Path, top: bool) -> None:
        line_attr = die.attributes.get("DW_AT_decl_line")
        linkage = die.attributes.get("DW_AT_linkage_name") \
            or die.attributes.get("DW_AT_MIPS_linkage_name")
        self.subprograms[die.offset] = _Subprogram(
            linkage=None if linkage is None else _text(linkage.value),
            name=_name(die),
            path=path,
            file=_int(die, "DW_AT_decl_file"),
            line=None if line_attr is None else line_attr.value,
            generic=any(c.tag in _TEMPLATE_TAGS for c in die.iter_children()),
            origin=_ref(die, "DW_AT_specification") or _ref(die, "DW_AT_abstract_origin"),
            defined="DW_AT_low_pc" in die.attributes or "DW_AT_ranges" in die.attributes,
        )

    def simple_type(self, die: DIE, path: Path, top: bool) -> None:
        self.types[die.offset] = _TypeDie(die.tag, _name(die), _ref(die, "DW_AT_type"),
                                          _int(die, "DW_AT_byte_size"))

    def array_type(self, die: DIE, path: Path, top: bool) -> None:
        counts = []
        for child in die.iter_children():
            if child.tag == "DW_TAG_subrange_type":
                count = _int(child, "DW_AT_count")
                upper = _int(child, "DW_AT_upper_bound")
                counts.append(count if count is not None else
                              None if upper is None else upper + 1)
        self.types[die.offset] = _TypeDie(die.tag, None, _ref(die, "DW_AT_type"), None,
                                          tuple(counts))

    def _named_type(self, die: DIE, path: Path, top: bool) -> tuple[str, str, int] | None:
        """(name, qualified path, size) of a named type's definition, recorded as a type;
        None for an unnamed type or a declaration (handled as a simple type)."""
        name = _name(die)
        if name is None or "DW_AT_declaration" in die.attributes:
            self.simple_type(die, path, top)
            return None
        qualified = _qualified(path, name)
        size = _int(die, "DW_AT_byte_size") or 0
        self.types[die.offset] = _TypeDie(die.tag, qualified, None, size)
        return name, qualified, size

    def aggregate(self, die: DIE, path: Path, top: bool) -> None:
        named = self._named_type(die, path, top)
        if named is None:
            return
        name, qualified, size = named
        kind = TypeKind.UNION if die.tag == "DW_TAG_union_type" else TypeKind.STRUCT
        agg = _Aggregate(kind, size, _int(die, "DW_AT_alignment") or 0, top)
        self.aggregates[die.offset] = agg
        self.paths[die.offset] = qualified
        inner = (*path, name)
        for child in die.iter_children():
            if child.tag == "DW_TAG_member":
                agg.members.append((_name(child) or "", _member_offset(child),
                                    _ref(child, "DW_AT_type")))
            elif child.tag == "DW_TAG_variant_part":
                agg.kind = TypeKind.ENUM
                self._variant_part(child, agg)
            else:
                handler = _HANDLERS.get(child.tag)
                if handler is not None:
                    handler(self, child, inner, False)

    def _variant_part(self, die: DIE, agg: _Aggregate) -> None:
        tag_member = _ref(die, "DW_AT_discr")
        for child in die.iter_children():
            if child.tag == "DW_TAG_member" and (tag_member is None or child.offset == tag_member):
                agg.discriminant = (_member_offset(child), _ref(child, "DW_AT_type"))
            elif child.tag == "DW_TAG_variant":
                value = _int(child, "DW_AT_discr_value")
                for member in child.iter_children():
                    if member.tag == "DW_TAG_member":
                        agg.variants.append((_name(member) or "", value,
                                             _ref(member, "DW_AT_type"), _member_offset(member)))

    def enumeration(self, die: DIE, path: Path, top: bool) -> None:
        named = self._named_type(die, path, top)
        if named is None:
            return
        _, qualified, size = named
        agg = _Aggregate(TypeKind.ENUM, size, _int(die, "DW_AT_alignment") or 0, top,
                         discriminant=(0, None))
        for child in die.iter_children():
            if child.tag == "DW_TAG_enumerator":
                agg.variants.append((_name(child) or "", _int(child, "DW_AT_const_value"),
                                     None, 0))
        self.aggregates[die.offset] = agg
        self.paths[die.offset] = qualified

    # -- assembling the records -------------------------------------------------------------

    def type_name(self, offset: int | None, depth: int = 0) -> str:
        """A readable name for the type at `offset`: `i32`, `*const u8`, `[u8; 4]`,
        `alloc::string::String`."""
        if offset is None:
            return "()"
        known = self._names.get(offset)
        if known is not None:
            return known
        die = self.types.get(offset)
        if die is None or depth > _MAX_TYPE_DEPTH:
            return "?"
        name = _NAMERS.get(die.tag, _named)(self, die, depth + 1)
        self._names[offset] = name
        return name

    def _fields(self, members: list[tuple[str, int, int | None]], base: int = 0
                ) -> tuple[Field, ...]:
        fields = (Field(n, base + off, self.type_name(t)) for n, off, t in members)
        return tuple(sorted(fields, key=lambda f: (f.offset, f.name)))

    def layout(self, agg: _Aggregate) -> TypeLayout:
        discriminant = None
        if agg.discriminant is not None:
            offset, tag_type = agg.discriminant
            size = agg.size if tag_type is None else self.types.get(tag_type, _NO_TYPE).size
            discriminant = Discriminant(offset, size or 0)
        variants = []
        for name, value, type_offset, offset in agg.variants:
            inner = self.aggregates.get(type_offset) if type_offset is not None else None
            fields = self._fields(inner.members, offset) if inner is not None else ()
            variants.append(Variant(name, value, fields))
        fields = () if agg.kind is TypeKind.ENUM else self._fields(agg.members)
        return TypeLayout(agg.kind, agg.size, agg.alignment, fields, discriminant,
                          tuple(variants))

    def _chain(self, sub: _Subprogram) -> Iterator[_Subprogram]:
        """The subprogram, then the declarations it completes (specification, abstract
        origin), nearest first."""
        seen = set()
        current: _Subprogram | None = sub
        while current is not None and id(current) not in seen:
            seen.add(id(current))
            yield current
            current = None if current.origin is None else self.subprograms.get(current.origin)

    def functions(self) -> dict[str, FunctionDecl]:
        files = _FileTable(self.dwarf, self.cu)
        out: dict[str, FunctionDecl] = {}
        for sub in self.subprograms.values():
            if not sub.defined:
                continue
            chain = list(self._chain(sub))
            linkage = next((s.linkage for s in chain if s.linkage), None)
            named = next((s for s in chain if s.name), None)
            key = linkage or (named.name if named else None)
            if key is None or key in out:
                continue
            declared = next((s for s in chain if s.file is not None), None)
            out[key] = FunctionDecl(
                file=None if declared is None or declared.file is None
                else files.path(declared.file),
                line=None if declared is None else declared.line,
                generic=any(s.generic for s in chain),
                path="" if named is None or named.name is None
                else _qualified(named.path, named.name),
            )
        return out

    def type_layouts(self) -> dict[str, TypeLayout]:
        out: dict[str, TypeLayout] = {}
        for offset, agg in self.aggregates.items():
            if agg.top:
                out.setdefault(self.paths[offset], self.layout(agg))
        return out


_NO_TYPE = _TypeDie("", None, None, None)


def _named(reader: _UnitReader, die: _TypeDie, depth: int) -> str:
    return die.name or "?"


def _pointer(prefix: str) -> Callable[[_UnitReader, _TypeDie, int], str]:
    def name(reader: _UnitReader, die: _TypeDie, depth: int) -> str:
        return die.name or f"{prefix}{reader.type_name(die.target, depth)}"
    return name


def _qualifier(reader: _UnitReader, die: _TypeDie, depth: int) -> str:
    return reader.type_name(die.target, depth)


def _array(reader: _UnitReader, die: _TypeDie, depth: int) -> str:
    name = reader.type_name(die.target, depth)
    for count in reversed(die.counts or (None,)):
        name = f"[{name}]" if count is None else f"[{name}; {count}]"
    return name


def _subroutine(reader: _UnitReader, die: _TypeDie, depth: int) -> str:
    return die.name or "fn"


_NAMERS: dict[Tag, Callable[[_UnitReader, _TypeDie, int], str]] = {
    "DW_TAG_pointer_type": _pointer("*const "),
    "DW_TAG_reference_type": _pointer("&"),
    "DW_TAG_rvalue_reference_type": _pointer("&&"),
    "DW_TAG_const_type": _qualifier,
    "DW_TAG_volatile_type": _qualifier,
    "DW_TAG_array_type": _array,
    "DW_TAG_subroutine_type": _subroutine,
}

_HANDLERS: dict[Tag, Callable[[_UnitReader, DIE, Path, bool], None]] = {
    "DW_TAG_namespace": _UnitReader.namespace,
    "DW_TAG_subprogram": _UnitReader.subprogram,
    "DW_TAG_structure_type": _UnitReader.aggregate,
    "DW_TAG_union_type": _UnitReader.aggregate,
    "DW_TAG_class_type": _UnitReader.aggregate,
    "DW_TAG_enumeration_type": _UnitReader.enumeration,
    "DW_TAG_array_type": _UnitReader.array_type,
    **{tag: _UnitReader.simple_type for tag in (
        "DW_TAG_base_type", "DW_TAG_pointer_type", "DW_TAG_reference_type",
        "DW_TAG_rvalue_reference_type", "DW_TAG_const_type", "DW_TAG_volatile_type",
        "DW_TAG_typedef", "DW_TAG_subroutine_type", "DW_TAG_unspecified_type")},
}


class _FileTable:
    """Decl-file numbers of one compile unit -> paths, relative to its comp_dir when under
    it (`src/env.rs`). The line program header is read on the first lookup."""

    def __init__(self, dwarf: DWARFInfo, cu: CompileUnit) -> None:
        self.dwarf = dwarf
        self.cu = cu
        self._paths: list[str | None] | None = None

    def path(self, index: int) -> str | None:
        paths = self._load()
        # DWARF 5 numbers files from 0; before, from 1 (0 meaning none).
        at = index if self.cu.header["version"] >= 5 else index - 1
        return paths[at] if 0 <= at < len(paths) else None

    def _load(self) -> list[str | None]:
        if self._paths is not None:
            return self._paths
        top = self.cu.get_top_DIE()
        comp_dir_attr = top.attributes.get("DW_AT_comp_dir")
        comp_dir = "" if comp_dir_attr is None else _text(comp_dir_attr.value)
        program = self.dwarf.line_program_for_CU(self.cu)
        if program is None:
            self._paths = []
            return self._paths
        version = program.header["version"]
        dirs = [_text(d) for d in program.header["include_directory"]]
        paths: list[str | None] = []
        for entry in program.header["file_entry"]:
            index = entry.dir_index if version >= 5 else entry.dir_index - 1
            directory = comp_dir if index < 0 else dirs[index] if index < len(dirs) else ""
            full = posixpath.normpath(posixpath.join(comp_dir, directory, _text(entry.name)))
            if comp_dir and full.startswith(comp_dir.rstrip("/") + "/"):
                full = full[len(comp_dir.rstrip("/")) + 1:]
            paths.append(full)
        self._paths = paths
        return paths


def _read_units(dwarf: DWARFInfo) -> DebugInfo:
    functions: dict[str, FunctionDecl] = {}
    types: dict[str, TypeLayout] = {}
    for cu in dwarf.iter_CUs():
        reader = _UnitReader(dwarf, cu)
        reader.walk(cu.get_top_DIE(), (), True)
        for key, decl in reader.functions().items():
            functions.setdefault(key, decl)
        for path, layout in reader.type_layouts().items():
            types.setdefault(path, layout)
    return DebugInfo(functions, types)


# What pyelftools raises on malformed bytes: its own errors, those of the construct library it
# parses with, and the built-in ones a bad offset or count runs into.
_DECODE_ERRORS = (ELFError, DWARFError, ConstructError, KeyError, IndexError, ValueError,
                  TypeError, AttributeError, AssertionError, NotImplementedError,
                  OverflowError, RecursionError, struct.error)


def read_debug_info(data: bytes) -> DebugInfo:
    """The functions and types a wasm object's DWARF describes (every compile unit's; the
    first to describe a type wins). No `.debug_info` gives an empty DebugInfo; malformed
    sections raise DwarfError."""
    return read_debug_sections(debug_sections(data))


def read_debug_sections(sections: dict[str, bytes]) -> DebugInfo:
    """`read_debug_info` of an object whose `.debug_*` sections are `sections`: what it
    gives depends on them alone."""
    dwarf = open_dwarf(sections)
    if dwarf is None:
        return DebugInfo()
    try:
        return _read_units(dwarf)
    except DwarfError:
        raise
    except _DECODE_ERRORS as err:
        raise DwarfError(f"malformed DWARF: {type(err).__name__}: {err}") from None
