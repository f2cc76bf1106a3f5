"""Stage `optimize`: the release module made small for the web.

1. Custom sections dropped with the wasm toolkit, by the `strip` setting: `debug` (default) drops
   the DWARF sections (`.debug_*`: Debian's std brings about 5 MB of them into release builds)
   and keeps `name`, so stack traces still name functions; `all` drops every custom section;
   `none` keeps them.
2. binaryen's `wasm-opt` with the `wasm-opt` setting's arguments, when it is installed (Debian:
   `apt-get install binaryen`); never required. Its version enters the action key.

A cached action; its key does not involve the toolchain, only the module's bytes.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from doit.exceptions import TaskFailed

from rust_hmr.rules import compile as compile_stage
from rust_hmr.rules.checkers import file_blake3, flags_changed
from rust_hmr.rules.crate import Crate
from rust_hmr.rules.stage import run_cached, say, write_if_changed

__all__ = ["output", "strip_custom_sections", "task"]

NAME = "optimize"
VERSION = 1


def output(crate: Crate) -> Path:
    """The optimized release module."""
    return crate.stage_dir(NAME) / f"{crate.name}.wasm"


def strip_custom_sections(wasm: bytes, mode: str) -> bytes:
    """`wasm` without the custom sections `mode` (debug, all, none) drops."""
    from rust_hmr.wasm.module import parse

    if mode == "none":
        return wasm
    module = parse(wasm)
    before = len(module.sections)
    module.sections = [s for s in module.sections if not (s.is_custom and _drops(s.name, mode))]
    return wasm if len(module.sections) == before else module.to_bytes()


def _drops(name: str, mode: str) -> bool:
    if mode == "all":
        return True
    return name.startswith((".debug", "reloc.", "linking", "external_debug_info",
                            "sourceMappingURL"))


def _wasm_opt() -> Path | None:
    found = shutil.which("wasm-opt")
    return Path(found) if found else None


def _binary_signature(path: Path | None) -> list[Any] | None:
    if path is None:
        return None
    st = path.stat()
    return [str(path), st.st_size, st.st_mtime_ns]


def task(crate: Crate) -> dict[str, Any]:
    """The doit task."""
    source = compile_stage.release_output(crate)
    settings = crate.settings
    wasm_opt = _wasm_opt() if settings.wasm_opt else None
    return {
        "basename": NAME,
        "doc": "strip debug sections; wasm-opt when installed (cached)",
        "actions": [(_run, (crate,))],
        "file_dep": [str(source)],
        "targets": [str(output(crate))],
        "uptodate": [flags_changed({"strip": settings.strip, "wasm_opt": settings.wasm_opt,
                                    "binary": _binary_signature(wasm_opt)})],
        "clean": True,
    }


def _run(crate: Crate) -> TaskFailed | None:
    settings = crate.settings
    source = compile_stage.release_output(crate)
    wasm_opt = _wasm_opt() if settings.wasm_opt else None
    args = shlex.split(settings.wasm_opt) if wasm_opt else []
    if wasm_opt and settings.strip != "all":
        args.append("--debuginfo")  # keep the name section through wasm-opt
    version = _version(wasm_opt) if wasm_opt else None
    flags = {"strip": settings.strip, "wasm_opt": args if wasm_opt else None,
             "wasm_opt_version": version}

    def build() -> dict[str, bytes]:
        wasm = strip_custom_sections(source.read_bytes(), settings.strip)
        if wasm_opt:
            wasm = _optimize(wasm_opt, args, wasm)
        return {"module.wasm": wasm}

    try:
        result = run_cached(crate, NAME, VERSION, toolchain="", flags=flags,
                            inputs={"module.wasm": file_blake3(source)}, build=build)
    except _WasmOptFailed as err:
        return TaskFailed(str(err))
    wasm = result.outputs["module.wasm"]
    write_if_changed(output(crate), wasm)
    done = [f"strip {settings.strip}"]
    done.append(f"wasm-opt {' '.join(args)}" if wasm_opt else
                "wasm-opt off" if not settings.wasm_opt else "wasm-opt not installed")
    how = "from the cache" if result.cached else f"in {result.seconds:.2f} s"
    say(NAME, f"{source.stat().st_size:,} -> {len(wasm):,} bytes ({', '.join(done)}), {how}")
    return None


class _WasmOptFailed(Exception):
    pass


def _version(binary: Path) -> str:
    done = subprocess.run([str(binary), "--version"], capture_output=True, text=True,
                          check=False)
    return done.stdout.strip() or done.stderr.strip()


def _optimize(binary: Path, args: list[str], wasm: bytes) -> bytes:
    with tempfile.TemporaryDirectory(prefix="rust-hmr-wasm-opt-") as tmp:
        src, dst = Path(tmp) / "in.wasm", Path(tmp) / "out.wasm"
        src.write_bytes(wasm)
        cmd = [str(binary), *args, str(src), "-o", str(dst)]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise _WasmOptFailed(
                f"wasm-opt failed ({shlex.join(cmd)}):\n{done.stderr.strip()}\n"
                "set wasm-opt = false in [package.metadata.rust-hmr] to bundle without it")
        return dst.read_bytes()
