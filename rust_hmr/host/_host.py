"""The headless host: a main module running in wasmtime, and the modules linked against it."""

from __future__ import annotations

import difflib
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeAlias

import wasmtime

from rust_hmr.backtrace import Frame, RawFrame, Symbolicator, format_frames, panic_message
from rust_hmr.backtrace import patch_of_module_name as _patch_of
from rust_hmr.host._imports import (
    Exports,
    Extern,
    ExternType,
    HostError,
    ImportMap,
    ImportValue,
    Missing,
    kind,
    link,
    type_text,
)
from rust_hmr.host._module_cache import CompiledModule, default_cache_dir, engine, load_module

AFTER_PATCH = "rust_hmr_after_patch"  # the app's export run after each patch
# The page interface, as the browser runtime gives it (runtime/page.js): import name -> its
# type, and the Host method that answers it.
PAGE_IMPORTS = {
    "log": ("(func (param i32 i32))", "_log"),
    "dom_set_text": ("(func (param i32 i32 i32 i32))", "_dom_set_text"),
}
_LOGGED_IN_TRAP = 5  # log lines a HostTrap quotes: a Rust panic's message arrives as one
_HINT = "give it in Host(..., imports={module: {name: value}}), or pass missing='trap'"


class HasModulePath(Protocol):
    """A build record that knows where its main module is."""

    @property
    def module_path(self) -> Path: ...


ModuleSource: TypeAlias = "str | os.PathLike[str] | bytes | HasModulePath"


class HostTrap(HostError):
    """Wasm code trapped (a Rust panic, an out-of-bounds access, `unreachable`...).

    The message gives the reason first, then the panic message if the app's panic hook logged
    one (`panic`), the lines the module logged during the failing call (`logs`), then the
    backtrace: `frames` (`rust_hmr.backtrace.Frame`: demangled name, file:line from DWARF,
    whether it is the app's own code, main module or patch) and `backtrace`, the same as text.
    Without the debug info, `backtrace` is wasmtime's own (`wasm_backtrace`).

    The instance stays usable, but its memory is as the trap left it: no destructor ran, so a
    `RefCell` borrowed or a lock taken at the time stays taken. The host puts `__stack_pointer`
    back, which the trap would otherwise leak.
    """

    def __init__(
        self, what: str, message: str, code: wasmtime.TrapCode | None, logs: list[str],
        frames: list[Frame] | None = None,
    ) -> None:
        backtrace, _, cause = message.partition("\nCaused by:\n")
        reason = cause.strip() or backtrace.strip()
        self.wasm_backtrace = backtrace.strip() if cause else ""
        self.frames: list[Frame] = frames or []
        self.backtrace = format_frames(self.frames) if self.frames else self.wasm_backtrace
        self.panic = panic_message(logs)
        text = f"{what} trapped: {reason}"
        if self.panic:
            text += f"\n{self.panic}"
        if logs:
            quoted = "\n".join(f"    {line}" for line in logs[-_LOGGED_IN_TRAP:])
            text += f"\nlogged during the call:\n{quoted}"
        if self.backtrace:
            text += f"\nbacktrace:\n{self.backtrace}" if self.frames else f"\n{self.backtrace}"
        super().__init__(text)
        self.what = what
        self.reason = reason
        self.trap_code = code
        self.logs = logs

    @property
    def app_frame(self) -> Frame | None:
        """The innermost frame of the app's own code: where it panicked."""
        return next((frame for frame in self.frames if frame.app), None)


@dataclass(eq=False)
class ModuleInstance:
    """One instance in a Host's Store: the main module, or a module linked against it."""

    host: Host
    instance: wasmtime.Instance
    exports: Exports  # a read-only Mapping, filled as names are asked for
    label: str

    def export(self, name: str) -> Extern:
        try:
            return self.exports[name]
        except KeyError:
            close = difflib.get_close_matches(name, self.exports.names, n=3)
            hint = f"; close names: {', '.join(close)}" if close else ""
            raise HostError(f"{self.label} has no export {name!r}{hint}") from None

    def call(self, name: str, *args: int | float) -> Any:
        """Calls the exported function `name`; a trap raises HostTrap naming it."""
        func = self.export(name)
        if not isinstance(func, wasmtime.Func):
            raise HostError(f"export {name!r} of {self.label} is a {kind(func)}, not a function")
        store = self.host.store
        ty = func.type(store)
        if len(args) != len(ty.params):
            given = len(args)
            raise TypeError(f"{name} {type_text(ty)} takes {len(ty.params)} arguments, got {given}")
        mark = len(self.host.logs)
        stack_pointer = self.host.stack_pointer
        saved = None if stack_pointer is None else stack_pointer.value(store)
        try:
            return func(store, *args)
        except BaseException as err:
            # A trap, or a Python exception from an import, skips the function epilogues that
            # give the shadow stack back: restore its pointer, or each failure leaks stack.
            if stack_pointer is not None:
                stack_pointer.set_value(store, saved)
            if not isinstance(err, wasmtime.Trap | wasmtime.WasmtimeError):
                raise
            code = err.trap_code if isinstance(err, wasmtime.Trap) else None
            frames = self.host.symbolicate(err) if isinstance(err, wasmtime.Trap) else []
            raise HostTrap(f"{name}()", str(err), code, self.host.logs[mark:],
                           frames) from err


class Host:
    """Runs a main module in wasmtime, headless, and links further modules (patches) to it.

    `module` is a .wasm path, its bytes, or a build record with a `module_path`. Everything lives
    in one `wasmtime.Store` (`host.store`): wasmtime can't mix handles of different Stores.

    Imports: `env.log(ptr, len)` appends the UTF-8 line to `host.logs` (and prints it when
    `echo`); `env.dom_set_text(id_ptr, id_len, text_ptr, text_len)`, the page interface of the
    examples, records the text in `host.page[id]`; an imported memory or table is created with
    the import's limits; `imports` adds or overrides others (`{"env": {"now": fn}}`: a
    callable gets the import's own signature). An import nobody provides raises
    UnresolvedImportError, or with `missing="trap"` becomes a function that traps when called.

    The compiled code is cached in `cache_dir` (default: `.rust-hmr-compiled/` beside the
    module file; bytes without a `cache_dir` are not cached), so a second Host of the same
    module starts in milliseconds. A Host is not thread-safe.
    """

    def __init__(
        self,
        module: ModuleSource,
        *,
        imports: ImportMap | None = None,
        missing: Missing = "error",
        echo: bool = False,
        cache_dir: str | os.PathLike[str] | None = None,
        use_cache: bool = True,
    ) -> None:
        start = time.perf_counter()
        self.path, wasm = _read_source(module)
        self.label = self.path.name if self.path else "main module"
        if not use_cache:
            cache = None
        elif cache_dir is not None:
            cache = Path(cache_dir)
        else:
            cache = default_cache_dir(self.path) if self.path else None
        self.compiled: CompiledModule = _compile(wasm, cache, self.label)
        self.engine: wasmtime.Engine = engine()
        self.store = wasmtime.Store(self.engine)
        self.logs: list[str] = []
        self.page: dict[str, str] = {}  # element id -> text, from env.dom_set_text
        self.echo = echo
        self.missing: Missing = missing
        self.memory: wasmtime.Memory | None = None
        self.table: wasmtime.Table | None = None
        self._imports: ImportMap = imports or {}
        self._provided: dict[tuple[str, str], Extern] = {}

        import_types = self.compiled.module.imports
        self.import_modules = frozenset(imp.module for imp in import_types)
        externs = link(self.store, import_types, self._resolve_main, missing, _HINT)
        for imp, extern in zip(import_types, externs, strict=True):
            self._provided[(imp.module, imp.name or "")] = extern
        self.main = self._instantiate(self.compiled.module, externs, self.label)
        self.memory = self.memory or _first(self.main.exports, wasmtime.Memory, "memory")
        self.table = self.table or _first(
            self.main.exports, wasmtime.Table, "__indirect_function_table"
        )
        sp = self.main.exports.get("__stack_pointer")
        self.stack_pointer = (
            sp if isinstance(sp, wasmtime.Global) and sp.type(self.store).mutable else None
        )
        self.instances: list[ModuleInstance] = [self.main]
        self.applied: list[int] = []  # ids of the patches applied, in order
        self._wasm = wasm  # for the backtraces of traps; read on the first one
        self._linked: list[bytes] = []  # modules instantiated since, patches among them
        self._symbolicator: Symbolicator | None = None
        self.symbolicate_seconds: list[float] = []  # per trap: the time its frames took
        self.start_seconds = time.perf_counter() - start  # compile or cache load, + instantiate

    def __repr__(self) -> str:
        source = "cache" if self.compiled.from_cache else "compiled"
        return f"<Host {self.label} ({source}), {len(self.exports)} exports>"

    # The main instance

    @property
    def instance(self) -> wasmtime.Instance:
        return self.main.instance

    @property
    def exports(self) -> Exports:
        """The main instance's exports: a read-only Mapping from name to extern."""
        return self.main.exports

    def export(self, name: str) -> Extern:
        return self.main.export(name)

    def call(self, name: str, *args: int | float) -> Any:
        """Calls the main module's export `name`; returns its result (None, a value, a list)."""
        return self.main.call(name, *args)

    # Memory

    def read_bytes(self, ptr: int, length: int) -> bytes:
        memory, start = self._span(ptr, length)
        return bytes(memory.read(self.store, start, start + length))

    def read_str(self, ptr: int, length: int) -> str:
        """`length` bytes of UTF-8 at `ptr`; invalid UTF-8 raises UnicodeDecodeError."""
        return self.read_bytes(ptr, length).decode("utf-8")

    def write_bytes(self, ptr: int, data: bytes) -> None:
        memory, start = self._span(ptr, len(data))
        memory.write(self.store, data, start)

    def _span(self, ptr: int, length: int) -> tuple[wasmtime.Memory, int]:
        if self.memory is None:
            raise HostError(f"{self.label} has no memory")
        start = ptr & 0xFFFF_FFFF  # i32 results arrive signed
        size = self.memory.data_len(self.store)
        if length < 0 or start + length > size:
            raise HostError(f"bytes {start}..{start + length} are outside memory ({size} bytes)")
        return self.memory, start

    # Further modules

    def instantiate(
        self,
        module: bytes | bytearray | wasmtime.Module,
        extra_imports: ImportMap | None = None,
        *,
        label: str = "linked module",
    ) -> ModuleInstance:
        """Instantiates `module` in this host's Store, linked against the main instance.

        Imports from module `rust-hmr:main` resolve against the main instance: a memory import
        to the host's memory, a table import to its table, anything else to the main instance's
        export of that name (`__stack_pointer`, functions by mangled name, data-address
        globals). Imports from any other module are the app's own (`env.log`, say): they get
        what the main module was given for the same module and name. `extra_imports` come
        first.
        Active data and element segments write into the shared memory and table, so
        instantiating a patch applies it. A `wasmtime.Module` must come from `host.engine`.
        """
        if isinstance(module, wasmtime.Module):
            compiled = module
        else:
            compiled = _compile(bytes(module), None, label).module
            self._linked.append(bytes(module))
        extra = extra_imports or {}

        def resolve(mod: str, name: str, ty: ExternType) -> ImportValue | None:
            value = extra.get(mod, {}).get(name)
            return value if value is not None else self._resolve_linked(mod, name, ty)

        externs = link(self.store, compiled.imports, resolve, self.missing, _HINT)
        linked = self._instantiate(compiled, externs, label)
        self.instances.append(linked)
        return linked

    def apply(self, patch: object) -> ModuleInstance | None:
        """Apply a `rust_hmr.Patch`: instantiating it writes its new functions into their
        trampoline slots and its new data into the reserved pages; then the app's
        `rust_hmr_after_patch` export runs, if it has one (a trap there raises HostTrap with the
        patch applied). An empty patch (no codegen unit changed) does nothing. Patches must be
        applied in the order they were made."""
        from rust_hmr.link.outcomes import Patch

        if not isinstance(patch, Patch):
            raise TypeError(
                f"Host.apply takes a rust_hmr.Patch, not {type(patch).__name__}: after a "
                "FullReload, build() again and start a new Host; after a CompileError, fix the "
                "code and rebuild")
        if patch.empty:
            return None
        linked = self.instantiate(patch.module, label=f"patch {patch.id}")
        self.applied.append(patch.id)
        if isinstance(self.exports.get(AFTER_PATCH), wasmtime.Func):
            self.call(AFTER_PATCH)  # its newest version: the export is the trampoline
        return linked

    def symbolicate(self, trap: wasmtime.Trap) -> list[Frame]:
        """A trap's frames with demangled names and file:line (empty when they can't be read:
        the trap itself matters more than its backtrace)."""
        start = time.perf_counter()
        try:
            if self._symbolicator is None:
                self._symbolicator = Symbolicator(self._wasm)
            for data in self._linked:  # patches applied since the last trap
                self._symbolicator.add_module(data)
            self._linked = []
            raw = [RawFrame(_patch_of(f.module_name), f.func_index, f.module_offset,
                            f.func_name) for f in trap.frames or []]
            return self._symbolicator.frames(raw)
        except Exception:  # a bug here must not hide the trap itself
            return []
        finally:
            self.symbolicate_seconds.append(time.perf_counter() - start)

    # Internals

    def _resolve_main(self, module: str, name: str, ty: ExternType) -> ImportValue | None:
        given = self._imports.get(module, {}).get(name)
        if isinstance(given, wasmtime.Memory):
            self.memory = self.memory or given
        elif isinstance(given, wasmtime.Table):
            self.table = self.table or given
        if given is not None:
            return given
        if isinstance(ty, wasmtime.MemoryType):
            self.memory = self.memory or wasmtime.Memory(self.store, ty)
            return self.memory
        if isinstance(ty, wasmtime.TableType):
            self.table = self.table or wasmtime.Table(self.store, ty, None)
            return self.table
        if module == "env" and name in PAGE_IMPORTS:
            wanted, method = PAGE_IMPORTS[name]
            if type_text(ty) != wanted:
                raise HostError(f"env.{name} is {type_text(ty)}; the host provides {wanted}")
            provided: ImportValue = getattr(self, method)
            return provided
        return None

    def _resolve_linked(self, module: str, name: str, ty: ExternType) -> ImportValue | None:
        """A patch's import: from the main instance (module `rust-hmr:main`, by export name;
        the memory and the table by kind), else what the main module was given itself."""
        from rust_hmr.link.linker import MODULE as MAIN

        if module == MAIN:
            if isinstance(ty, wasmtime.MemoryType):
                return self.memory
            if isinstance(ty, wasmtime.TableType):
                return self.table
            return self.main.exports.get(name)
        if (module, name) in self._provided:
            return self._provided[(module, name)]
        return self._imports.get(module, {}).get(name)

    def _instantiate(
        self, module: wasmtime.Module, externs: list[Extern], label: str
    ) -> ModuleInstance:
        mark = len(self.logs)
        try:
            instance = wasmtime.Instance(self.store, module, externs)
        except wasmtime.Trap as err:  # a start function or an out-of-bounds segment
            logs = self.logs[mark:]
            raise HostTrap(f"instantiating {label}", str(err), err.trap_code, logs) from err
        except wasmtime.WasmtimeError as err:
            raise HostError(f"cannot instantiate {label}: {err}") from err
        return ModuleInstance(self, instance, Exports(self.store, module, instance), label)

    def _dom_set_text(self, id_ptr: int, id_len: int, text_ptr: int, text_len: int) -> None:
        self.page[self.read_str(id_ptr, id_len)] = self.read_str(text_ptr, text_len)

    def _log(self, ptr: int, length: int) -> None:
        line = self.read_bytes(ptr, length).decode("utf-8", errors="replace")
        self.logs.append(line)
        if self.echo:
            print(line, flush=True)


def _read_source(module: ModuleSource) -> tuple[Path | None, bytes]:
    if isinstance(module, bytes | bytearray | memoryview):
        return None, bytes(module)
    path = Path(module.module_path if hasattr(module, "module_path") else module)
    try:
        return path, path.read_bytes()
    except OSError as err:
        raise HostError(f"cannot read module {path}: {err}") from err


def _compile(wasm: bytes, cache_dir: Path | None, label: str) -> CompiledModule:
    try:
        return load_module(wasm, cache_dir)
    except wasmtime.WasmtimeError as err:
        raise HostError(f"{label} is not a valid wasm module: {err}") from err


def _first(exports: Exports, cls: type, preferred: str) -> Any:
    """The export `preferred` if it is a `cls`, else the first export that is one."""
    if isinstance(exports.get(preferred), cls):
        return exports[preferred]
    return next((value for value in exports.values() if isinstance(value, cls)), None)
