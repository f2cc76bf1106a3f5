"""What can go wrong reading debug info (the tree is drawn in the package docstring)."""


class DwarfError(Exception):
    """The object's DWARF can't be read: a `.debug_*` section is malformed or one the others
    need is missing, or the file is not a wasm object at all. The message names the object
    part that failed; pyelftools' own exceptions never leave the package."""
