"""The entry module of a glue: the template `rust_hmr/runtime/entry.js` with its slots filled.

    text = entry_module_text(runtime="./bindgen.js", descriptions=descriptions,
                             modules={"crate/inline0.js": "./snippets/crate/inline0.js"},
                             wasm={"url": "app_bg.wasm"}, names=["greet"])

The template is the one JavaScript the glue writes per app, shared by `generate_glue`, the dev
server's glue (`live`) and the bundle (`served`). Its slots take data only: a quoted slot
(`"@name@"`) a JSON value, the comment slot (`/* @names@ */`) the app's export names, each
checked to be a JS identifier that neither a keyword nor one of the template's own names takes.
The template's opening comment, which documents the slots, is left out.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rust_hmr.bindgen._errors import BindgenError
from rust_hmr.runtime import RUNTIME_DIR

ENTRY_TEMPLATE = RUNTIME_DIR / "entry.js"
NAMES_SLOT = "names"
# What the template itself binds; `default` is its default export.
OWN_NAMES = frozenset({"glue", "$entry", "default"})
_SLOT = re.compile(r'"@(\w+)@"|/\* @(\w+)@ \*/')
_IDENTIFIER = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
# Reserved words, and what strict (module) code can't bind: `export const { new } = ...` fails.
_KEYWORDS = frozenset({
    "await", "break", "case", "catch", "class", "const", "continue", "debugger", "default",
    "delete", "do", "else", "enum", "export", "extends", "false", "finally", "for", "function",
    "if", "import", "in", "instanceof", "new", "null", "return", "super", "switch", "this",
    "throw", "true", "try", "typeof", "var", "void", "while", "with", "yield", "let", "static",
    "implements", "interface", "package", "private", "protected", "public", "arguments", "eval",
})


def check_export_names(names: Iterable[str]) -> list[str]:
    """`names`, sorted; raises BindgenError for one the entry module can't export as a
    `const`, or for two that are the same."""
    names = list(names)
    for name in names:
        if not _IDENTIFIER.fullmatch(name) or name in _KEYWORDS or name in OWN_NAMES:
            raise BindgenError(f"the export {name!r} cannot be an ES module export name here")
    if len(set(names)) != len(names):
        raise BindgenError(f"two exports share a JS name: {sorted(names)}")
    return sorted(names)


def entry_module_text(*, runtime: str, descriptions: Mapping[str, Any],
                      modules: Mapping[str, str], wasm: Mapping[str, Any],
                      names: Sequence[str]) -> str:  # fmt: skip
    """The entry module: the template with the runtime's specifier, the descriptions, the JS
    modules by key, the main module (`{"url"}`; a bundle's `{"url", "integrity", "start":
    true}`) and the export names filled in."""
    values = {"runtime": runtime, "descriptions": descriptions, "modules": dict(modules),
              "wasm": dict(wasm)}  # fmt: skip
    return fill(template_code(), values, check_export_names(names))


def template_code() -> str:
    """The template without its opening comment (what it is and its slots: documentation for
    whoever reads the template, not for every page that loads the entry)."""
    lines = ENTRY_TEMPLATE.read_text().splitlines(keepends=True)
    while lines and lines[0].startswith("//"):
        lines.pop(0)
    return "".join(lines)


def fill(template: str, values: Mapping[str, Any], names: Sequence[str]) -> str:
    """`template` with each quoted slot replaced by its value as JSON and the names slot by
    `names`, in one pass (a value's text is never read as a slot). Every slot must be there
    once, and have a value."""
    slots = list(_SLOT.finditer(template))
    quoted = sorted(m[1] for m in slots if m[1] is not None)
    comments = [m[2] for m in slots if m[2] is not None]
    if quoted != sorted(values) or comments != [NAMES_SLOT]:
        raise ValueError(f"the entry template has the slots {quoted} and {comments}, not "
                         f"{sorted(values)} and {[NAMES_SLOT]}")

    def replace(match: re.Match[str]) -> str:
        return ", ".join(names) if match[2] is not None else json.dumps(values[match[1]])

    return _SLOT.sub(replace, template)
