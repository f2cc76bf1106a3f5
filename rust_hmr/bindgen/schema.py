"""The program records of wasm-bindgen's schema 0.2.83, as frozen dataclasses.

Each `#[wasm_bindgen]` item adds one `Program` to the module's `__wasm_bindgen_unstable` custom
section. The structures are those of `wasm-bindgen-shared` 0.2.83 (its `shared_api!` macro),
field for field and in the same order, because the order *is* the encoding: `_codec` walks these
annotations to decode the bytes. Rust enums are unions of dataclasses, one per variant, in the
variant order (the tag byte is the index); `X | None` is a Rust `Option<X>`.
"""

from __future__ import annotations

from dataclasses import dataclass

SCHEMA_VERSION = "0.2.83"


# Where an import comes from (`#[wasm_bindgen(module = ...)]` and friends).
@dataclass(frozen=True)
class NamedModule:
    """A local JS file of the crate (`module = "/snippets/x.js"`), by its unique identifier."""

    name: str


@dataclass(frozen=True)
class RawNamedModule:
    """A module specifier passed through as written (`raw_module = "./x.js"`)."""

    name: str


@dataclass(frozen=True)
class InlineModule:
    """The `index`-th `inline_js` snippet of the program's crate."""

    index: int


ImportModule = NamedModule | RawNamedModule | InlineModule


# Method kinds and operations (`#[wasm_bindgen(method, getter, ...)]`).
@dataclass(frozen=True)
class Regular:
    pass


@dataclass(frozen=True)
class Getter:
    property: str


@dataclass(frozen=True)
class Setter:
    property: str


@dataclass(frozen=True)
class IndexingGetter:
    pass


@dataclass(frozen=True)
class IndexingSetter:
    pass


@dataclass(frozen=True)
class IndexingDeleter:
    pass


OperationKind = Regular | Getter | Setter | IndexingGetter | IndexingSetter | IndexingDeleter


@dataclass(frozen=True)
class Constructor:
    pass


@dataclass(frozen=True)
class Operation:
    is_static: bool
    kind: OperationKind


MethodKind = Constructor | Operation


@dataclass(frozen=True)
class MethodData:
    class_: str
    kind: MethodKind


@dataclass(frozen=True)
class Function:
    """A function's JS-facing facts; its types come from its describe function instead."""

    arg_names: tuple[str, ...]
    asyncness: bool
    name: str  # the JS name (`js_name`, else the Rust name)
    generate_typescript: bool
    variadic: bool


# Import kinds.
@dataclass(frozen=True)
class ImportFunction:
    shim: str  # the wasm import's field name, `__wbg_<name>_<hash>`
    catch: bool
    variadic: bool
    assert_no_shim: bool
    method: MethodData | None
    structural: bool
    function: Function


@dataclass(frozen=True)
class ImportStatic:
    name: str
    shim: str


@dataclass(frozen=True)
class ImportType:
    name: str
    instanceof_shim: str
    vendor_prefixes: tuple[str, ...]


@dataclass(frozen=True)
class ImportEnum:
    pass


ImportKind = ImportFunction | ImportStatic | ImportType | ImportEnum


@dataclass(frozen=True)
class Import:
    module: ImportModule | None
    js_namespace: tuple[str, ...] | None
    kind: ImportKind


@dataclass(frozen=True)
class Export:
    class_: str | None
    comments: tuple[str, ...]
    consumed: bool
    function: Function
    method_kind: MethodKind
    start: bool


@dataclass(frozen=True)
class EnumVariant:
    name: str
    value: int
    comments: tuple[str, ...]


@dataclass(frozen=True)
class Enum:
    name: str
    variants: tuple[EnumVariant, ...]
    comments: tuple[str, ...]
    generate_typescript: bool


@dataclass(frozen=True)
class StructField:
    name: str
    readonly: bool
    comments: tuple[str, ...]
    generate_typescript: bool


@dataclass(frozen=True)
class Struct:
    name: str
    fields: tuple[StructField, ...]
    comments: tuple[str, ...]
    is_inspectable: bool
    generate_typescript: bool


@dataclass(frozen=True)
class LocalModule:
    identifier: str
    contents: str


@dataclass(frozen=True)
class Program:
    """What one `#[wasm_bindgen]` item (or block) declares."""

    exports: tuple[Export, ...]
    enums: tuple[Enum, ...]
    imports: tuple[Import, ...]
    structs: tuple[Struct, ...]
    typescript_custom_sections: tuple[str, ...]
    local_modules: tuple[LocalModule, ...]
    inline_js: tuple[str, ...]
    unique_crate_identifier: str
    package_json: str | None
