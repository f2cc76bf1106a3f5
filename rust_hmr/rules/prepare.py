"""Stage `prepare`: the main-module rewrite of the dev build (trampolines, reserved room,
exports) and its symbol map; see `rust_hmr.prepare`.

A cached action: its key covers the linked module, the blake3 of each codegen-unit object (they
decide which functions are hot) and the reserved room (`reserve-pages`, `spare-slots`). The
outputs go to `stages/prepare/`: `<crate>.wasm` and `symbols.msgpack`.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from doit.exceptions import TaskFailed

from rust_hmr.rules import compile as compile_stage
from rust_hmr.rules.checkers import file_blake3, flags_changed
from rust_hmr.rules.crate import Crate
from rust_hmr.rules.stage import run_cached, say, write_if_changed

__all__ = ["outputs", "task"]

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
    manifest = LinkManifest.load(manifest_path)
    module_name = f"{crate.name}.wasm"
    inputs = {module_name: file_blake3(linked)}
    inputs.update({f"objects/{Path(o.path).name}": o.blake3 for o in manifest.hot_objects})

    def build() -> dict[str, bytes]:
        from rust_hmr.prepare import prepare_linked

        prepared = prepare_linked(linked.read_bytes(), manifest, crate.settings.reserve_pages,
                                  crate.settings.spare_slots)
        return {module_name: prepared.data, "symbols.msgpack": _symbols_bytes(prepared.symbols)}

    try:
        result = run_cached(crate, NAME, VERSION, toolchain="", flags=flags(crate),
                            inputs=inputs, build=build)
    except (PrepareError, OSError) as err:
        return TaskFailed(f"cannot prepare {crate.name}: {err}")
    module, symbols = outputs(crate)
    write_if_changed(module, result.outputs[module_name])
    write_if_changed(symbols, result.outputs["symbols.msgpack"])
    how = "from the cache" if result.cached else f"in {result.seconds:.2f} s"
    say(NAME, f"{module.name}: {len(result.outputs[module_name]):,} bytes, {how}")
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
