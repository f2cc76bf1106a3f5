"""The `linking` custom section (version 2) of relocatable objects.

Format: https://github.com/WebAssembly/tool-conventions/blob/main/Linking.md#linking-metadata-section
Subsections: segment info, init functions, comdats, the symbol table. Unknown subsections are
kept as raw bytes so a rewrite never drops them.
"""

from collections.abc import Sized
from dataclasses import dataclass, field
from enum import KEEP, IntEnum, IntFlag

from rust_hmr.wasm.errors import WasmDecodeError, bad_byte
from rust_hmr.wasm.leb128 import encode_unsigned
from rust_hmr.wasm.reader import Reader
from rust_hmr.wasm.writer import Writer

LINKING_VERSION = 2


class Subsection(IntEnum):
    SEGMENT_INFO = 5
    INIT_FUNCS = 6
    COMDAT_INFO = 7
    SYMBOL_TABLE = 8


class SymbolKind(IntEnum):
    FUNCTION = 0
    DATA = 1
    GLOBAL = 2
    SECTION = 3
    TAG = 4  # called EVENT in older documents
    TABLE = 5

    def __str__(self) -> str:
        return self.name.lower()


class SymbolFlags(IntFlag, boundary=KEEP):
    """Symbol flags; bits this version does not know are kept."""

    BINDING_WEAK = 0x1
    BINDING_LOCAL = 0x2
    VISIBILITY_HIDDEN = 0x4
    UNDEFINED = 0x10
    EXPORTED = 0x20
    EXPLICIT_NAME = 0x40
    NO_STRIP = 0x80
    TLS = 0x100
    ABSOLUTE = 0x200


_KINDS = {int(k): k for k in SymbolKind}


@dataclass(frozen=True)
class Symbol:
    """One symbol-table entry.

    `index` is the function/global/table/tag index, or the section index for SECTION symbols.
    `name` is None where the format leaves it out (an undefined symbol without EXPLICIT_NAME
    takes its import's name; section symbols are named by their section). Defined data symbols
    have `segment`, `offset` (within the segment) and `size`.
    """

    kind: SymbolKind
    flags: SymbolFlags
    name: str | None = None
    index: int | None = None
    segment: int | None = None
    offset: int | None = None
    size: int | None = None

    @property
    def defined(self) -> bool:
        return not self.flags & SymbolFlags.UNDEFINED

    @property
    def local(self) -> bool:
        return bool(self.flags & SymbolFlags.BINDING_LOCAL)


@dataclass(frozen=True)
class SegmentInfo:
    name: str
    alignment: int  # log2 of the alignment in bytes
    flags: int


@dataclass(frozen=True)
class InitFunc:
    priority: int
    symbol: int


@dataclass(frozen=True)
class Comdat:
    name: str
    flags: int
    members: tuple[tuple[int, int], ...]  # (kind: 0 data, 1 function, 2 global/section..., index)


@dataclass
class Linking:
    """The decoded section; `order` keeps the subsections' original order for writing back."""

    version: int = LINKING_VERSION
    symbols: list[Symbol] = field(default_factory=list)
    segments: list[SegmentInfo] = field(default_factory=list)
    init_funcs: list[InitFunc] = field(default_factory=list)
    comdats: list[Comdat] = field(default_factory=list)
    unknown: dict[int, bytes] = field(default_factory=dict)
    order: list[int] = field(default_factory=list)
    size_widths: dict[int, int] = field(default_factory=dict)
    """Width of each subsection's size field as read: LLVM pads them to 5 bytes."""


def _has_name(kind: SymbolKind, flags: int) -> bool:
    if kind is SymbolKind.DATA:
        return True
    if kind is SymbolKind.SECTION:
        return False
    return not flags & SymbolFlags.UNDEFINED or bool(flags & SymbolFlags.EXPLICIT_NAME)


def read_symbol(r: Reader) -> Symbol:
    byte = r.u8("symbol kind")
    kind = _KINDS.get(byte)
    if kind is None:
        raise bad_byte("symbol kind", byte, r.offset - 1)
    flags = SymbolFlags(r.u32("symbol flags"))
    if kind is SymbolKind.SECTION:
        return Symbol(kind, flags, index=r.u32("section symbol index"))
    if kind is SymbolKind.DATA:
        name = r.name("data symbol name")
        if flags & SymbolFlags.UNDEFINED:
            return Symbol(kind, flags, name)
        segment = r.u32("data symbol segment")
        offset = r.u32("data symbol offset")
        return Symbol(kind, flags, name, segment=segment, offset=offset, size=r.u32("data size"))
    index = r.u32(f"{kind} symbol index")
    return Symbol(kind, flags, r.name("symbol name") if _has_name(kind, flags) else None, index)


def write_symbol(w: Writer, s: Symbol) -> None:
    w.u8(s.kind)
    w.u32(int(s.flags))
    if s.kind is SymbolKind.SECTION:
        w.u32(s.index or 0)
        return
    if s.kind is SymbolKind.DATA:
        w.name(s.name or "")
        if s.defined:
            w.u32(s.segment or 0)
            w.u32(s.offset or 0)
            w.u32(s.size or 0)
        return
    w.u32(s.index or 0)
    if _has_name(s.kind, s.flags):
        w.name(s.name or "")


def read_segment_info(r: Reader) -> SegmentInfo:
    return SegmentInfo(r.name("segment name"), r.u32("segment alignment"), r.u32("segment flags"))


def _write_segment_info(w: Writer, s: SegmentInfo) -> None:
    w.name(s.name)
    w.u32(s.alignment)
    w.u32(s.flags)


def _write_init_func(w: Writer, f: InitFunc) -> None:
    w.u32(f.priority)
    w.u32(f.symbol)


def _read_comdat(r: Reader) -> Comdat:
    name = r.name("comdat name")
    flags = r.u32("comdat flags")
    members = r.vec(lambda r: (r.u8("comdat member kind"), r.u32("comdat member index")),
                    "comdat member")
    return Comdat(name, flags, tuple(members))


def read_linking(r: Reader) -> Linking:
    start = r.offset
    version = r.u32("linking version")
    if version != LINKING_VERSION:
        raise WasmDecodeError(
            f"unsupported linking section version {version} (expected {LINKING_VERSION})", start)
    linking = Linking(version)
    while not r.at_end():
        kind = r.u8("linking subsection type")
        size_at = r.pos
        size = r.u32("linking subsection size")
        linking.size_widths[kind] = r.pos - size_at
        sub = r.sub(size, "linking subsection")
        linking.order.append(kind)
        if kind == Subsection.SYMBOL_TABLE:
            linking.symbols = sub.vec(read_symbol, "symbol")
        elif kind == Subsection.SEGMENT_INFO:
            linking.segments = sub.vec(read_segment_info, "segment info")
        elif kind == Subsection.INIT_FUNCS:
            linking.init_funcs = sub.vec(
                lambda r: InitFunc(r.u32("init priority"), r.u32("init symbol")), "init func")
        elif kind == Subsection.COMDAT_INFO:
            linking.comdats = sub.vec(_read_comdat, "comdat")
        else:
            linking.unknown[kind] = sub.raw(sub.remaining)
            continue
        sub.expect_end(f"linking subsection {kind}")
    return linking


def _write_subsection(w: Writer, linking: Linking, kind: int) -> None:
    body = Writer()
    if kind == Subsection.SYMBOL_TABLE:
        body.vec(linking.symbols, write_symbol)
    elif kind == Subsection.SEGMENT_INFO:
        body.vec(linking.segments, _write_segment_info)
    elif kind == Subsection.INIT_FUNCS:
        body.vec(linking.init_funcs, _write_init_func)
    elif kind == Subsection.COMDAT_INFO:
        body.vec(linking.comdats, _write_comdat)
    else:
        body.raw(linking.unknown[kind])
    payload = body.getvalue()
    width = linking.size_widths.get(kind)
    if width is not None and len(payload) >= 1 << (7 * width):
        width = None
    w.u8(kind)
    w.raw(encode_unsigned(len(payload), width))
    w.raw(payload)


def _write_comdat(w: Writer, c: Comdat) -> None:
    w.name(c.name)
    w.u32(c.flags)
    w.vec(c.members, _write_comdat_member)


def _write_comdat_member(w: Writer, member: tuple[int, int]) -> None:
    kind, index = member
    w.u8(kind)
    w.u32(index)


def write_linking(w: Writer, linking: Linking) -> None:
    w.u32(linking.version)
    order = linking.order or [k for k in (Subsection.SEGMENT_INFO, Subsection.INIT_FUNCS,
                                          Subsection.COMDAT_INFO, Subsection.SYMBOL_TABLE)
                              if _present(linking, k)]
    for kind in order:
        _write_subsection(w, linking, kind)


def _present(linking: Linking, kind: int) -> bool:
    lists: dict[int, Sized] = {Subsection.SYMBOL_TABLE: linking.symbols, Subsection.SEGMENT_INFO:
                               linking.segments, Subsection.INIT_FUNCS: linking.init_funcs,
                               Subsection.COMDAT_INFO: linking.comdats}
    return bool(lists[kind])
