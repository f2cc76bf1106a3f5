"""What can go wrong while reading a wasm-bindgen module (the tree is in the package docstring)."""

from __future__ import annotations

from rust_hmr.bindgen.schema import SCHEMA_VERSION


class BindgenError(Exception):
    """Base of every error the bindgen subsystem raises on purpose."""


class SchemaVersionError(BindgenError):
    """The module was built by a wasm-bindgen whose schema this reader does not speak.

    wasm-bindgen requires the macro's schema and the CLI's to match exactly; so do we.
    """

    def __init__(self, found: str, supported: str) -> None:
        super().__init__(
            f"the module was built with wasm-bindgen schema version {found!r}, but only "
            f"{supported!r} is supported: depend on wasm-bindgen = \"={supported}\""
        )
        self.found = found
        self.supported = supported


class SectionDecodeError(BindgenError):
    """The `__wasm_bindgen_unstable` section is malformed: cut short, a bad tag, bad UTF-8."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(f"__wasm_bindgen_unstable: {message} (at offset {offset:#x})")
        self.message = message
        self.offset = offset


class DescriptorError(BindgenError):
    """A describe function produced a u32 stream that is not a valid type descriptor."""


class DescribeError(BindgenError):
    """Running a describe function in wasmtime failed (a trap, a missing export)."""


class UnsupportedError(BindgenError):
    """The module uses a wasm-bindgen feature the glue does not implement (named in the text)."""

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} is not supported by rust-hmr's glue for wasm-bindgen "
                         f"{SCHEMA_VERSION}")
        self.what = what
