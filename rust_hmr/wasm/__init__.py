"""The wasm toolkit: read and write core modules and relocatable objects.

`parse` splits a file into sections, decoded on request (`WasmFile.decoded`); `to_bytes`
writes it back byte for byte when nothing changed. Malformed input raises `WasmDecodeError`.
"""

from rust_hmr.wasm.demangle import demangle, demangle_or_raw
from rust_hmr.wasm.errors import WasmDecodeError
from rust_hmr.wasm.module import Section, SectionId, WasmFile, decode_all, parse

__all__ = [
    "Section",
    "SectionId",
    "WasmDecodeError",
    "WasmFile",
    "decode_all",
    "demangle",
    "demangle_or_raw",
    "parse",
]
