"""What an edit did to the live program, read from the DWARF of the old and new objects.

Before a patch is linked: every type the crate defines must keep its layout (values of it made
before the edit live on in the app's memory: in statics, thread-locals, on the heap behind
them), and each function of the new objects is matched to the live item it is (see
`identity`). A changed layout refuses the patch with a reason that names the type and what
changed.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from rust_hmr.dwarf import DebugInfo, TypeLayout, layout_changes
from rust_hmr.link import identity
from rust_hmr.link.objects import ObjectView
from rust_hmr.link.records import PatchRefused
from rust_hmr.link.sources import SourceHistory
from rust_hmr.shim import ObjectFile


@dataclass(frozen=True)
class DirtyUnit:
    """A codegen unit the rebuild changed: its live object (None for a new unit) and its
    new one."""

    live: ObjectFile | None
    new: ObjectFile


def _own_types(infos: Iterable[DebugInfo], crates: set[str]) -> dict[str, TypeLayout]:
    out: dict[str, TypeLayout] = {}
    for info in infos:
        for path, layout in info.types.items():
            if path.split("::", 1)[0] in crates:
                out.setdefault(path, layout)
    return out


def refuse_changed_layouts(old: Iterable[DebugInfo], new: Iterable[DebugInfo],
                           crates: set[str]) -> None:
    changes = layout_changes(_own_types(old, crates), _own_types(new, crates))
    if changes:
        first = changes[0]
        more = f" (and {len(changes) - 1} more types)" if len(changes) > 1 else ""
        raise PatchRefused(
            f"{first.description}{more}: values made before the edit would be read with the "
            "new layout")


def _unit(view: ObjectView, info: DebugInfo) -> identity.Unit:
    decls = {name: identity.Decl(name, d.file, d.line, d.generic)
             for name, d in info.functions.items()}
    return identity.Unit(view, decls)


def analyse(units: list[DirtyUnit], view_of: Callable[[ObjectFile], ObjectView],
            debug_of: Callable[[ObjectFile], DebugInfo], sources: SourceHistory,
            crates: set[str]) -> dict[str, str | None]:
    """Refuses an edit that changed a type's layout; returns the renames the patch linker
    needs (see `identity.match`)."""
    live = [(u.live, debug_of(u.live)) for u in units if u.live is not None]
    new = [(u.new, debug_of(u.new)) for u in units]
    refuse_changed_layouts((i for _, i in live), (i for _, i in new), crates)
    return identity.match([_unit(view_of(o), i) for o, i in live],
                          [_unit(view_of(o), i) for o, i in new], sources)
