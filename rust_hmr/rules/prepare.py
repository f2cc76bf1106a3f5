"""Stage `prepare`: the main-module rewrite of the dev build (trampolines, reserved room,
exports) and its symbol map; see `rust_hmr.prepare`.

A cached action (`prepared`): its key covers the linked module, the blake3 of each codegen-unit
object (they decide which functions are hot) and the reserved room (`reserve-pages`,
`spare-slots`). The stage writes its outputs to `stages/prepare/`: `<crate>.wasm` and
`symbols.msgpack`; `Project.build()` runs the same action and writes them beside its own
build, so a dev build on a fresh checkout takes the prepared module from the cache too.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from doit.exceptions import TaskFailed

from rust_hmr.rules import compile as compile_stage
from rust_hmr.rules.checkers import file_blake3, flags_changed
from rust_hmr.rules.crate import Crate
from rust_hmr.rules.stage import run_cached, say, write_if_changed

if TYPE_CHECKING:
    from rust_hmr.prepare import SymbolMap
    from rust_hmr.shim import LinkManifest

__all__ = ["Prepared", "outputs", "prepared", "task"]

NAME = "prepare"
VERSION = 3  # symbol map format 4; the app's exports only


def outputs(crate: Crate) -> tuple[Path, Path]:
    """The prepared module and its symbol map."""
    out = crate.stage_dir(NAME)
    return out / f"{crate.name}.wasm", out / "symbols.msgpack"


def flags(crate: Crate) -> dict[str, Any]:
    """The settings that decide the rewrite besides its inputs: the room kept for patches."""
    return {"reserve_pages": crate.settings.reserve_pages,
            "spare_slots": crate.settings.spare_slots}


@dataclass(frozen=True)
class Prepared:
    """The prepared module and its symbol map's bytes; `symbols` too when they were made
    now (not read from the cache)."""

    module: bytes
    symbol_bytes: bytes
    cached: bool
    seconds: float
    symbols: SymbolMap | None = None


def prepared(crate: Crate, linked: Path, manifest: LinkManifest, reserve_pages: int,
             spare_slots: int) -> Prepared:
    """The prepare action: from the artifact cache when it has this linked module with these
    objects and this room, else made (`prepare_linked`) and stored. Raises PrepareError and
    OSError."""
    from rust_hmr.prepare import prepare_linked

    module_name = f"{crate.name}.wasm"
    inputs = {module_name: file_blake3(linked)}
    inputs.update({f"objects/{Path(o.path).name}": o.blake3 for o in manifest.hot_objects})
    made: list[SymbolMap] = []

    def build() -> dict[str, bytes]:
        prepared = prepare_linked(linked.read_bytes(), manifest, reserve_pages, spare_slots)
        made.append(prepared.symbols)
        return {module_name: prepared.data, "symbols.msgpack": _symbols_bytes(prepared.symbols)}

    result = run_cached(crate, NAME, VERSION, toolchain="",
                        flags={"reserve_pages": reserve_pages, "spare_slots": spare_slots},
                        inputs=inputs, build=build)
    return Prepared(result.outputs[module_name], result.outputs["symbols.msgpack"],
                    result.cached, result.seconds, made[0] if made else None)


def task(crate: Crate) -> dict[str, Any]:
    """The doit task."""
    linked, manifest = compile_stage.dev_outputs(crate)
    module, symbols = outputs(crate)
    return {
        "basename": NAME,
        "doc": "rewrite the dev module for hot patching: trampolines, reserved room, "
               "symbol map (cached)",
        "actions": [(_run, (crate,))],
        "file_dep": [str(linked), str(manifest)],
        "targets": [str(module), str(symbols)],
        "uptodate": [flags_changed(flags(crate))],
        "clean": True,
    }


def _run(crate: Crate) -> TaskFailed | None:
    from rust_hmr.prepare import PrepareError
    from rust_hmr.shim import LinkManifest

    linked, manifest_path = compile_stage.dev_outputs(crate)
    try:
        result = prepared(crate, linked, LinkManifest.load(manifest_path),
                          crate.settings.reserve_pages, crate.settings.spare_slots)
    except (PrepareError, OSError) as err:
        return TaskFailed(f"cannot prepare {crate.name}: {err}")
    module, symbols = outputs(crate)
    write_if_changed(module, result.module)
    write_if_changed(symbols, result.symbol_bytes)
    how = "from the cache" if result.cached else f"in {result.seconds:.2f} s"
    say(NAME, f"{module.name}: {len(result.module):,} bytes, {how}")
    return None


def _symbols_bytes(symbols: Any) -> bytes:
    """The symbol map as `SymbolMap.dump` writes it."""
    fd, name = tempfile.mkstemp(suffix=".msgpack")
    os.close(fd)
    path = Path(name)
    try:
        symbols.dump(path)
        return path.read_bytes()
    finally:
        path.unlink(missing_ok=True)
