"""Code offset -> source line, from a wasm file's `.debug_line`, decoded lazily.

Addresses in wasm DWARF are offsets into the code section's payload (a function's
`DW_AT_low_pc` is where its body's locals start, past the body's size). In a relocatable
object they count from the object's own code section, unrelocated (see `_sections`).

`LineTable` decodes nothing until the first `lookup`: then it reads each compile unit's
address ranges (its unit DIE only, see `_units`), and decodes the line program of a unit
only when an address falls in it. A debug build of a small app links std whole: hundreds of
units, a few MB of DWARF; a backtrace touches a handful of them. The decoded rows stay
cached.
"""

from __future__ import annotations

import posixpath
from bisect import bisect_right
from dataclasses import dataclass
from itertools import pairwise

from elftools.common.exceptions import DWARFError, ELFError
from elftools.construct.core import ConstructError
from elftools.dwarf.compileunit import CompileUnit
from elftools.dwarf.dwarfinfo import DWARFInfo
from elftools.dwarf.ranges import BaseAddressEntry, RangeEntry

from rust_hmr.dwarf._errors import DwarfError
from rust_hmr.dwarf._sections import debug_sections, open_dwarf
from rust_hmr.dwarf._units import unit_ranges

__all__ = ["LineTable", "SourceLine"]

# wasm-ld writes these over the addresses of code it dropped (debug_ranges uses -2).
_TOMBSTONES = (0xFFFF_FFFF, 0xFFFF_FFFE)
_PYELFTOOLS_ERRORS = (DWARFError, ELFError, ConstructError, KeyError, IndexError, ValueError)


@dataclass(frozen=True)
class SourceLine:
    """A place in the source: `file` relative to the compile directory of its unit when it
    lies inside it (the crate's `src/lib.rs`; std's `library/std/src/...`), `path` in full."""

    file: str
    line: int
    column: int = 0
    path: str = ""

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" + (f":{self.column}" if self.column else "")


@dataclass(frozen=True)
class _Row:
    address: int
    end: int  # the next row's address: [address, end) maps to `line`
    line: SourceLine | None


class LineTable:
    """The line tables of one wasm module or object; `lookup(code_offset)` is the API."""

    def __init__(self, sections: dict[str, bytes]) -> None:
        self._sections = sections
        self._dwarf: DWARFInfo | None = None
        self._units: list[tuple[int, int, int]] | None = None  # (start, end, unit offset)
        self._cus: dict[int, CompileUnit] = {}  # by offset in .debug_info, as needed
        self._rows: dict[int, tuple[list[int], list[_Row]]] = {}  # unit -> addresses, rows

    @classmethod
    def of_wasm(cls, data: bytes) -> LineTable:
        """The table of a wasm file's `.debug_*` sections (none: every lookup is None)."""
        return cls(debug_sections(data))

    def lookup(self, address: int) -> SourceLine | None:
        """The source line of the instruction at `address` (a code-section offset)."""
        try:
            for unit in self._units_at(address):
                addresses, rows = self._unit_rows(unit)
                at = bisect_right(addresses, address) - 1
                if at >= 0 and rows[at].address <= address < rows[at].end:
                    return rows[at].line
        except _PYELFTOOLS_ERRORS as err:
            raise DwarfError(f"malformed DWARF line info: {err}") from None
        return None

    # Compile units and their ranges

    def _units_at(self, address: int) -> list[int]:
        """The offsets of the units whose code ranges hold `address`."""
        if self._units is None:
            self._units = self._index()
        return [unit for start, end, unit in self._units if start <= address < end]

    def _index(self) -> list[tuple[int, int, int]]:
        self._dwarf = open_dwarf(self._sections)
        if self._dwarf is None:
            return []
        units = []
        info = self._sections[".debug_info"]
        abbrev = self._sections[".debug_abbrev"]
        for unit in unit_ranges(info, abbrev, self._sections.get(".debug_ranges", b"")):
            ranges = unit.ranges
            if ranges is None:
                ranges = self._ranges(self._unit(unit.offset))
            units += [(start, end, unit.offset) for start, end in ranges
                      if start < end and start not in _TOMBSTONES]
        return sorted(units)

    def _unit(self, offset: int) -> CompileUnit:
        if offset not in self._cus:
            assert self._dwarf is not None
            self._cus[offset] = self._dwarf.get_CU_at(offset)
        return self._cus[offset]

    def _ranges(self, cu: CompileUnit) -> list[tuple[int, int]]:
        top = cu.get_top_DIE()
        attrs = top.attributes
        low = attrs["DW_AT_low_pc"].value if "DW_AT_low_pc" in attrs else 0
        if "DW_AT_ranges" in attrs:
            assert self._dwarf is not None
            lists = self._dwarf.range_lists()
            if lists is None:
                return []
            base, out = low, []
            for entry in lists.get_range_list_at_offset(attrs["DW_AT_ranges"].value, cu=cu):
                if isinstance(entry, BaseAddressEntry):
                    base = entry.base_address
                elif isinstance(entry, RangeEntry):
                    offset = 0 if entry.is_absolute else base
                    out.append((entry.begin_offset + offset, entry.end_offset + offset))
            return out
        if "DW_AT_high_pc" not in attrs:
            return []
        high = attrs["DW_AT_high_pc"]
        return [(low, high.value if high.form == "DW_FORM_addr" else low + high.value)]

    # Line programs

    def _unit_rows(self, unit: int) -> tuple[list[int], list[_Row]]:
        if unit not in self._rows:
            rows = self._decode(self._unit(unit))
            self._rows[unit] = [row.address for row in rows], rows
        return self._rows[unit]

    def _decode(self, cu: CompileUnit) -> list[_Row]:
        assert self._dwarf is not None
        program = self._dwarf.line_program_for_CU(cu)
        if program is None:
            return []
        top = cu.get_top_DIE()
        comp_dir = _text(top.attributes["DW_AT_comp_dir"].value) \
            if "DW_AT_comp_dir" in top.attributes else ""
        version = program.header["version"]
        files = program.header["file_entry"]
        dirs = [_text(d) for d in program.header["include_directory"]]
        names: dict[int, tuple[str, str]] = {}

        def file_name(index: int) -> tuple[str, str]:
            if index not in names:
                entry = files[index if version >= 5 else index - 1]
                dir_index = entry["dir_index"]
                folder = comp_dir if version < 5 and dir_index == 0 else \
                    dirs[dir_index - (0 if version >= 5 else 1)]
                path = posixpath.join(comp_dir, folder, _text(entry["name"]))
                path = posixpath.normpath(path)
                short = path
                if comp_dir and path.startswith(comp_dir.rstrip("/") + "/"):
                    short = path[len(comp_dir.rstrip("/")) + 1:]
                names[index] = short, path
            return names[index]

        states = [entry.state for entry in program.get_entries() if entry.state is not None]
        rows = []
        for state, following in pairwise(states):
            if state.end_sequence:
                continue
            if state.line:
                short, path = file_name(state.file)
                line: SourceLine | None = SourceLine(short, state.line, state.column, path)
            else:
                line = None
            rows.append(_Row(state.address, following.address, line))
        rows.sort(key=lambda row: row.address)
        return rows


def _text(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
