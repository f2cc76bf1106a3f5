"""wasm-bindgen support: read what the wasm-bindgen CLI reads from a raw module.

A crate built with `#[wasm_bindgen]` (schema 0.2.83, the version Debian packages) carries its
interface in two places: the `__wasm_bindgen_unstable` custom section (names, namespaces, JS
modules: `_section`, `schema`, `_codec`) and one describe function per import and export, run
to learn the types (`descriptors`; closures found by `_calls`): from summaries of their bodies
where those are plain (`_summary`, `_replay`: no compile), in wasmtime otherwise (`_describe`).
`read_bindings` joins the two into `Bindings`. The record types are in `schema` (with
`schema.SCHEMA_VERSION`), the type tree in `descriptors`.

`generate_glue` makes the JS glue for the web target from them (`glue`): descriptions of every
import, closure and export (`_plan`, `_abi`, `_modules`) that the runtime
`rust_hmr/runtime/bindgen.js` builds adapters from, an entry module (the template
`rust_hmr/runtime/entry.js` with its slots filled with data: `_entry`), and the module to serve
(`_output`).

Exceptions:

    BindgenError
    ├── SchemaVersionError    built with another wasm-bindgen schema (names found and supported)
    ├── SectionDecodeError    the custom section is malformed (what, and the file offset)
    ├── DescriptorError       a describe function's words are no valid type descriptor
    ├── DescribeError         a describe function could not run (trap, missing export)
    └── UnsupportedError      a feature the glue does not implement (named, with the version)
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
    UnsupportedError,
)
from rust_hmr.bindgen._section import Record, decode_records, read_records
from rust_hmr.bindgen.descriptors import Descriptor, Tag, decode_descriptor
from rust_hmr.bindgen.glue import Glue, GlueTimings, describe_module, generate_glue, write_glue
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
    "Glue",
    "GlueTimings",
    "Program",
    "Record",
    "SchemaVersionError",
    "SectionDecodeError",
    "Tag",
    "Timings",
    "UnsupportedError",
    "decode_descriptor",
    "decode_records",
    "describe_module",
    "descriptors",
    "export_name",
    "generate_glue",
    "read_bindings",
    "read_records",
    "schema",
    "write_glue",
]
