"""What the patch linker reads from the DWARF of a relocatable wasm object (a codegen unit).

`read_debug_info(data)` gives a `DebugInfo`: for each defined function, keyed by its
linkage (mangled) name, where it is declared (`FunctionDecl`: file, line, whether it is a
generic instance), so an old function is matched to the new one for the same source item even
when rustc renumbered it (closures are named by their index in the parent); and for each
struct, enum and union, keyed by its qualified path, its layout (`TypeLayout`: size,
alignment, fields, an enum's discriminant and variants). `layout_changes(old, new)` says, in
the user's terms, which types the edit laid out differently.
`read_debug_info_cached` keeps the result as msgpack by the object's blake3.

Modules: `_sections` (the `.debug_*` custom sections as pyelftools' DWARFInfo), `_reader`
(the DIE walk), `_records`, `_layout` (comparing layouts), `_cache`, `_errors`; and, for
traps' backtraces, `lines` (`LineTable`: code offset -> file:line, decoded lazily) and
`_units` (each compile unit's code ranges, read without pyelftools).

Exceptions:

    DwarfError      a malformed or missing `.debug_*` section, or not a wasm file (no
                    exception of pyelftools leaves the package)
"""

from rust_hmr.dwarf._cache import read_debug_info_cached
from rust_hmr.dwarf._errors import DwarfError
from rust_hmr.dwarf._layout import LayoutChange, layout_changes
from rust_hmr.dwarf._reader import read_debug_info
from rust_hmr.dwarf._records import (
    DebugInfo,
    Discriminant,
    Field,
    FunctionDecl,
    TypeKind,
    TypeLayout,
    Variant,
)

__all__ = [
    "DebugInfo",
    "Discriminant",
    "DwarfError",
    "Field",
    "FunctionDecl",
    "LayoutChange",
    "TypeKind",
    "TypeLayout",
    "Variant",
    "layout_changes",
    "read_debug_info",
    "read_debug_info_cached",
]
