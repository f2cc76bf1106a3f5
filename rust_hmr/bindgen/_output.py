"""The module the page loads: the raw cargo output with what only the bindgen step needed removed.

- the `__wasm_bindgen_unstable` section goes (the descriptions carry what it said);
- the `__wbindgen_describe_*` exports go (their bodies stay: they are dead code, and rewriting
  the code section would move every function's offset that DWARF and the patch linker use);
- the function table is exported as `__indirect_function_table` if it is not exported yet: the
  glue calls closure shims through it.

Closures need no rewrite. wasm-bindgen's CLI replaces each `__wbindgen_describe_closure` call
with an import made for that closure type; but the call passes, at run time, the table slot of
the closure's describe function, which `read_bindings` already resolved to the closure's type.
The runtime implements `__wbindgen_describe_closure` itself and looks the type up by that slot,
so the raw code runs unchanged, and a patch with a new closure type only ships one more
description.
"""

from __future__ import annotations

from rust_hmr.bindgen._describe import DESCRIBE_PREFIX
from rust_hmr.bindgen._section import SECTION_NAME
from rust_hmr.wasm import Section, WasmFile
from rust_hmr.wasm.sections.exports import Export
from rust_hmr.wasm.sections.imports import ExternKind

TABLE_EXPORT = "__indirect_function_table"


def output_module(wasm: WasmFile) -> tuple[bytes, str]:
    """The module to serve, and the name its function table is exported under."""
    # A fresh export section: the caller's WasmFile stays as it was.
    out = WasmFile([Section(s.id, s.name, s.payload, s.offset, s.size_width)
                    if s.name == "export" else s
                    for s in wasm.sections if s.name != SECTION_NAME])  # fmt: skip
    exports: list[Export] = [e for e in wasm.decoded("export", [])
                             if not e.name.startswith(DESCRIBE_PREFIX)]  # fmt: skip
    table = next((e.name for e in exports if e.kind == ExternKind.TABLE and e.index == 0), None)
    if table is None and (wasm.get("table") is not None or _imports_table(wasm)):
        exports.append(Export(TABLE_EXPORT, ExternKind.TABLE, 0))
        table = TABLE_EXPORT
    out.set("export", exports)
    return out.to_bytes(), table or TABLE_EXPORT


def _imports_table(wasm: WasmFile) -> bool:
    return any(i.kind == ExternKind.TABLE for i in wasm.decoded("import", []))
