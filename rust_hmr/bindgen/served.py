"""The glue of a production bundle: what `rust-hmr bundle` keeps of a module's glue, and its entry
module under the bundle's own file names.

    glue = bundle_glue(raw_wasm)              # BundleGlue: the module to serve, the rest as JSON
    text = bundle_entry(glue.parts, runtime="./bindgen.<hash>.js",
                        modules={key: "./snippets/<...>.<hash>.js"}, wasm="./app.<hash>.wasm",
                        integrity="sha384-...")

`generate_glue` writes files under fixed names (`app.js` imports `./bindgen.js`). A bundle names
every file by its hash, and a file's hash depends on the names it imports, so the entry is
written last, from the parts (`GlueParts`: the descriptions, each JS module's specifier, the
snippet files), once the other files have their names. It is the same template as the dev
entry's (`_entry`); here it has the runtime fetch the module with its `integrity` and run `init`
right away: the page needs no script of its own.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rust_hmr.bindgen._bindings import as_module, read_bindings
from rust_hmr.bindgen._entry import entry_module_text
from rust_hmr.bindgen._output import output_module
from rust_hmr.bindgen._section import SECTION_NAME
from rust_hmr.bindgen.glue import GlueTimings, describe_module, public_names
from rust_hmr.wasm import WasmFile

__all__ = ["BundleGlue", "GlueParts", "bundle_entry", "bundle_glue", "has_bindings"]


@dataclass(frozen=True)
class GlueParts:
    """Everything of a glue but the module and the runtime, as the bundle caches it."""

    descriptions: dict[str, Any]
    specifiers: dict[str, str]  # JS module key -> the specifier `generate_glue` would import
    snippets: dict[str, str]  # path (`snippets/...`) -> contents

    def to_json(self) -> bytes:
        data = {"descriptions": self.descriptions, "specifiers": self.specifiers,
                "snippets": self.snippets}  # fmt: skip
        return (json.dumps(data, sort_keys=True, ensure_ascii=False) + "\n").encode()

    @classmethod
    def from_json(cls, data: bytes) -> GlueParts:
        parsed = json.loads(data)
        return cls(parsed["descriptions"], parsed["specifiers"], parsed["snippets"])

    def snippet_of(self, key: str) -> str | None:
        """The snippet file a module key names, or None for a module the page resolves (a
        `raw_module`, or a `module` that is no file of the crate)."""
        path = self.specifiers[key].removeprefix("./")
        return path if path in self.snippets else None


@dataclass(frozen=True)
class BundleGlue:
    """A module's glue for a bundle: the module to serve and the parts of its entry."""

    wasm: bytes  # section and describe exports gone, table exported; not yet optimized
    parts: GlueParts
    timings: GlueTimings


def has_bindings(wasm: WasmFile) -> bool:
    """True when the module carries a `__wasm_bindgen_unstable` section (a wasm-bindgen
    module, as cargo built it)."""
    return wasm.get(SECTION_NAME) is not None


def bundle_glue(wasm: bytes | WasmFile) -> BundleGlue:
    """The glue of a raw wasm-bindgen module, as `generate_glue` makes it, for a bundle.
    Raises BindgenError (the module's schema, a feature the glue lacks) before returning
    anything."""
    import time

    wasm = as_module(wasm)
    start = time.perf_counter()
    bindings = read_bindings(wasm)
    read = time.perf_counter()
    descriptions, modules = describe_module(wasm, bindings)
    public_names(descriptions)  # the entry's export names, checked now
    planned = time.perf_counter()
    module, table = output_module(wasm)
    descriptions["table"] = table
    timings = GlueTimings(read - start, planned - read, time.perf_counter() - planned)
    parts = GlueParts(descriptions, dict(modules.specifiers), dict(modules.files))
    return BundleGlue(module, parts, timings)


def bundle_entry(parts: GlueParts, *, runtime: str, modules: Mapping[str, str], wasm: str,
                 integrity: str) -> str:  # fmt: skip
    """The entry module (`runtime/entry.js`, filled): imports the runtime and, through it, the
    JS modules by the specifiers given (`modules` by key; a key not there keeps its own),
    fetches `wasm` with `integrity`, instantiates it and runs its start function, then
    announces the app like the plain loader does (`globalThis.app`, the `app-ready` event).
    Exports `glue`, a default that returns the app's API, and the app's exports by name."""
    specifiers = {key: modules.get(key, parts.specifiers[key]) for key in sorted(parts.specifiers)}
    return entry_module_text(runtime=runtime, descriptions=parts.descriptions,
                             modules=specifiers,
                             wasm={"url": wasm, "integrity": integrity, "start": True},
                             names=public_names(parts.descriptions))
