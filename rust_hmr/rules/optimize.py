"""Stage `optimize`: the release module made small for the web.

0. A wasm-bindgen module (one with a `__wasm_bindgen_unstable` section) first gets its JS glue,
   a cached action of its own (`bindgen`, see `rust_hmr.bindgen.served`), and the module to
   serve is the one the glue gives: its section and describe exports gone, its function table
   exported. This comes before anything else on purpose. The glue learns the module's types by
   running its `__wbindgen_describe_*` exports and reads the section, which `strip = "all"`
   would drop; wasm-opt would inline and merge the describe functions the glue reads, and
   keep them alive for as long as they are exported. Once the glue has read them and dropped
   their exports, wasm-opt removes them as dead code. What the glue's descriptions name
   survives it: export names, the exported table and its slots (an exported table's element
   segments are never moved) and the import names. The glue's parts go to `glue.json` beside
   the module, `null` for a module without wasm-bindgen; the bundle writes them out.
1. Custom sections dropped with the wasm toolkit, by the `strip` setting: `debug` (default) drops
   the DWARF sections (`.debug_*`: Debian's std brings about 5 MB of them into release builds)
   and keeps `name`, so stack traces still name functions; `all` drops every custom section;
   `none` keeps them.
2. binaryen's `wasm-opt` with the `wasm-opt` setting's arguments, when it is installed (Debian:
   `apt-get install binaryen`); never required. Its version enters the action key.

Both are cached actions; their keys do not involve the toolchain, only the module's bytes (and,
for the glue, blake3 of the code that makes it).
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import blake3
from doit.exceptions import TaskFailed

from rust_hmr.rules import compile as compile_stage
from rust_hmr.rules.checkers import flags_changed
from rust_hmr.rules.crate import Crate
from rust_hmr.rules.stage import StageResult, run_cached, say, write_if_changed
from rust_hmr.runtime import RUNTIME_DIR

__all__ = ["glue_output", "output", "strip_custom_sections", "task"]

NAME = "optimize"
VERSION = 1
BINDGEN = "bindgen"
BINDGEN_VERSION = 1
NO_GLUE = b"null\n"
# What makes the glue: its key changes with this code (rust_hmr.bindgen is not imported when
# the tasks are made: it loads wasmtime).
_GLUE_CODE = (Path(__file__).resolve().parent.parent / "bindgen", RUNTIME_DIR / "bindgen.js")


def output(crate: Crate) -> Path:
    """The optimized release module."""
    return crate.stage_dir(NAME) / f"{crate.name}.wasm"


def glue_output(crate: Crate) -> Path:
    """The glue's parts (`rust_hmr.bindgen.served.GlueParts` as JSON), or `null`."""
    return crate.stage_dir(NAME) / "glue.json"


def glue_code_digest() -> str:
    """blake3 of the bindgen package's sources and the runtime."""
    folder, runtime = _GLUE_CODE
    digest = blake3.blake3()
    for path in [*sorted(folder.glob("*.py")), runtime]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


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
        "targets": [str(output(crate)), str(glue_output(crate))],
        "uptodate": [flags_changed({"strip": settings.strip, "wasm_opt": settings.wasm_opt,
                                    "binary": _binary_signature(wasm_opt),
                                    "glue": glue_code_digest()})],
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

    module, glue = source.read_bytes(), NO_GLUE
    try:
        glued = _glue(crate, module)
    except _GlueFailed as err:
        return TaskFailed(str(err))
    if glued is not None:
        module, glue = glued.outputs["module.wasm"], glued.outputs["glue.json"]

    def build() -> dict[str, bytes]:
        wasm = strip_custom_sections(module, settings.strip)
        if wasm_opt:
            wasm = _optimize(wasm_opt, args, wasm)
        return {"module.wasm": wasm}

    try:
        result = run_cached(crate, NAME, VERSION, toolchain="", flags=flags,
                            inputs={"module.wasm": blake3.blake3(module).hexdigest()},
                            build=build)
    except _WasmOptFailed as err:
        return TaskFailed(str(err))
    wasm = result.outputs["module.wasm"]
    write_if_changed(output(crate), wasm)
    write_if_changed(glue_output(crate), glue)
    done = [f"strip {settings.strip}"]
    done.append(f"wasm-opt {' '.join(args)}" if wasm_opt else
                "wasm-opt off" if not settings.wasm_opt else "wasm-opt not installed")
    how = "from the cache" if result.cached else f"in {result.seconds:.2f} s"
    say(NAME, f"{source.stat().st_size:,} -> {len(wasm):,} bytes ({', '.join(done)}), {how}")
    return None


class _WasmOptFailed(Exception):
    pass


class _GlueFailed(Exception):
    pass


def _glue(crate: Crate, module: bytes) -> StageResult | None:
    """The `bindgen` action on the release module: the module to serve and the glue's parts,
    or None for a module that does not use wasm-bindgen. A module the glue can't serve raises
    _GlueFailed with the glue's own error (BindgenError names the feature or the versions)."""
    if b"__wasm_bindgen_unstable" not in module:
        return None  # a std-only crate: no need to load the bindgen package (and wasmtime)
    from rust_hmr.bindgen import BindgenError
    from rust_hmr.bindgen.schema import SCHEMA_VERSION
    from rust_hmr.bindgen.served import bundle_glue, has_bindings
    from rust_hmr.wasm import WasmDecodeError, parse

    try:
        wasm = parse(module)
    except WasmDecodeError:
        return None  # not for the glue to say: wasm-opt or the browser will
    if not has_bindings(wasm):
        return None
    seconds: list[float] = []

    def build() -> dict[str, bytes]:
        glue = bundle_glue(wasm)
        seconds.append(glue.timings.total)
        return {"module.wasm": glue.wasm, "glue.json": glue.parts.to_json()}

    started = time.perf_counter()
    try:
        result = run_cached(crate, BINDGEN, BINDGEN_VERSION, toolchain="",
                            flags={"schema": SCHEMA_VERSION, "code": glue_code_digest()},
                            inputs={"module.wasm": blake3.blake3(module).hexdigest()},
                            build=build)
    except BindgenError as err:
        raise _GlueFailed(f"wasm-bindgen: {err}") from None
    if result.cached:
        how = f"from the cache in {time.perf_counter() - started:.2f} s"
    else:
        how = f"in {seconds[0]:.2f} s"
    say(BINDGEN, f"glue for {crate.name}.wasm ({len(module):,} -> "
                 f"{len(result.outputs['module.wasm']):,} bytes), {how}")
    return result


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
