"""The patch linker: dirty codegen-unit objects in, one patch module (or a reason) out.

`link_patch` runs on copies of the ledger's state and commits them only when the patch is
made, so a refused patch leaves the ledger as it was. It gives the `Patch` that
`Project.rebuild()` completes with what only it knows (the objects, the timings, the changed
functions).
"""

from collections.abc import Mapping

import wasmtime

from rust_hmr.link.ledger import Ledger
from rust_hmr.link.linker import PatchLinker
from rust_hmr.link.objects import ObjectView, load_object
from rust_hmr.link.outcomes import FullReload, Patch, PatchRefused
from rust_hmr.prepare.symbol_map import SymbolMap

__all__ = ["FullReload", "Ledger", "ObjectView", "Patch", "PatchLinker", "PatchRefused",
           "link_patch", "load_object"]

_VALIDATOR = wasmtime.Engine()


def link_patch(views: list[ObjectView], symbols: SymbolMap, ledger: Ledger,
               renames: Mapping[str, str | None] | None = None) -> Patch:
    """Link `views` against the main module; raises PatchRefused with the reason when the
    edit can't be patched safely. On success `ledger` holds the new placements."""
    trial = ledger.copy()
    linked = PatchLinker(views, symbols, trial, renames).link()
    try:
        wasmtime.Module.validate(_VALIDATOR, linked.module)
    except wasmtime.WasmtimeError as err:
        raise PatchRefused(f"the patch did not validate (a rust-hmr bug): {err}") from None
    ledger.__dict__.update(trial.__dict__)
    return linked
