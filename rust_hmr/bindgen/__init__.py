"""wasm-bindgen support: read what the wasm-bindgen CLI reads from a raw module.

A crate built with `#[wasm_bindgen]` (schema 0.2.83, the version Debian packages) carries its
interface in two places: the `__wasm_bindgen_unstable` custom section (names, namespaces, JS
modules: `_section`, `schema`, `_codec`) and one describe function per import and export, run
in wasmtime to learn the types (`_describe`, `descriptors`; closures found by `_calls`).
`read_bindings` joins the two into `Bindings`. The record types are in `schema` (with
`schema.SCHEMA_VERSION`), the type tree in `descriptors`.

Exceptions:

    BindgenError
    ├── SchemaVersionError    built with another wasm-bindgen schema (names found and supported)
    ├── SectionDecodeError    the custom section is malformed (what, and the file offset)
    ├── DescriptorError       a describe function's words are no valid type descriptor
    └── DescribeError         a describe function could not run (trap, missing export)
"""

from rust_hmr.bindgen import descriptors, schema
from rust_hmr.bindgen._bindings import (
    Bindings,
    BoundExport,
    BoundImport,
    Timings,
    export_name,
    read_bindings,
)
from rust_hmr.bindgen._describe import ClosureSite, Describer
from rust_hmr.bindgen._errors import (
    BindgenError,
    DescribeError,
    DescriptorError,
    SchemaVersionError,
    SectionDecodeError,
)
from rust_hmr.bindgen._section import Record, decode_records, read_records
from rust_hmr.bindgen.descriptors import Descriptor, Tag, decode_descriptor
from rust_hmr.bindgen.schema import Program

__all__ = [
    "BindgenError",
    "Bindings",
    "BoundExport",
    "BoundImport",
    "ClosureSite",
    "DescribeError",
    "Describer",
    "Descriptor",
    "DescriptorError",
    "Program",
    "Record",
    "SchemaVersionError",
    "SectionDecodeError",
    "Tag",
    "Timings",
    "decode_descriptor",
    "decode_records",
    "descriptors",
    "export_name",
    "read_bindings",
    "read_records",
    "schema",
]
