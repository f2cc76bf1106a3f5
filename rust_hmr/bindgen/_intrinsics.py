"""The intrinsics of wasm-bindgen 0.2.83: imports of `__wbindgen_placeholder__` that the JS glue
provides itself rather than from a `#[wasm_bindgen] extern` block.

The list is the crate's own `externs!` block (`src/lib.rs`) plus its two externref-table imports;
the runtime (`runtime/bindgen.js`, its `INTRINSICS`) implements exactly these names, which a test
checks. An unknown `__wbindgen_*` import is an error that names it.
"""

from __future__ import annotations

PLACEHOLDER_MODULE = "__wbindgen_placeholder__"
EXTERNREF_MODULE = "__wbindgen_externref_xform__"

INTRINSICS: frozenset[str] = frozenset(f"__wbindgen_{name}" for name in (
    "object_clone_ref", "object_drop_ref", "string_new", "number_new",
    "bigint_from_str", "bigint_from_i64", "bigint_from_u64", "bigint_from_i128",
    "bigint_from_u128", "symbol_named_new", "symbol_anonymous_new", "externref_heap_live_count",
    "is_null", "is_undefined", "is_symbol", "is_object", "is_function", "is_string", "is_bigint",
    "typeof", "in", "is_falsy", "as_number", "try_into_number", "neg",
    "bit_and", "bit_or", "bit_xor", "bit_not", "shl", "shr", "unsigned_shr",
    "add", "sub", "div", "checked_div", "mul", "rem", "pow", "lt", "le", "ge", "gt",
    "number_get", "boolean_get", "string_get", "bigint_get_as_i64", "debug_string",
    "throw", "rethrow", "error_new", "cb_drop", "describe", "describe_closure",
    "json_parse", "json_serialize", "jsval_eq", "jsval_loose_eq", "not",
    "memory", "module", "function_table",
))  # fmt: skip

# Used only by `__externref_table_alloc` and friends, which the heap-based glue never calls.
EXTERNREF_INTRINSICS: frozenset[str] = frozenset(
    {"__wbindgen_externref_table_grow", "__wbindgen_externref_table_set_null"})
