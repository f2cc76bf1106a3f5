"""The JS modules a wasm-bindgen crate imports from, and the snippet files that hold its own.

    #[wasm_bindgen(module = "/snippets/x.js")]   a file of the crate: written to
                                                 snippets/<crate id>/snippets/x.js
    #[wasm_bindgen(inline_js = "...")]           snippets/<crate id>/inline<n>.js, numbered per
                                                 crate in program order
    #[wasm_bindgen(raw_module = "./x.js")], a module = "name" that is no file of the crate:
                                                 the specifier as written

Each used module gets a key (its snippet path or specifier); descriptions name modules by key,
and the entry module imports each one and hands the runtime `{key: namespace}`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePosixPath

from rust_hmr.bindgen._errors import BindgenError
from rust_hmr.bindgen._section import Record
from rust_hmr.bindgen.schema import (
    ImportFunction,
    ImportModule,
    ImportStatic,
    ImportType,
    InlineModule,
    NamedModule,
    Program,
    RawNamedModule,
)

SNIPPETS = "snippets"


def _shims(program: Program) -> list[str]:
    shims = []
    for imp in program.imports:
        kind = imp.kind
        if isinstance(kind, ImportFunction | ImportStatic):
            shims.append(kind.shim)
        elif isinstance(kind, ImportType):
            shims.append(kind.instanceof_shim)
    return shims


def _safe(path: str) -> str:
    parts = PurePosixPath(path).parts
    if not parts or path.startswith("/") or "\\" in path or ".." in parts:
        raise BindgenError(f"snippet path {path!r} would leave the snippets directory")
    return path


@dataclass
class JsModules:
    """Resolves import modules to keys; collects the snippet files and specifiers used."""

    records: tuple[Record, ...]
    files: dict[str, str] = field(default_factory=dict)  # path under the output dir -> text
    specifiers: dict[str, str] = field(default_factory=dict)  # key -> import specifier

    def __post_init__(self) -> None:
        self._program: dict[str, int] = {}
        self._inline_offset: list[int] = []
        per_crate: dict[str, int] = {}
        for i, record in enumerate(self.records):
            program = record.program
            for shim in _shims(program):
                self._program.setdefault(shim, i)
            crate = program.unique_crate_identifier
            self._inline_offset.append(per_crate.get(crate, 0))
            per_crate[crate] = per_crate.get(crate, 0) + len(program.inline_js)
        self._local = {m.identifier: m.contents for r in self.records
                       for m in r.program.local_modules}  # fmt: skip

    def key(self, module: ImportModule | None, shim: str) -> str | None:
        """The key of the module an import (by its shim) comes from; None for the global scope."""
        if module is None:
            return None
        if isinstance(module, RawNamedModule):
            return self._specifier(module.name, module.name)
        if isinstance(module, NamedModule):
            if module.name not in self._local:
                return self._specifier(module.name, module.name)
            return self._file(_safe(module.name), self._local[module.name])
        assert isinstance(module, InlineModule)
        index = self._program[shim]
        program = self.records[index].program
        if module.index >= len(program.inline_js):
            raise BindgenError(f"{shim} imports inline JS snippet {module.index}, but its "
                               f"program has {len(program.inline_js)}")
        number = self._inline_offset[index] + module.index
        path = _safe(f"{program.unique_crate_identifier}/inline{number}.js")
        return self._file(path, program.inline_js[module.index])

    def _specifier(self, key: str, specifier: str) -> str:
        self.specifiers[key] = specifier
        return key

    def _file(self, path: str, contents: str) -> str:
        relative = f"{SNIPPETS}/{path}"
        self.files[relative] = contents
        return self._specifier(path, f"./{relative}")
