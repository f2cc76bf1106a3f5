"""`reloc.*` custom sections: where a relocatable object (or a module linked with
`--emit-relocs`) holds indices and addresses that a linker must rewrite.

Format: https://github.com/WebAssembly/tool-conventions/blob/main/Linking.md#relocation-sections
"""

from dataclasses import dataclass
from enum import IntEnum
from typing import NamedTuple

from rust_hmr.wasm.errors import bad_byte
from rust_hmr.wasm.reader import Reader
from rust_hmr.wasm.writer import Writer


class RelocType(IntEnum):
    """Relocation types of the tool-conventions Linking document (value = binary encoding)."""

    FUNCTION_INDEX_LEB = 0  # function index, 5-byte padded ULEB (a call)
    TABLE_INDEX_SLEB = 1  # table slot of a function, 5-byte padded SLEB (i32.const)
    TABLE_INDEX_I32 = 2  # table slot of a function, 4-byte little endian (data)
    MEMORY_ADDR_LEB = 3  # address + addend, 5-byte ULEB (load/store offset)
    MEMORY_ADDR_SLEB = 4  # address + addend, 5-byte SLEB (i32.const)
    MEMORY_ADDR_I32 = 5  # address + addend, 4 bytes (data)
    TYPE_INDEX_LEB = 6  # type index, 5-byte ULEB (call_indirect)
    GLOBAL_INDEX_LEB = 7  # global index, 5-byte ULEB (global.get/set)
    FUNCTION_OFFSET_I32 = 8  # byte offset of a function in the code section + addend (debug)
    SECTION_OFFSET_I32 = 9  # byte offset into a section + addend (debug)
    TAG_INDEX_LEB = 10  # tag index, 5-byte ULEB (throw/catch)
    MEMORY_ADDR_REL_SLEB = 11  # address relative to __memory_base (PIC)
    TABLE_INDEX_REL_SLEB = 12  # table slot relative to __table_base (PIC)
    GLOBAL_INDEX_I32 = 13  # global index, 4 bytes (debug info)
    MEMORY_ADDR_LEB64 = 14  # memory64 variants of the address relocations
    MEMORY_ADDR_SLEB64 = 15
    MEMORY_ADDR_I64 = 16
    MEMORY_ADDR_REL_SLEB64 = 17
    TABLE_INDEX_SLEB64 = 18
    TABLE_INDEX_I64 = 19
    TABLE_NUMBER_LEB = 20  # table number, 5-byte ULEB (table.get/set, call_indirect)
    MEMORY_ADDR_TLS_SLEB = 21  # address relative to __tls_base
    FUNCTION_OFFSET_I64 = 22
    MEMORY_ADDR_LOCREL_I32 = 23  # address relative to the relocation site itself
    TABLE_INDEX_REL_SLEB64 = 24
    MEMORY_ADDR_TLS_SLEB64 = 25
    FUNCTION_INDEX_I32 = 26  # function index, 4 bytes (debug info)

    @property
    def has_addend(self) -> bool:
        """Whether entries of this type carry a signed addend after the index."""
        return self in _WITH_ADDEND

    @property
    def width(self) -> int:
        """How many bytes the relocated value occupies at its offset."""
        return _WIDTH_BY_SUFFIX[self.name.rsplit("_", 1)[1]]

    @property
    def full_name(self) -> str:
        return f"R_WASM_{self.name}"


_WITH_ADDEND = frozenset(
    t for t in RelocType
    if t.name.startswith(("MEMORY_ADDR", "FUNCTION_OFFSET", "SECTION_OFFSET"))
)
_WIDTH_BY_SUFFIX = {"LEB": 5, "SLEB": 5, "I32": 4, "LEB64": 10, "SLEB64": 10, "I64": 8}
_TYPES = {int(t): t for t in RelocType}


class Relocation(NamedTuple):
    """One entry: `offset` is relative to the target section's payload; `index` is a symbol
    index (a type index for TYPE_INDEX_LEB)."""

    type: RelocType
    offset: int
    index: int  # type: ignore[assignment]  # shadows tuple.index(); the format's name for it
    addend: int = 0


@dataclass(frozen=True)
class RelocSection:
    """The relocations that apply to the section at `target` (its index in the file)."""

    target: int
    entries: list[Relocation]


def read_relocation(r: Reader) -> Relocation:
    byte = r.u8("relocation type")
    rtype = _TYPES.get(byte)
    if rtype is None:
        raise bad_byte("relocation type", byte, r.offset - 1)
    offset = r.u32("relocation offset")
    index = r.u32("relocation index")
    addend = r.s64("relocation addend") if rtype in _WITH_ADDEND else 0
    return Relocation(rtype, offset, index, addend)


def read_reloc(r: Reader) -> RelocSection:
    target = r.u32("relocation target section")
    entries = [read_relocation(r) for _ in range(r.count("relocation", min_item_size=3))]
    return RelocSection(target, entries)


def write_reloc(w: Writer, section: RelocSection) -> None:
    w.u32(section.target)
    w.u32(len(section.entries))
    for rel in section.entries:
        w.u8(rel.type)
        w.u32(rel.offset)
        w.u32(rel.index)
        if rel.type in _WITH_ADDEND:
            w.s64(rel.addend)


def count_by_type(r: Reader) -> dict[RelocType, int]:
    """Counts per type without building entries (for summaries of large debug relocations)."""
    r.u32("relocation target section")
    counts: dict[RelocType, int] = {}
    for _ in range(r.count("relocation", min_item_size=3)):
        rel = read_relocation(r)
        counts[rel.type] = counts.get(rel.type, 0) + 1
    return counts
