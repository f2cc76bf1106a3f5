"""Fast scans of the large tables of a linked debug module, as plain tuples.

The section readers build one frozen dataclass per entry and check each value on the way, which
is right for objects and tools but costs seconds on a large app's main module (60k symbols,
200k code relocations, 40k function names, 35k exports). The prepare step needs only a few
fields of each, once; these scans read just those, with the one-byte LEB128 case inline. They
agree with the readers on every well-formed input (tests/test_wasm_scan.py checks that against
real modules) and raise `WasmDecodeError` on truncated or overlong input; anything subtler is
left to the readers, which a stage can still call.
"""

from dataclasses import dataclass, field

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
from rust_hmr.wasm.sections.reloc import _WITH_ADDEND

RawSymbol = tuple[int, int, str | None, int, int, int, int]
"""(kind, flags, name, index, segment, offset, size): -1 where the entry has no such field."""

_UNDEFINED = int(SymbolFlags.UNDEFINED)
_EXPLICIT_NAME = int(SymbolFlags.EXPLICIT_NAME)
_FUNCTION, _DATA, _SECTION = int(SymbolKind.FUNCTION), int(SymbolKind.DATA), \
    int(SymbolKind.SECTION)
_KNOWN_KINDS = frozenset(int(k) for k in SymbolKind)
_ADDEND_TYPES = frozenset(int(t) for t in _WITH_ADDEND)


def uleb(data: bytes, pos: int, base: int) -> tuple[int, int]:
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


def _sleb64_end(data: bytes, pos: int, base: int) -> int:
    """Where the signed LEB128 (at most 10 bytes) at `pos` ends."""
    for i in range(10):
        if not data[pos + i] & 0x80:
            return pos + i + 1
    raise WasmDecodeError("LEB128 longer than 10 bytes", base + pos)


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
    """The names of the functions a `linking` payload's symbol table defines."""
    return [name for kind, flags, name, *_ in linking(payload, base).symbols
            if kind == _FUNCTION and not flags & _UNDEFINED and name is not None]


def relocations(payload: bytes, wanted: int, base: int = 0) -> list[tuple[int, int]]:
    """(offset, symbol index) of each relocation of type `wanted` in a `reloc.*` payload."""
    try:
        return _relocations(payload, wanted, base)
    except (IndexError, UnicodeDecodeError):
        raise WasmDecodeError("relocation section cut short", base + len(payload)) from None


def _relocations(data: bytes, wanted: int, base: int) -> list[tuple[int, int]]:
    _, pos = uleb(data, 0, base)  # the target section
    count, pos = uleb(data, pos, base)
    out: list[tuple[int, int]] = []
    append = out.append
    addend = _ADDEND_TYPES
    for _ in range(count):
        rtype = data[pos]
        # The offset: code offsets take 3 or 4 bytes, so the loop is inline (no call).
        offset = shift = 0
        while True:
            pos += 1
            byte = data[pos]
            offset |= (byte & 0x7F) << shift
            if byte < 0x80:
                break
            shift += 7
        if shift > 28 or offset >> 32:
            raise WasmDecodeError("relocation offset: LEB128 overflows 32 bits", base + pos)
        index = shift = 0
        while True:  # the symbol index, inline too
            pos += 1
            byte = data[pos]
            index |= (byte & 0x7F) << shift
            if byte < 0x80:
                break
            shift += 7
        pos += 1
        if shift > 28 or index >> 32:
            raise WasmDecodeError("relocation index: LEB128 overflows 32 bits", base + pos)
        if rtype in addend:
            pos = _sleb64_end(data, pos, base)
        if rtype == wanted:
            append((offset, index))
    _check_end(pos, len(data), "relocation section", base)
    return out


def body_starts(payload: bytes, base: int = 0) -> list[int]:
    """The payload offset where each body of a code section begins (after its size)."""
    try:
        count, pos = uleb(payload, 0, base)
        out = []
        for _ in range(count):
            size, pos = uleb(payload, pos, base)
            out.append(pos)
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
            if n & 0x80:
                n, pos = uleb(payload, pos - 1, base)
            at = pos + n + 1
            index = payload[at]
            end = at + 1
            if index & 0x80:
                index, end = uleb(payload, at, base)
            append((payload[pos : pos + n], payload[pos + n], index, at, end))
            pos = end
    except IndexError:
        raise WasmDecodeError("export section cut short", base + len(payload)) from None
    _check_end(pos, len(payload), "export section", base)
    return out
