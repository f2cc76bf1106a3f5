"""The JS glue of a wasm-bindgen module, for the web target: what `wasm-bindgen --target web`
writes, made from `Bindings` and the runtime `rust_hmr/runtime/bindgen.js`.

    glue = generate_glue(Path("app.wasm").read_bytes(), name="app")
    write_glue(glue, Path("out"))     # app.js, app_bg.wasm, bindgen.js, snippets/...

The page then runs `import init, { greet } from "./app.js"; await init(); greet("you")`.

`app.js` is small and holds no adapter code: it is the template `rust_hmr/runtime/entry.js` with
its slots filled (`_entry`). It imports the runtime, which imports the crate's JS modules and
builds every adapter from the descriptions (JSON, `_plan`) at load time, and re-exports the
app's functions, classes and enums. A patch can use the same runtime instance:
`glue.add(descriptions_of_new_imports, modules)` (see `describe_module`).

Everything is computed before anything is written: a module the glue can't serve raises
BindgenError (UnsupportedError names the feature) and leaves the output directory alone.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rust_hmr.bindgen._bindings import Bindings, as_module, read_bindings
from rust_hmr.bindgen._entry import check_export_names, entry_module_text
from rust_hmr.bindgen._modules import JsModules
from rust_hmr.bindgen._output import output_module
from rust_hmr.bindgen._plan import Planner
from rust_hmr.runtime import RUNTIME_DIR
from rust_hmr.wasm import WasmFile

RUNTIME_NAME = "bindgen.js"


@dataclass(frozen=True)
class GlueTimings:
    """Seconds spent: reading the bindings (describe step), planning, writing the module."""

    bindings: float
    plan: float
    output: float

    @property
    def total(self) -> float:
        return self.bindings + self.plan + self.output


@dataclass(frozen=True)
class Glue:
    name: str
    entry: str  # the ES module `<name>.js`
    wasm: bytes  # the module to serve as `<name>_bg.wasm`
    descriptions: dict[str, Any]
    snippets: dict[str, str]  # path (under the output dir) -> contents
    timings: GlueTimings = field(compare=False)

    @property
    def wasm_name(self) -> str:
        return f"{self.name}_bg.wasm"

    def files(self) -> dict[str, bytes]:
        """Every file of the glue, by its path relative to the output directory."""
        return {f"{self.name}.js": self.entry.encode(), self.wasm_name: self.wasm,
                RUNTIME_NAME: (RUNTIME_DIR / RUNTIME_NAME).read_bytes(),
                **{path: text.encode() for path, text in self.snippets.items()}}  # fmt: skip


def describe_module(wasm: WasmFile, bindings: Bindings) -> tuple[dict[str, Any], JsModules]:
    """The descriptions of a module's imports, closures, exports and classes, and the JS
    modules they use."""
    modules = JsModules(bindings.records)
    return Planner(bindings, wasm, modules).describe_all(), modules


def generate_glue(
    wasm: bytes | WasmFile,
    bindings: Bindings | None = None,
    *,
    name: str = "app",
    runtime: str = f"./{RUNTIME_NAME}",
    cache_dir: Path | None = None,
) -> Glue:
    """The glue for a raw wasm-bindgen module (as cargo built it). `runtime` is the specifier
    the entry module imports the runtime by; `cache_dir` keeps the describe step's compiled
    code (see `read_bindings`) when `bindings` are not given."""
    wasm = as_module(wasm)
    start = time.perf_counter()
    bindings = bindings or read_bindings(wasm, cache_dir)
    read = time.perf_counter()
    descriptions, modules = describe_module(wasm, bindings)
    planned = time.perf_counter()
    module, table = output_module(wasm)
    descriptions["table"] = table
    entry = entry_module(descriptions, modules, runtime, f"{name}_bg.wasm")
    timings = GlueTimings(read - start, planned - read, time.perf_counter() - planned)
    return Glue(name, entry, module, descriptions, dict(modules.files), timings)


def public_names(descriptions: dict[str, Any]) -> list[str]:
    """What the entry module exports by name, sorted: free functions (but the start function,
    which `init` runs), classes, enums. Raises BindgenError for a name it can't export."""
    names = [d["name"] for d in descriptions["exports"]
             if d["class"] is None and d["wasm"] != descriptions["start"]]  # fmt: skip
    return check_export_names(names + descriptions["classes"] + list(descriptions["enums"]))


def entry_module(descriptions: dict[str, Any], modules: JsModules, runtime: str,
                 wasm_file: str) -> str:  # fmt: skip
    """The text of the ES module the page imports (`runtime/entry.js`, filled): it imports the
    runtime and, through it, the JS modules; its default export instantiates `wasm_file`."""
    return entry_module_text(runtime=runtime, descriptions=descriptions,
                             modules=dict(sorted(modules.specifiers.items())),
                             wasm={"url": wasm_file}, names=public_names(descriptions))


def write_glue(glue: Glue, out_dir: Path) -> list[Path]:
    """Write the glue's files under `out_dir`; returns their paths."""
    written = []
    for relative, data in glue.files().items():
        path = out_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        written.append(path)
    return written
