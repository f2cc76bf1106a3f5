"""Fast scans of the large tables of a linked debug module, as plain tuples.

The section readers build one frozen dataclass per entry and check each value on the way, which
is right for objects and tools but costs seconds on a large app's main module (60k symbols,
200k code relocations, 40k function names, 35k exports). The prepare step needs only a few
fields of each, once; these scans read just those, with the short LEB128 cases inline.
Relocations, whose every field is a LEB128, are checked and picked out by regular expressions
(in C), and only the numbers asked for are decoded. `custom_section` finds a section from the
headers alone, so an object's `linking` section can be read without the rest of the file. The
scans agree with the readers on every well-formed input (tests/test_wasm_scan.py checks that
against real modules) and raise `WasmDecodeError` on truncated or overlong input; anything
subtler is left to the readers, which a stage can still call.
"""

import mmap
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from itertools import repeat
from typing import Literal

from rust_hmr.wasm.errors import WasmDecodeError
from rust_hmr.wasm.reader import Reader
from rust_hmr.wasm.sections.linking import (
    LINKING_VERSION,
    SegmentInfo,
    Subsection,
    SymbolFlags,
    SymbolKind,
    read_segment_info,
)
from rust_hmr.wasm.sections.reloc import _WITH_ADDEND, RelocType

RawSymbol = tuple[int, int, str | None, int, int, int, int]
"""(kind, flags, name, index, segment, offset, size): -1 where the entry has no such field."""

_UNDEFINED = int(SymbolFlags.UNDEFINED)
_EXPLICIT_NAME = int(SymbolFlags.EXPLICIT_NAME)
_FUNCTION, _DATA, _SECTION = int(SymbolKind.FUNCTION), int(SymbolKind.DATA), \
    int(SymbolKind.SECTION)
_KNOWN_KINDS = frozenset(int(k) for k in SymbolKind)
_ADDEND_TYPES = frozenset(int(t) for t in _WITH_ADDEND)


def uleb(data: "bytes | mmap.mmap", pos: int, base: int) -> tuple[int, int]:
    """An unsigned LEB128 of at most 5 bytes (a u32) at `pos`; (value, next position)."""
    result = shift = 0
    for i in range(5):
        byte = data[pos + i]
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            if result >> 32:
                raise WasmDecodeError("LEB128 value overflows 32 bits", base + pos)
            return result, pos + i + 1
    raise WasmDecodeError("LEB128 longer than 5 bytes", base + pos)


def _check_end(pos: int, end: int, what: str, base: int) -> None:
    if pos != end:
        raise WasmDecodeError(f"{what}: {end - pos} byte(s) left over or missing", base + pos)


@dataclass(frozen=True)
class ScannedLinking:
    """What a `linking` section says about symbols and segments (comdats and init functions
    are skipped)."""

    symbols: list[RawSymbol] = field(default_factory=list)
    segments: list[SegmentInfo] = field(default_factory=list)


def linking(payload: bytes, base: int = 0) -> ScannedLinking:
    """The symbol table (one `RawSymbol` per entry) and segment infos of a `linking` payload."""
    try:
        return _linking(payload, base)
    except (IndexError, UnicodeDecodeError):
        raise WasmDecodeError("linking section cut short, or a name not UTF-8",
                              base + len(payload)) from None


def _linking(data: bytes, base: int) -> ScannedLinking:
    version, pos = uleb(data, 0, base)
    if version != LINKING_VERSION:
        raise WasmDecodeError(f"unsupported linking section version {version} (expected "
                              f"{LINKING_VERSION})", base)
    symbols: list[RawSymbol] = []
    segments: list[SegmentInfo] = []
    end = len(data)
    while pos < end:
        kind = data[pos]
        size, pos = uleb(data, pos + 1, base)
        if pos + size > end:
            raise IndexError
        if kind == Subsection.SYMBOL_TABLE:
            symbols = _symbol_table(data, pos, pos + size, base)
        elif kind == Subsection.SEGMENT_INFO:
            sub = Reader(data, pos, pos + size, base)
            segments = sub.vec(read_segment_info, "segment info")
            sub.expect_end("segment info")
        pos += size
    _check_end(pos, end, "linking section", base)
    return ScannedLinking(symbols, segments)


def _symbol_table(data: bytes, pos: int, end: int, base: int) -> list[RawSymbol]:
    count, pos = uleb(data, pos, base)
    out: list[RawSymbol] = []
    append = out.append
    name: str | None
    for _ in range(count):
        kind = data[pos]
        flags = data[pos + 1]
        pos += 2
        if flags & 0x80:
            flags, pos = uleb(data, pos - 1, base)
        if kind == _DATA:
            n = data[pos]
            pos += 1
            if n & 0x80:
                n, pos = uleb(data, pos - 1, base)
            name = data[pos : pos + n].decode()
            pos += n
            if flags & _UNDEFINED:
                append((kind, flags, name, -1, -1, -1, -1))
                continue
            segment, pos = uleb(data, pos, base)
            offset, pos = uleb(data, pos, base)
            size, pos = uleb(data, pos, base)
            append((kind, flags, name, -1, segment, offset, size))
            continue
        if kind not in _KNOWN_KINDS:
            raise WasmDecodeError(f"unexpected symbol kind {kind:#04x}", base + pos - 2)
        index = shift = 0
        while True:  # inline: function indices take up to 3 bytes
            byte = data[pos]
            pos += 1
            index |= (byte & 0x7F) << shift
            if byte < 0x80:
                break
            shift += 7
        if shift > 28 or index >> 32:
            raise WasmDecodeError("symbol index: LEB128 overflows 32 bits", base + pos)
        name = None
        if kind != _SECTION and (not flags & _UNDEFINED or flags & _EXPLICIT_NAME):
            n = data[pos]
            pos += 1
            if n & 0x80:
                n, pos = uleb(data, pos - 1, base)
            name = data[pos : pos + n].decode()
            pos += n
        append((kind, flags, name, index, -1, -1, -1))
    _check_end(pos, end, "symbol table", base)
    return out


def defined_functions(payload: bytes, base: int = 0) -> list[str]:
    """The names of the functions a `linking` payload's symbol table defines (read without
    building the other symbols' entries)."""
    try:
        at = _subsection(payload, Subsection.SYMBOL_TABLE, base)
        return [] if at is None else _defined_function_names(payload, *at, base)
    except (IndexError, UnicodeDecodeError):
        raise WasmDecodeError("linking section cut short, or a name not UTF-8",
                              base + len(payload)) from None


def _subsection(data: bytes, wanted: int, base: int) -> tuple[int, int] | None:
    """(start, end) of the first subsection of kind `wanted` in a `linking` payload."""
    version, pos = uleb(data, 0, base)
    if version != LINKING_VERSION:
        raise WasmDecodeError(f"unsupported linking section version {version} (expected "
                              f"{LINKING_VERSION})", base)
    while pos < len(data):
        kind = data[pos]
        size, pos = uleb(data, pos + 1, base)
        if pos + size > len(data):
            raise IndexError
        if kind == wanted:
            return pos, pos + size
        pos += size
    _check_end(pos, len(data), "linking section", base)
    return None


def _defined_function_names(data: bytes, pos: int, end: int, base: int) -> list[str]:
    """The loop of `_symbol_table`, keeping only the names of defined functions: the other
    entries' indices and data fields are stepped over, not decoded."""
    count, pos = uleb(data, pos, base)
    out: list[str] = []
    append = out.append
    for _ in range(count):
        kind = data[pos]
        flags = data[pos + 1]
        pos += 2
        if flags & 0x80:
            flags, pos = uleb(data, pos - 1, base)
        if kind == _DATA:
            n, pos = _name_length(data, pos, base)
            pos += n
            if not flags & _UNDEFINED:
                pos = _skip_lebs(data, pos, 3, base)  # segment, offset, size
            continue
        if kind not in _KNOWN_KINDS:
            raise WasmDecodeError(f"unexpected symbol kind {kind:#04x}", base + pos - 2)
        start = pos
        while data[pos] & 0x80:  # the index, stepped over inline
            pos += 1
        pos += 1
        if pos - start > 5:
            raise WasmDecodeError("symbol index: LEB128 longer than 5 bytes", base + start)
        if kind == _SECTION or (flags & _UNDEFINED and not flags & _EXPLICIT_NAME):
            continue
        n = data[pos]
        pos += 1
        if n & 0x80:
            n, pos = _name_length(data, pos - 1, base)
        if kind == _FUNCTION and not flags & _UNDEFINED:
            append(data[pos : pos + n].decode())
        pos += n
    _check_end(pos, end, "symbol table", base)
    return out


def _name_length(data: bytes, pos: int, base: int) -> tuple[int, int]:
    """A name's length at `pos` (one or two bytes for any name but a huge one)."""
    n = data[pos]
    if n < 0x80:
        return n, pos + 1
    second = data[pos + 1]
    if second < 0x80:
        return n & 0x7F | second << 7, pos + 2
    return uleb(data, pos, base)


def _skip_lebs(data: bytes, pos: int, n: int, base: int) -> int:
    """Where the `n` LEB128 u32s at `pos` end (their values are not needed)."""
    for _ in range(n):
        start = pos
        while data[pos] & 0x80:
            pos += 1
        pos += 1
        if pos - start > 5:
            raise WasmDecodeError("LEB128 longer than 5 bytes", base + start)
    return pos


def custom_section(data: "bytes | mmap.mmap", name: str) -> tuple[int, int] | None:
    """(start, end) of the payload of the first custom section called `name` in a whole wasm
    file, found from the section headers alone (`data` may be a memory map of the file, so the
    other sections are never read)."""
    wanted = name.encode()
    pos, end = 8, len(data)
    try:
        while pos < end:
            size, body = uleb(data, pos + 1, 0)
            if data[pos] == 0:
                n, at = uleb(data, body, 0)
                if data[at : at + n] == wanted:
                    return at + n, body + size
            pos = body + size
    except IndexError:
        raise WasmDecodeError("section header cut short", end) from None
    if pos != end:
        raise WasmDecodeError("the last section runs past the end of the file", end)
    return None


def relocations(payload: bytes, wanted: int, base: int = 0) -> list[tuple[int, int]]:
    """(offset, symbol index) of each relocation of type `wanted` in a `reloc.*` payload."""
    return list(zip(*relocation_columns(payload, wanted, base), strict=True))


def relocation_columns(payload: bytes, wanted: int, base: int = 0,
                       ) -> tuple[list[int], list[int]]:
    """The offsets and the symbol indices of the relocations of type `wanted` in a `reloc.*`
    payload, as two lists.

    Every field of an entry is a LEB128 (the type a one-byte one), so the entries form a
    regular language: one regular expression checks the whole payload and another picks out
    the `wanted` entries, both in C; only those entries' two numbers are decoded here."""
    found = _picker(wanted, True).findall(payload, _entries_start(payload, base))
    while found and not found[-1][0]:
        found.pop()  # the match at the end, with nothing captured
    if not found:
        return [], []
    offsets, indices = zip(*found, strict=True)
    return _leb_values(offsets), _leb_values(indices)


def relocation_offsets(payload: bytes, wanted: int, base: int = 0) -> list[int]:
    """The offsets of the relocations of type `wanted` in a `reloc.*` payload (the first
    column of `relocation_columns`, the symbols left undecoded)."""
    found = _picker(wanted, False).findall(payload, _entries_start(payload, base))
    while found and not found[-1]:
        found.pop()  # the match at the end, with nothing captured
    return _leb_values(found)


def _entries_start(payload: bytes, base: int) -> int:
    """Where the entries of a `reloc.*` payload begin, once they are checked to be as many
    well-formed entries as its count says."""
    try:
        _, pos = uleb(payload, 0, base)  # the target section
        count, pos = uleb(payload, pos, base)
    except IndexError:
        raise WasmDecodeError("relocation section cut short", base + len(payload)) from None
    if count * 3 > len(payload) - pos or _entries(count).fullmatch(payload, pos) is None:
        raise _bad_relocation(payload, pos, count, base)
    return pos


# An unsigned LEB128 of at most 32 bits; a signed one of at most 10 bytes (the addend).
_U32 = rb"(?:[\x80-\xff]{0,3}[\x00-\x7f]|[\x80-\xff]{4}[\x00-\x0f])"
_S64 = rb"[\x80-\xff]{0,9}[\x00-\x7f]"
_ANY_LEB = rb"[\x80-\xff]*[\x00-\x7f]"
_ALL_TYPES = frozenset(int(t) for t in RelocType)
_LITTLE: Literal["little"] = "little"


def _type_class(types: Iterable[int]) -> bytes:
    return b"[" + b"".join(re.escape(bytes([t])) for t in sorted(types)) + b"]"


def _entry_pattern(types: frozenset[int], u32: bytes = _U32, s64: bytes = _S64) -> bytes:
    """An entry of one of `types`: type, offset, index and, for the types that have one, the
    addend."""
    branches = [_type_class(kinds) + u32 + u32 + tail for kinds, tail in (
        (types - _ADDEND_TYPES, b""), (types & _ADDEND_TYPES, s64)) if kinds]
    return b"(?:" + b"|".join(branches) + b")"


@cache
def _entry() -> re.Pattern[bytes]:
    return re.compile(_entry_pattern(_ALL_TYPES))


def _entries(count: int) -> re.Pattern[bytes]:
    """Exactly `count` entries (compiled per count; `re` keeps the recent ones)."""
    return re.compile(b"(?:%s){%d}+" % (_entry_pattern(_ALL_TYPES), count))


@cache
def _picker(wanted: int, with_index: bool) -> re.Pattern[bytes]:
    """From an entry boundary: the other entries, then one `wanted` entry, its offset (and
    index) captured, or the end. It matches at every boundary of a valid payload, so `findall`
    never tries a position inside an entry; and it runs on payloads `_entries` has checked,
    so a LEB128 is any run of continuation bytes and its last byte."""
    others = _entry_pattern(_ALL_TYPES - {wanted}, _ANY_LEB, _ANY_LEB)
    tail = _ANY_LEB if wanted in _ADDEND_TYPES else b""
    index = b"(" + _ANY_LEB + b")" if with_index else _ANY_LEB
    own = re.escape(bytes([wanted])) + b"(" + _ANY_LEB + b")" + index + tail
    return re.compile(b"(?:%s)*+(?:%s|\\Z)" % (others, own))


def _leb_values(encoded: Sequence[bytes]) -> list[int]:
    """The values of LEB128 u32s (at most 5 bytes each, as the patterns above allow): two
    bytes at a time through a table of what each pair of bytes holds."""
    pairs = _seven_bit_pairs()
    numbers = map(int.from_bytes, encoded, repeat(_LITTLE))
    if max(map(len, encoded), default=0) < 5:  # below 2**28: no fifth byte
        return [pairs[v & 0xFFFF] | pairs[v >> 16] << 14 for v in numbers]
    return [pairs[v & 0xFFFF] | pairs[v >> 16 & 0xFFFF] << 14 | v >> 32 << 28 for v in numbers]


@cache
def _seven_bit_pairs() -> list[int]:
    """For each two bytes (little-endian) of a LEB128, the 14 bits of value they hold."""
    return [low & 0x7F | (low >> 8 & 0x7F) << 7 for low in range(1 << 16)]


def _bad_relocation(payload: bytes, pos: int, count: int, base: int) -> WasmDecodeError:
    """The error for a payload that is not `count` entries: where the first bad one starts."""
    entry = _entry()
    for k in range(count):
        match = entry.match(payload, pos)
        if match is None:
            return WasmDecodeError(f"relocation {k} of {count} malformed or cut short",
                                   base + pos)
        pos = match.end()
    return WasmDecodeError(f"{len(payload) - pos} byte(s) after the {count} relocations",
                           base + pos)


def body_starts(payload: bytes, base: int = 0) -> list[int]:
    """The payload offset where each body of a code section begins (after its size)."""
    try:
        count, pos = uleb(payload, 0, base)
        out: list[int] = []
        append = out.append
        for _ in range(count):
            size = shift = 0
            while True:  # inline: body sizes take one to three bytes
                byte = payload[pos]
                pos += 1
                size |= (byte & 0x7F) << shift
                if byte < 0x80:
                    break
                shift += 7
            if shift > 28 or size >> 32:
                raise WasmDecodeError("body size: LEB128 overflows 32 bits", base + pos)
            append(pos)
            pos += size
    except (IndexError, UnicodeDecodeError):
        raise WasmDecodeError("code section cut short", base + len(payload)) from None
    _check_end(pos, len(payload), "code section", base)
    return out


def name_map(payload: bytes, pos: int, end: int, base: int = 0) -> dict[int, str]:
    """A name map (count, then index and name each) in `payload[pos:end]`."""
    try:
        count, pos = uleb(payload, pos, base)
        out = {}
        for _ in range(count):
            index = shift = 0
            while True:  # inline: function indices take up to 3 bytes
                byte = payload[pos]
                pos += 1
                index |= (byte & 0x7F) << shift
                if byte < 0x80:
                    break
                shift += 7
            if shift > 28 or index >> 32:
                raise WasmDecodeError("name index: LEB128 overflows 32 bits", base + pos)
            n = payload[pos]
            pos += 1
            if n & 0x80:
                n, pos = uleb(payload, pos - 1, base)
            out[index] = payload[pos : pos + n].decode()
            pos += n
    except (IndexError, UnicodeDecodeError):
        raise WasmDecodeError("name map cut short, or a name not UTF-8", base + end) from None
    _check_end(pos, end, "name map", base)
    return out


def subsections(payload: bytes, base: int = 0) -> list[tuple[int, int, int, int]]:
    """(id, header start, contents start, end) of each subsection of a `name` payload."""
    out = []
    pos = 0
    try:
        while pos < len(payload):
            head = pos
            kind = payload[pos]
            size, pos = uleb(payload, pos + 1, base)
            out.append((kind, head, pos, pos + size))
            pos += size
    except IndexError:
        raise WasmDecodeError("name section cut short", base + len(payload)) from None
    _check_end(pos, len(payload), "name section", base)
    return out


RawExport = tuple[bytes, int, int, int, int]
"""(name, kind, index, start, end): the name undecoded (UTF-8), `start:end` where the index's
LEB128 lies in the payload."""


def exports(payload: bytes, base: int = 0) -> list[RawExport]:
    """Each entry of an export section's payload."""
    try:
        count, pos = uleb(payload, 0, base)
        out: list[RawExport] = []
        append = out.append
        for _ in range(count):
            n = payload[pos]
            pos += 1
            if n & 0x80:  # names of up to 16 KiB take two bytes: inline
                n = n & 0x7F | payload[pos] << 7
                pos += 1
                if n >> 14:
                    n, pos = uleb(payload, pos - 2, base)
            at = end = pos + n + 1
            index = shift = 0
            while True:  # inline: function indices take up to three bytes
                byte = payload[end]
                end += 1
                index |= (byte & 0x7F) << shift
                if byte < 0x80:
                    break
                shift += 7
            if shift > 28:
                raise WasmDecodeError("export index: LEB128 longer than 5 bytes", base + at)
            if index >> 32:
                raise WasmDecodeError("export index: LEB128 overflows 32 bits", base + at)
            append((payload[pos : pos + n], payload[pos + n], index, at, end))
            pos = end
    except IndexError:
        raise WasmDecodeError("export section cut short", base + len(payload)) from None
    _check_end(pos, len(payload), "export section", base)
    return out
