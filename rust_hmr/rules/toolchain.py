"""Stage `toolchain`: find a rustc with the wasm32 std, and wasm-ld; write their fingerprint.

The fingerprint file (`toolchain.json`) is what the compile stages depend on; it changes only
when the toolchain does. Finding a toolchain runs rustc, cargo and wasm-ld (about 0.2 s), so the
task is up to date while a cheap probe matches the last one: the environment variables discovery
reads, and the size and mtime of the binaries and of the target's library directory.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from doit.exceptions import TaskFailed

from rust_hmr.rules.crate import Crate
from rust_hmr.rules.stage import say, write_if_changed

__all__ = ["fingerprint_file", "read_fingerprint", "task"]

NAME = "toolchain"
# What toolchain discovery reads from the environment (see rust_hmr.toolchain).
PROBE_ENV = ("RUST_HMR_RUSTC", "RUST_HMR_CARGO", "RUST_HMR_WASM_LD", "PATH", "HOME",
             "CARGO_HOME", "RUSTUP_HOME")


def fingerprint_file(crate: Crate) -> Path:
    """The fingerprint and versions of the toolchain: what the compile stages depend on."""
    return crate.stage_dir(NAME) / "toolchain.json"


def probe_file(crate: Crate) -> Path:
    """What the last discovery saw (environment, binaries' stat), for the up-to-date check."""
    return crate.stage_dir(NAME) / "probe.json"


def read_fingerprint(crate: Crate) -> str:
    """The fingerprint the last `toolchain` run wrote."""
    return str(json.loads(fingerprint_file(crate).read_text())["fingerprint"])


def task(crate: Crate) -> dict[str, Any]:
    """The doit task."""
    return {
        "basename": NAME,
        "doc": "find rustc (with the wasm32 std), cargo and wasm-ld; fingerprint them",
        "actions": [(_run, (crate,))],
        "targets": [str(fingerprint_file(crate)), str(probe_file(crate))],
        "uptodate": [(_probe_unchanged, (probe_file(crate),))],
        "clean": True,
    }


def _run(crate: Crate) -> TaskFailed | None:
    from rust_hmr.toolchain import ToolchainError, clear_cache, find_toolchain

    clear_cache()  # this task runs because something changed: look again
    try:
        toolchain = find_toolchain()
    except ToolchainError as err:
        return TaskFailed(str(err))
    record = {
        "fingerprint": toolchain.fingerprint,
        "rustc": toolchain.rustc_version,
        "cargo": toolchain.cargo_version,
        "wasm_ld": toolchain.wasm_ld_version,
        "target": toolchain.target,
    }
    write_if_changed(fingerprint_file(crate), _json(record))
    binaries = [toolchain.rustc, toolchain.cargo, toolchain.wasm_ld, toolchain.target_lib_dir]
    paths = [str(p) for p in binaries]
    probe = {"env": _env(), "paths": paths, "stats": _stats(paths)}
    write_if_changed(probe_file(crate), _json(probe))
    say(NAME, f"{toolchain.rustc_version} ({toolchain.origin}); "
              f"{toolchain.wasm_ld_version.splitlines()[0]}")
    return None


def _probe_unchanged(path: Path) -> bool:
    try:
        probe = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    return bool(probe.get("env") == _env() and probe.get("stats") == _stats(probe["paths"]))


def _env() -> dict[str, str | None]:
    return {key: os.environ.get(key) for key in PROBE_ENV}


def _stats(paths: list[str]) -> list[list[int] | None]:
    stats: list[list[int] | None] = []
    for path in paths:
        try:
            st = os.stat(path)
        except OSError:
            stats.append(None)
        else:
            stats.append([st.st_size, st.st_mtime_ns, st.st_ino])
    return stats


def _json(value: Any) -> bytes:
    return (json.dumps(value, indent=2, sort_keys=True) + "\n").encode()
