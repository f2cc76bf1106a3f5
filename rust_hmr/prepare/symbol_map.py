"""The symbol map of a prepared main module, saved beside it as msgpack.

It is what the patch linker reads instead of re-parsing the main module on every save: each
function with its index, names, type, and (for hot functions) its table slot and trampoline;
each data symbol with its address and size, local ones included; and the room reserved for
patches.
"""

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import astuple, dataclass, field, fields
from functools import cached_property
from itertools import repeat
from operator import attrgetter
from pathlib import Path
from typing import Any, TypeVar

import msgpack

from rust_hmr.atomic import write_atomic
from rust_hmr.prepare import collector
from rust_hmr.wasm.demangle import demangle_or_raw

# 4: rows of plain lists in field order (no field names, no demangled names: those are
# computed when asked for).
FORMAT_VERSION = 4


_ANONYMOUS = (".L", "anon.")


def is_anonymous(name: str) -> bool:
    """A local label or an anonymous constant (`.L...`, `anon....`): never matched by name."""
    return name.startswith(_ANONYMOUS)


@dataclass(frozen=True)
class FunctionInfo:
    """A function of the main module. `index` is its index in the function index space.

    A hot function (defined in the app's own crate) has `slot`, the table slot that holds its
    current code, and `trampoline`, the index of the function that every direct call now goes
    through. `names` holds every symbol name the linker gave it (aliases included).
    `demangled` is computed on first use: a large app has tens of thousands of functions, and
    only the few that a reason or a report names are ever shown.
    """

    index: int
    name: str
    type_index: int
    params: tuple[str, ...]
    results: tuple[str, ...]
    names: tuple[str, ...] = ()
    imported: bool = False
    hot: bool = False
    slot: int | None = None
    trampoline: int | None = None
    table_index: int | None = None  # where the module's own function pointers to it point
    callers: tuple[int, ...] = ()  # functions that call it directly (hot functions only)

    @cached_property
    def demangled(self) -> str:
        return demangle_or_raw(self.name)


@dataclass(frozen=True)
class DataInfo:
    """A data symbol: `address` in linear memory, `segment` the output segment's name
    (".rodata", ".data", ".bss", or ".tdata" ...). `demangled` and `path` are computed on
    first use."""

    name: str
    address: int
    size: int
    segment: str
    local: bool

    @cached_property
    def demangled(self) -> str:
        return demangle_or_raw(self.name)

    @cached_property
    def path(self) -> str:
        """Demangled without the hash: the same item across type changes."""
        return demangle_or_raw(self.name, hash=False)

    @property
    def writable(self) -> bool:
        return not self.segment.startswith(".rodata")


@dataclass(frozen=True)
class Reserved:
    """Room for patches that the app never touches.

    Memory: pages between the module's original initial size and the raised one; Rust's wasm
    allocator takes memory only through `memory.grow`, so it never hands these bytes out.
    Table: slots after the trampoline slots, for function pointers that patches add.
    """

    memory_start: int
    memory_size: int
    table_start: int
    table_size: int


@dataclass
class SymbolMap:
    functions: list[FunctionInfo]
    data: list[DataInfo]
    reserved: Reserved
    table_export: str
    memory_export: str
    stack_pointer_export: str
    module_blake3: str = ""
    version: int = FORMAT_VERSION
    _by_name: dict[str, list[FunctionInfo]] = field(default_factory=dict, repr=False,
                                                    compare=False)
    _data_by_name: dict[str, DataInfo] = field(default_factory=dict, repr=False, compare=False)
    _writable_paths: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    def functions_named(self, name: str) -> list[FunctionInfo]:
        """Every function with this mangled name. Several when a unit-local function (an
        `#[inline]` copy, a method only a vtable uses) was instantiated in several units:
        the same source function each time."""
        if not self._by_name:
            for f in self.functions:
                for n in (f.name, *f.names):
                    self._by_name.setdefault(n, []).append(f)
        return self._by_name.get(name, [])

    def data_named(self) -> dict[str, DataInfo]:
        """The data symbols by mangled name (the first one of a name), made on first use:
        every patch asks, and the map of the live code does not change."""
        if not self._data_by_name:
            for info in self.data:
                self._data_by_name.setdefault(info.name, info)
        return self._data_by_name

    def writable_paths(self) -> dict[str, str]:
        """The named writable data symbols' mangled names (the first one of a path) by their
        demangled path without the hash, made on first use; anonymous ones left out."""
        if not self._writable_paths:
            for info in self.data:
                if info.writable and not is_anonymous(info.name):
                    self._writable_paths.setdefault(info.path, info.name)
        return self._writable_paths

    def function(self, name: str) -> FunctionInfo:
        """A function by any of its mangled names; KeyError if the module has none such."""
        found = self.functions_named(name)
        if not found:
            raise KeyError(name)
        return found[0]

    @property
    def hot(self) -> list[FunctionInfo]:
        return [f for f in self.functions if f.hot]

    def to_bytes(self) -> bytes:
        """The msgpack record: each function and data symbol a list of its fields in order."""
        record = {
            "version": self.version,
            "functions": list(map(_FUNCTION_ROW, self.functions)),
            "data": list(map(_DATA_ROW, self.data)),
            "reserved": astuple(self.reserved),
            "table_export": self.table_export,
            "memory_export": self.memory_export,
            "stack_pointer_export": self.stack_pointer_export,
            "module_blake3": self.module_blake3,
        }
        packed: bytes = msgpack.packb(record, use_bin_type=True)
        return packed

    def dump(self, path: Path) -> None:
        write_atomic(path, self.to_bytes())

    @classmethod
    @collector.paused()
    def from_bytes(cls, blob: bytes, where: str = "symbol map") -> "SymbolMap":
        # use_list=False: every array comes back a tuple, as the dataclasses hold them.
        raw = msgpack.unpackb(blob, raw=False, use_list=False)
        if not isinstance(raw, dict) or raw.get("version") != FORMAT_VERSION:
            found = raw.get("version") if isinstance(raw, dict) else None
            raise ValueError(f"{where}: symbol map version {found}, expected "
                             f"{FORMAT_VERSION}: rebuild")
        functions = _loaded(FunctionInfo, raw["functions"])
        data = _loaded(DataInfo, raw["data"])
        return cls(functions, data, Reserved(*raw["reserved"]), raw["table_export"],
                   raw["memory_export"], raw["stack_pointer_export"], raw["module_blake3"])

    @classmethod
    def load(cls, path: Path) -> "SymbolMap":
        return cls.from_bytes(path.read_bytes(), str(path))


T = TypeVar("T", FunctionInfo, DataInfo)


def instances(cls: type[T], rows: Iterable[Sequence[Any]], count: int) -> list[T]:
    """One `cls` per row of its field values in order (`rows` yields `count` of them), equal
    to `cls(*row)` but built in C: each instance's dict takes its row's fields at once, where
    the frozen `__init__` would set each field through `object.__setattr__` (a large app has
    40k functions, read and written on every full build)."""
    names = tuple(f.name for f in fields(cls))
    out: list[T] = list(map(object.__new__, repeat(cls, count)))
    deque(map(dict.update, map(vars, out), map(zip, repeat(names), rows)), maxlen=0)
    if out and not vars(out[-1]):
        raise ValueError(f"fewer than {count} {cls.__name__} rows")
    return out


def _loaded(cls: type[T], rows: Sequence[Sequence[Any]]) -> list[T]:
    if not set(map(len, rows)) <= {len(fields(cls))}:
        raise ValueError(f"{cls.__name__} rows must have {len(fields(cls))} fields")
    return instances(cls, rows, len(rows))


# The fields of an instance as a tuple, in order (not `astuple`: it deep-copies each value).
_FUNCTION_ROW = attrgetter(*(f.name for f in fields(FunctionInfo)))
_DATA_ROW = attrgetter(*(f.name for f in fields(DataInfo)))
