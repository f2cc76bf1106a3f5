"""The action of stage `hot:patch`: from the captured link to a `Patch` against the live
code, or the `FullReload` that says why there can't be one.

    cold crates rebuilt?      -> FullReload (only the workspace's crates are hot)
    units that differ from the ledger's (the live code's)
    layouts checked, functions matched to the live items they are (`link.edit`)
    `link_patch` -> the patch module, with the units' objects in a custom section
    the ledger takes the new units and sources, and counts the patch

It reads the project's state (the symbol map, the ledger, parsed objects, DWARF) and writes
only the ledger, once the patch is whole.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from rust_hmr.dwarf import DebugInfo, DwarfError, read_debug_info_cached
from rust_hmr.link import FullReload, Ledger, Patch, PatchRefused, link_patch
from rust_hmr.link.edit import DirtyUnit
from rust_hmr.link.edit import analyse as analyse_edit
from rust_hmr.link.linker import with_objects
from rust_hmr.link.sources import SourceHistory
from rust_hmr.prepare import SymbolMap
from rust_hmr.shim import LinkManifest, ObjectFile
from rust_hmr.wasm.demangle import demangle_or_raw
from rust_hmr.workspace import rlib_crate

if TYPE_CHECKING:
    from rust_hmr._project import Project

__all__ = ["link_changes"]


def link_changes(project: Project, manifest: LinkManifest, symbols: SymbolMap,
                 ledger: Ledger, sources: Mapping[str, str]) -> Patch | FullReload:
    """The patch of the units of `manifest` that differ from the live code (`empty` when
    none does), or the reason it can't be made."""
    cold = changed_cold_crates(manifest, ledger)
    if cold:
        return FullReload(cold)
    dirty = [o for o in manifest.hot_objects if ledger.objects.get(o.path) != o.blake3]
    if not dirty:
        return Patch(ledger.patches, b"", ledger_memory_used=ledger.memory_used,
                     ledger_slots_used=ledger.slots_used)
    try:
        dirty, renames = _analyse_edit(project, manifest, dirty, symbols, ledger, sources)
        patch = link_patch([project.object_view(o) for o in dirty], symbols, ledger, renames)
    except PatchRefused as refused:
        return FullReload(refused.reason)
    changed = _changed_functions(project, dirty, ledger)
    ledger.objects.update({o.path: o.blake3 for o in dirty})
    ledger.sources = dict(sources)
    ledger.patches += 1  # patch.id
    ledger.dump(project.ledger_path)
    module = with_objects(patch.module, [o.stored for o in dirty])
    return replace(patch, module=module, objects=tuple(Path(o.path).name for o in dirty),
                   changed=changed)


def changed_cold_crates(manifest: LinkManifest, ledger: Ledger) -> str:
    """The reason to reload when a crate outside the workspace was rebuilt or added (its code
    is cold: only the main module has it), or "" when none was."""
    changed = sorted(rlib_crate(rlib) for rlib, digest in manifest.rlib_digests.items()
                     if ledger.cold_rlibs.get(rlib) != digest)
    if not changed:
        return ""
    names = ", ".join(f"`{name}`" for name in changed)
    return (f"the dependency {names} was rebuilt or added, and only the workspace's own crates "
            "are hot: its code can't be patched")


def _analyse_edit(project: Project, manifest: LinkManifest, dirty: list[ObjectFile],
                  symbols: SymbolMap, ledger: Ledger, sources: Mapping[str, str]
                  ) -> tuple[list[ObjectFile], dict[str, str | None]]:
    """Layouts checked, functions matched to the live items they are (`link.edit`).

    When the edit renumbered closures, code that did not change may still name them (an
    `FnOnce` shim in another unit): its unit joins the patch, so that its references take
    the new meaning too. Returns the units to link and the renames."""
    history = SourceHistory(project.sources_dir, ledger.sources, dict(sources))

    def reachable(name: str) -> bool:
        """A pointer to it may exist: the main module's table has it, or a patch took its
        address."""
        live = ledger.aliases.get(name, name)
        return live in ledger.pointed or any(
            f.table_index is not None for f in symbols.functions_named(live))

    def debug_info(obj: ObjectFile) -> DebugInfo:
        try:
            return read_debug_info_cached(Path(obj.stored), obj.blake3,
                                          project.out_dir / "dwarf")
        except DwarfError as err:
            raise PatchRefused(f"the debug info of {Path(obj.path).name} can't be read "
                               f"({err}), so the edit can't be checked") from None

    crates = {manifest.crate, *project.workspace.crate_names}
    units = list(dirty)
    while True:
        renames = analyse_edit([DirtyUnit(_live_object(project, o, ledger), o) for o in units],
                               project.object_view, debug_info, history, crates, reachable)
        if not renames:
            return units, renames
        linked = {o.path for o in units}
        users = [o for o in manifest.hot_objects if o.path not in linked
                 and project.object_view(o).undefined_functions() & renames.keys()]
        if not users:
            return units, renames
        units += users


def _live_object(project: Project, obj: ObjectFile, ledger: Ledger) -> ObjectFile | None:
    """The object the live code of `obj`'s unit came from, if it is still stored."""
    previous = ledger.objects.get(obj.path)
    stored = project.out_dir / "objects" / f"{previous}.o"
    if previous is None or not stored.exists():
        return None
    return ObjectFile(obj.path, previous, 0, str(stored))


def _changed_functions(project: Project, dirty: list[ObjectFile],
                       ledger: Ledger) -> tuple[str, ...]:
    """Demangled names of the functions whose code differs from the live version."""
    changed: list[str] = []
    for obj in dirty:
        new = project.function_fingerprints(obj)
        live = _live_object(project, obj, ledger)
        old = {} if live is None else project.function_fingerprints(live)
        changed += [demangle_or_raw(name, hash=False) for name, code in new.items()
                    if old.get(name) != code]
    return tuple(dict.fromkeys(changed))
