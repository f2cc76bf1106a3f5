"""A trap's backtrace in the user's terms: demangled names and file:line, main module and patches.

A frame arrives as (module, function index, byte offset in that module): from wasmtime's
`Trap.frames` in the headless host, from a browser's `RuntimeError.stack` through the dev
server. `Symbolicator` turns it into a `Frame`:

- the name from the module's `name` section (the prepared main module keeps rustc's; a patch
  has its own, see `link.linker`), demangled;
- file:line from DWARF. The main module's offsets are true for its own `.debug_line` once
  they count from the code section (prepare moves sections but no body). A patch carries no
  DWARF: its `rust-hmr.objects` section names the objects it was linked from, and a patch
  body is its object's body, relocated in place, so the offset within the body is the same.

Nothing is read before the first trap; each module's line table is then decoded per compile
unit, as frames need it, and kept. The trampolines prepare adds (and a patch's own) are
dropped from the frames: they only forward a call.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass

from rust_hmr.dwarf import DwarfError
from rust_hmr.dwarf.lines import LineTable, SourceLine
from rust_hmr.link.linker import OBJECTS_SECTION, PATCH_MODULE_NAME, TRAMPOLINE_NAME
from rust_hmr.wasm.demangle import demangle_or_raw
from rust_hmr.wasm.errors import WasmDecodeError
from rust_hmr.wasm.module import WasmFile, parse
from rust_hmr.wasm.sections.imports import ExternKind

__all__ = ["Frame", "RawFrame", "Symbolicator", "format_frames", "panic_message",
           "patch_of_module_name"]

MAIN = 0  # RawFrame.patch of the main module
_TRAMPOLINE_SUFFIX = "." + TRAMPOLINE_NAME
_PATCH_PREFIX = PATCH_MODULE_NAME.split("{", 1)[0]


@dataclass(frozen=True)
class RawFrame:
    """Where a frame's code is: `patch` (0 for the main module), the function's index in that
    module and the byte offset of its instruction in the module file."""

    patch: int
    function: int
    offset: int
    name: str | None = None  # what the engine called it, for a module we don't know


@dataclass(frozen=True)
class Frame:
    """One frame of a backtrace. `function` is demangled (without the hash); `app` says the
    function is the crate's own code (hot: a patch could replace it). `file` is relative to
    the crate for the crate's sources; `path` is the full path DWARF gives."""

    function: str
    mangled: str
    module: str  # "main" or "patch <n>"
    index: int
    offset: int
    app: bool = False
    file: str | None = None
    line: int | None = None
    column: int | None = None
    path: str | None = None

    @property
    def location(self) -> str | None:
        if self.file is None:
            return None
        return f"{self.file}:{self.line}" + (f":{self.column}" if self.column else "")

    def __str__(self) -> str:
        where = f" at {self.location}" if self.location else ""
        patch = f" [{self.module}]" if self.module != "main" else ""
        return f"{self.function}{where}{patch}"

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "location": self.location}


def format_frames(frames: Iterable[Frame]) -> str:
    """The backtrace as text, one numbered frame a line, the app's own frames marked `>`."""
    return "\n".join(f"{'>' if f.app else ' '} {n:2}: {f}" for n, f in enumerate(frames))


def panic_message(logs: list[str]) -> str | None:
    """The panic message among the lines the app logged before it trapped: a panic hook that
    logs (`std::panic::set_hook`, console_error_panic_hook) writes `panicked at ...` last."""
    for at in range(len(logs) - 1, -1, -1):
        if "panicked at" in logs[at]:
            return "\n".join(logs[at:]).strip()
    return None


def patch_of_module_name(name: str | None) -> int:
    """The patch id a module name says (a patch's name section), else MAIN."""
    if name and name.startswith(_PATCH_PREFIX) and name[len(_PATCH_PREFIX):].isdigit():
        return int(name[len(_PATCH_PREFIX):])
    return MAIN


@dataclass(frozen=True)
class _Source:
    """Where a function's DWARF is: a line table and the code offset its body starts at."""

    table: LineTable
    body_address: int


class _ModuleSymbols:
    """Names, bodies and line tables of one module, read on first use."""

    def __init__(self, data: bytes, patch: int) -> None:
        self.patch = patch
        self.label = "main" if patch == MAIN else f"patch {patch}"
        wasm = parse(data)
        self.imported = sum(1 for imp in wasm.decoded("import", [])
                            if imp.kind is ExternKind.FUNCTION)
        code = wasm.get("code")
        self.code_base = code.offset if code is not None else 0
        self.starts = [body.offset for body in (code.decode() if code is not None else [])]
        self.ends = [start + len(body.data) for start, body in
                     zip(self.starts, code.decode() if code is not None else [], strict=True)]
        names = wasm.decoded("name")
        self.names: dict[int, str] = dict(names.functions) if names is not None else {}
        self.hot = {name.removesuffix(_TRAMPOLINE_SUFFIX) for name in self.names.values()
                    if name.endswith(_TRAMPOLINE_SUFFIX)}
        self._wasm: WasmFile | None = wasm
        self._own: LineTable | None = None
        self._objects: list[tuple[LineTable, list[int], int]] | None = None  # patch objects

    def body(self, function: int, offset: int) -> int | None:
        """The index among defined functions, when `offset` lies in that function's body."""
        k = function - self.imported
        if 0 <= k < len(self.starts) and self.starts[k] <= offset < self.ends[k]:
            return k
        return None

    def trampoline(self, function: int) -> bool:
        name = self.names.get(function, "")
        return name == TRAMPOLINE_NAME or name.endswith(_TRAMPOLINE_SUFFIX)

    def source(self, k: int) -> _Source | None:
        """The line table that covers defined function `k`, and the address its body has
        there."""
        if self.patch == MAIN:  # the prepared module keeps its own DWARF
            if self._own is None:
                assert self._wasm is not None
                self._own = LineTable({s.name: s.payload for s in self._wasm.custom(".debug_")})
            return _Source(self._own, self.starts[k] - self.code_base)
        for table, starts, first in self._patch_objects():
            if first <= k < first + len(starts):
                return _Source(table, starts[k - first])
        return None

    def _patch_objects(self) -> list[tuple[LineTable, list[int], int]]:
        """Each object of a patch: its line table, its bodies' code addresses, and the index
        (among the patch's defined functions) of its first function."""
        if self._objects is None:
            self._objects = []
            section = self._wasm.get(OBJECTS_SECTION) if self._wasm is not None else None
            paths = json.loads(section.payload) if section is not None else []
            first = 0
            for path in paths:
                try:
                    with open(path, "rb") as file:
                        data = file.read()
                    obj = parse(data)
                except (OSError, WasmDecodeError):
                    break  # the object store was cleaned: later indices would be wrong
                code = obj.get("code")
                bodies = code.decode() if code is not None else []
                starts = [body.offset - code.offset for body in bodies] if code else []
                table = LineTable({s.name: s.payload for s in obj.custom(".debug_")})
                self._objects.append((table, starts, first))
                first += len(starts)
        return self._objects


class Symbolicator:
    """The modules of one build, main and patches; `frames(raw)` symbolicates a backtrace.

    `add_patch` only keeps the bytes: a patch is read when a trap first has a frame in it.
    """

    def __init__(self, main: bytes) -> None:
        self._data: dict[int, bytes] = {MAIN: main}
        self._modules: dict[int, _ModuleSymbols] = {}

    def add_patch(self, patch_id: int, module: bytes) -> None:
        self._data[patch_id] = module
        self._modules.pop(patch_id, None)

    def add_module(self, module: bytes) -> None:
        """A module instantiated against the main one: a patch when its name section says so
        (its id from there), else of no use for backtraces."""
        try:
            names = parse(module).decoded("name")
        except WasmDecodeError:
            return
        patch = patch_of_module_name(names.module if names is not None else None)
        if patch != MAIN:
            self.add_patch(patch, module)

    def _module(self, patch: int) -> _ModuleSymbols | None:
        if patch not in self._modules:
            data = self._data.get(patch)
            if data is None:
                return None
            self._modules[patch] = _ModuleSymbols(data, patch)
        return self._modules[patch]

    def frames(self, raw: Iterable[RawFrame]) -> list[Frame]:
        """The frames, trampolines left out; a frame of a module this build does not have
        keeps the engine's name and no location."""
        out = []
        for frame in raw:
            module = self._module(frame.patch)
            k = None if module is None else module.body(frame.function, frame.offset)
            if module is None or k is None:
                name = frame.name or f"wasm-function[{frame.function}]"
                out.append(Frame(demangle_or_raw(name, hash=False), name, "unknown module",
                                 frame.function, frame.offset))
                continue
            if module.trampoline(frame.function):
                continue
            mangled = module.names.get(frame.function) or frame.name or \
                f"wasm-function[{frame.function}]"
            app = frame.patch != MAIN or mangled in module.hot
            line = self._line(module, k, frame.offset)
            out.append(Frame(demangle_or_raw(mangled, hash=False), mangled, module.label,
                             frame.function, frame.offset, app,
                             *(_place(line) if line else ())))
        return out

    def _line(self, module: _ModuleSymbols, k: int, offset: int) -> SourceLine | None:
        source = module.source(k)
        if source is None:
            return None
        try:
            return source.table.lookup(source.body_address + offset - module.starts[k])
        except DwarfError:
            return None


def _place(line: SourceLine) -> tuple[str, int, int | None, str]:
    return line.file, line.line, line.column or None, line.path
