"""The code ranges of each compile unit, read straight from the bytes: the unit headers, the
first DIE of each (the unit's own) and `.debug_ranges`.

pyelftools parses a unit's whole abbreviation table to read its first DIE: for the few
hundred units a debug build links in (std's among them), that is most of a second, paid on
the first trap. The unit DIE needs only a handful of forms, so this reads those itself. A
unit it can't read this way (a 64-bit DWARF unit, DWARF 5's range lists, a form it does not
know) comes back with `ranges=None`, for pyelftools to read.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

_AT_LOW_PC, _AT_HIGH_PC, _AT_RANGES = 0x11, 0x12, 0x55
_FORM_ADDR, _FORM_SEC_OFFSET, _FORM_STRING = 0x01, 0x17, 0x08
_FORM_IMPLICIT_CONST = 0x21
# Forms of a fixed size, in bytes (DWARF 4 and 5, 32-bit offsets); ULEB-sized ones apart.
_FIXED = {0x05: 2, 0x06: 4, 0x07: 8, 0x0B: 1, 0x0C: 1, 0x0E: 4, 0x10: 4, 0x11: 1, 0x12: 2,
          0x13: 4, 0x14: 8, 0x17: 4, 0x19: 0, 0x1C: 4, 0x1D: 4, 0x1E: 16, 0x1F: 4, 0x20: 8,
          0x21: 0, 0x25: 1, 0x26: 2, 0x27: 3, 0x28: 4, 0x29: 1, 0x2A: 2, 0x2B: 3, 0x2C: 4}
_ULEB_SIZED = {0x0D, 0x0F, 0x15, 0x1A, 0x1B, 0x22, 0x23}  # sdata, udata, ref_udata, *x
_BLOCKS = {0x03: 2, 0x04: 4, 0x09: 0, 0x0A: 1, 0x18: 0}  # length size (0: a ULEB)


class _Unreadable(Exception):
    """This unit needs the full parser."""


@dataclass(frozen=True)
class UnitRanges:
    """A compile unit at `offset` in `.debug_info`; `ranges` None: read it with pyelftools."""

    offset: int
    ranges: list[tuple[int, int]] | None


def _uleb(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data):
            raise _Unreadable
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos


def unit_ranges(info: bytes, abbrev: bytes, ranges: bytes) -> Iterator[UnitRanges]:
    """Each unit of `.debug_info`, in order, with its code ranges."""
    offset = 0
    while offset + 11 <= len(info):
        (length,) = struct.unpack_from("<I", info, offset)
        if length >= 0xFFFF_FFF0:
            return  # 64-bit DWARF: let pyelftools read it all (see LineTable)
        end = offset + 4 + length
        try:
            found = _unit(info, abbrev, ranges, offset)
        except (_Unreadable, struct.error, IndexError):
            found = None
        yield UnitRanges(offset, found)
        offset = end


def _unit(info: bytes, abbrev: bytes, ranges: bytes, offset: int) -> list[tuple[int, int]]:
    version = struct.unpack_from("<H", info, offset + 4)[0]
    if version in (2, 3, 4):
        abbrev_offset, address_size = struct.unpack_from("<IB", info, offset + 6)
        pos = offset + 11
    elif version == 5:
        unit_type, address_size, abbrev_offset = struct.unpack_from("<BBI", info, offset + 6)
        if unit_type != 1:  # DW_UT_compile; skeleton and type units have more header
            raise _Unreadable
        pos = offset + 12
    else:
        raise _Unreadable
    if address_size != 4:
        raise _Unreadable
    code, pos = _uleb(info, pos)
    specs = _abbreviation(abbrev, abbrev_offset, code)
    values: dict[int, tuple[int, int]] = {}  # attribute -> (form, value)
    for name, form, const in specs:
        value, pos = _value(info, pos, form, const)
        values[name] = (form, value)
    low = values.get(_AT_LOW_PC, (_FORM_ADDR, 0))
    if low[0] != _FORM_ADDR:
        raise _Unreadable
    if _AT_RANGES in values:
        form, at = values[_AT_RANGES]
        if version == 5 or form != _FORM_SEC_OFFSET:
            raise _Unreadable
        return _range_list(ranges, at, low[1])
    if _AT_HIGH_PC not in values:
        return []
    form, high = values[_AT_HIGH_PC]
    return [(low[1], high if form == _FORM_ADDR else low[1] + high)]


def _abbreviation(abbrev: bytes, offset: int, code: int) -> list[tuple[int, int, int]]:
    """The (attribute, form, implicit constant) list of abbreviation `code` in the table at
    `offset`; the unit's own is usually the first."""
    pos = offset
    while True:
        found, pos = _uleb(abbrev, pos)
        if found == 0:
            raise _Unreadable
        _tag, pos = _uleb(abbrev, pos)
        pos += 1  # has-children flag
        specs = []
        while True:
            name, pos = _uleb(abbrev, pos)
            form, pos = _uleb(abbrev, pos)
            const = 0
            if form == _FORM_IMPLICIT_CONST:
                const, pos = _uleb(abbrev, pos)  # signed, but never one we read
            if name == 0 and form == 0:
                break
            specs.append((name, form, const))
        if found == code:
            return specs


def _value(info: bytes, pos: int, form: int, const: int) -> tuple[int, int]:
    """The value (a number; 0 for strings and blocks) of one attribute, and the next pos."""
    if form == _FORM_IMPLICIT_CONST:
        return const, pos
    if form == _FORM_ADDR:
        return struct.unpack_from("<I", info, pos)[0], pos + 4
    if form in _FIXED:
        size = _FIXED[form]
        return int.from_bytes(info[pos:pos + size], "little"), pos + size
    if form in _ULEB_SIZED:
        return _uleb(info, pos)
    if form == _FORM_STRING:
        return 0, info.index(b"\0", pos) + 1
    if form in _BLOCKS:
        size_width = _BLOCKS[form]
        if size_width:
            size = int.from_bytes(info[pos:pos + size_width], "little")
            pos += size_width
        else:
            size, pos = _uleb(info, pos)
        return 0, pos + size
    raise _Unreadable  # DW_FORM_indirect, or a form of a later DWARF


def _range_list(ranges: bytes, offset: int, base: int) -> list[tuple[int, int]]:
    """A DWARF 4 `.debug_ranges` list: (begin, end) pairs from `base`, a (-1, address) pair
    changes the base, (0, 0) ends it."""
    out: list[tuple[int, int]] = []
    pos = offset
    while True:
        begin, end = struct.unpack_from("<II", ranges, pos)
        pos += 8
        if begin == 0 and end == 0:
            return out
        if begin == 0xFFFF_FFFF:
            base = end
        elif begin != 0xFFFF_FFFE:  # wasm-ld's tombstone: code it dropped
            out.append((base + begin, base + end))
