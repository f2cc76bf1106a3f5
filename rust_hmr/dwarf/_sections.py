"""The `.debug_*` custom sections of a wasm object, handed to pyelftools as a DWARFInfo.

The sections' own relocations (`reloc..debug_info`, ...) are not applied: in an object, the
values they patch already hold what they would be were the object linked alone (string
offsets into the object's own `.debug_str`, code offsets from its own code section), which is
all the reader needs.
"""

import io

from elftools.dwarf.dwarfinfo import DebugSectionDescriptor, DwarfConfig, DWARFInfo

from rust_hmr.dwarf._errors import DwarfError
from rust_hmr.wasm.errors import WasmDecodeError
from rust_hmr.wasm.module import parse

# DWARFInfo's keyword for each section it can read; the frame sections are of no use here.
_KEYWORDS = {name: f"{name[1:]}_sec" for name in (
    ".debug_info", ".debug_abbrev", ".debug_str", ".debug_line", ".debug_line_str",
    ".debug_str_offsets", ".debug_addr", ".debug_ranges", ".debug_rnglists", ".debug_loc",
    ".debug_loclists", ".debug_aranges", ".debug_pubnames", ".debug_pubtypes",
    ".debug_types", ".debug_sup",
)}
_UNUSED = ("debug_frame_sec", "eh_frame_sec", "gnu_debugaltlink_sec")
_CONFIG = DwarfConfig(little_endian=True, machine_arch="wasm32", default_address_size=4)


def debug_sections(data: bytes) -> dict[str, bytes]:
    """Name -> payload of each `.debug_*` custom section of a wasm file."""
    try:
        wasm = parse(data)
    except WasmDecodeError as err:
        raise DwarfError(f"not a readable wasm file: {err}") from None
    return {s.name: s.payload for s in wasm.custom(".debug_")}


def open_dwarf(sections: dict[str, bytes]) -> DWARFInfo | None:
    """pyelftools' view of the sections, or None when there is no `.debug_info`."""
    if ".debug_info" not in sections:
        return None
    if ".debug_abbrev" not in sections:
        raise DwarfError(".debug_info has no .debug_abbrev section to decode it with")
    kwargs: dict[str, DebugSectionDescriptor | None] = dict.fromkeys(_KEYWORDS.values())
    kwargs.update(dict.fromkeys(_UNUSED))
    for name, payload in sections.items():
        keyword = _KEYWORDS.get(name)
        if keyword is not None:
            kwargs[keyword] = DebugSectionDescriptor(io.BytesIO(payload), name, None,
                                                     len(payload), 0)
    return DWARFInfo(_CONFIG, **kwargs)
