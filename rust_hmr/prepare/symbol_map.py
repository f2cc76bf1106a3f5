"""The symbol map of a prepared main module, saved beside it as msgpack.

It is what the patch linker reads instead of re-parsing the main module on every save: each
function with its index, names, type, and (for hot functions) its table slot and trampoline;
each data symbol with its address and size, local ones included; and the room reserved for
patches.
"""

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import msgpack

FORMAT_VERSION = 3


@dataclass(frozen=True)
class FunctionInfo:
    """A function of the main module. `index` is its index in the function index space.

    A hot function (defined in the app's own crate) has `slot`, the table slot that holds its
    current code, and `trampoline`, the index of the function that every direct call now goes
    through. `names` holds every symbol name the linker gave it (aliases included).
    """

    index: int
    name: str
    demangled: str
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


@dataclass(frozen=True)
class DataInfo:
    """A data symbol: `address` in linear memory, `segment` the output segment's name
    (".rodata", ".data", ".bss", or ".tdata" ...)."""

    name: str
    demangled: str
    address: int
    size: int
    segment: str
    local: bool
    path: str = ""  # demangled without the hash: the same item across type changes

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

    def functions_named(self, name: str) -> list[FunctionInfo]:
        """Every function with this mangled name. Several when a unit-local function (an
        `#[inline]` copy, a method only a vtable uses) was instantiated in several units:
        the same source function each time."""
        if not self._by_name:
            for f in self.functions:
                for n in (f.name, *f.names):
                    self._by_name.setdefault(n, []).append(f)
        return self._by_name.get(name, [])

    def function(self, name: str) -> FunctionInfo:
        """A function by any of its mangled names; KeyError if the module has none such."""
        found = self.functions_named(name)
        if not found:
            raise KeyError(name)
        return found[0]

    @property
    def hot(self) -> list[FunctionInfo]:
        return [f for f in self.functions if f.hot]

    def dump(self, path: Path) -> None:
        record = asdict(self)
        record.pop("_by_name")
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(msgpack.packb(record, use_bin_type=True))
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> "SymbolMap":
        raw = msgpack.unpackb(path.read_bytes(), raw=False)
        if raw.get("version") != FORMAT_VERSION:
            raise ValueError(f"{path}: symbol map version {raw.get('version')}, expected "
                             f"{FORMAT_VERSION}: rebuild")
        functions = [FunctionInfo(**{**f, "params": tuple(f["params"]),
                                     "results": tuple(f["results"]), "names": tuple(f["names"]),
                                     "callers": tuple(f["callers"])})
                     for f in raw.pop("functions")]
        data = [DataInfo(**d) for d in raw.pop("data")]
        reserved = Reserved(**raw.pop("reserved"))
        return cls(functions, data, reserved, **raw)
