"""Where each data symbol of the dirty objects lives in the patched app.

- Writable data that the main module has (statics with interior mutability, `static mut`,
  thread-locals; local symbols included) resolves to the main module's address: state is kept.
  Its size must not have changed, or the patch is refused.
- Writable data the main module lacks (a static added during the session) is placed in the
  reserved pages once; the ledger keeps its address for later patches.
- Read-only data with a name the main module has, at the same size, is written over the main
  module's copy (so unchanged code sees a changed value too); other read-only data (literals,
  anonymous constants, resized statics) is placed new.
Anonymous symbols (`.L...`, `anon....`) are never matched by name.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from rust_hmr.link.ledger import Ledger
from rust_hmr.link.objects import ObjectView
from rust_hmr.link.records import PatchRefused
from rust_hmr.prepare.symbol_map import DataInfo, SymbolMap
from rust_hmr.wasm.demangle import demangle_or_raw
from rust_hmr.wasm.sections.linking import Symbol, SymbolKind

_ANONYMOUS = (".L", "anon.")
_READ_ONLY = (".rodata", ".data.rel.ro")


def is_anonymous(name: str) -> bool:
    return name.startswith(_ANONYMOUS)


def _path(name: str) -> str:
    return demangle_or_raw(name, hash=False)


@dataclass(frozen=True)
class PlacedSegment:
    """A data segment the patch writes: object `obj`'s segment `segment` at `address`."""

    obj: int
    segment: int
    address: int


@dataclass
class DataLayout:
    addresses: dict[tuple[int, int], int]  # (object, symbol index) -> address
    segments: list[PlacedSegment]
    placed_bytes: int


def _segment_symbols(view: ObjectView) -> dict[int, list[tuple[int, Symbol]]]:
    out: dict[int, list[tuple[int, Symbol]]] = {}
    for i, sym in enumerate(view.linking.symbols):
        if sym.kind is SymbolKind.DATA and sym.defined and sym.segment is not None:
            out.setdefault(sym.segment, []).append((i, sym))
    return out


class DataResolver:
    def __init__(self, views: list[ObjectView], symbols: SymbolMap, ledger: Ledger) -> None:
        self.views = views
        self.ledger = ledger
        self.main: dict[str, DataInfo] = {}
        self.main_paths: dict[str, str] = {}  # demangled path without hash -> mangled name
        for info in symbols.data:
            self.main.setdefault(info.name, info)
            if not is_anonymous(info.name) and info.writable:
                self.main_paths.setdefault(info.path, info.name)

    def _existing(self, name: str) -> tuple[int, int] | None:
        """(address, size) of a named static the app already has, in main or the ledger."""
        if is_anonymous(name):
            return None
        if name in self.main:
            return self.main[name].address, self.main[name].size
        return self.ledger.statics.get(name)

    def layout(self) -> DataLayout:
        addresses: dict[tuple[int, int], int] = {}
        placed: list[PlacedSegment] = []
        before = self.ledger.memory_used
        for o, view in enumerate(self.views):
            for seg_index, members in sorted(_segment_symbols(view).items()):
                address, emit = self._place_segment(view, seg_index, members)
                for sym_index, sym in members:
                    addresses[(o, sym_index)] = address + (sym.offset or 0)
                if emit:
                    placed.append(PlacedSegment(o, seg_index, address))
        self._resolve_undefined(addresses)
        return DataLayout(addresses, placed, self.ledger.memory_used - before)

    def _place_segment(self, view: ObjectView, seg_index: int,
                       members: list[tuple[int, Symbol]]) -> tuple[int, bool]:
        """The segment's address, and whether the patch must write its bytes."""
        info = view.linking.segments[seg_index]
        size = len(view.segments[seg_index].data) if seg_index < len(view.segments) else 0
        read_only = info.name.startswith(_READ_ONLY)
        named = [(s, self._existing(s.name or "")) for _, s in members]
        if not read_only:
            found = [(s, e) for s, e in named if e is not None]
            if found:
                bases = set()
                for sym, (address, old_size) in found:
                    if old_size != (sym.size or 0):
                        raise PatchRefused(
                            f"static {_path(sym.name or '')} changed size "
                            f"from {old_size} to {sym.size} bytes: the value it holds can't be "
                            "kept")
                    bases.add(address - (sym.offset or 0))
                if len(bases) != 1 or len(found) != len(named):
                    raise PatchRefused(f"data segment {info.name} changed its layout")
                return bases.pop(), False
        elif len(named) == 1 and named[0][1] is not None:
            sym, (address, old_size) = named[0]
            if old_size == (sym.size or 0) == size and (sym.offset or 0) == 0:
                return address, True  # same-size constant: rewrite it where everyone reads it
        if not read_only:
            self._refuse_retyped(s for s, _ in named)
        address = self.ledger.place(size, 1 << info.alignment, info.name)
        if not read_only:
            for sym in (s for s, _ in named):
                if sym.name and not is_anonymous(sym.name):
                    self.ledger.statics[sym.name] = (address + (sym.offset or 0), sym.size or 0)
        zero_fill = info.name.startswith(".bss")  # reserved pages are still zero: skip writing
        return address, not zero_fill

    def _refuse_retyped(self, symbols: Iterable[Symbol]) -> None:
        """A "new" static whose path the main module already has is the old one with another
        type (rustc's symbol hash covers the type): its state can't carry over."""
        for sym in symbols:
            if not sym.name or is_anonymous(sym.name):
                continue
            old = self.main_paths.get(_path(sym.name))
            if old is not None and old != sym.name:
                was, now = self.main[old].size, sym.size or 0
                size = (f"still {now} bytes, but rustc's symbol hash, which covers the type, "
                        "changed" if was == now else f"{was} → {now} bytes")
                raise PatchRefused(
                    f"static {_path(sym.name)} changed its type ({size}): the value it holds "
                    "can't be kept")

    def _resolve_undefined(self, addresses: dict[tuple[int, int], int]) -> None:
        defined: dict[str, int] = {}
        for (o, i), address in addresses.items():
            sym = self.views[o].linking.symbols[i]
            if sym.name and not sym.local:
                defined.setdefault(sym.name, address)
        for o, view in enumerate(self.views):
            for i, sym in enumerate(view.linking.symbols):
                if sym.kind is not SymbolKind.DATA or sym.defined:
                    continue
                name = sym.name or ""
                address = defined.get(name)
                if address is None:
                    existing = self._existing(name)
                    if existing is None:
                        raise PatchRefused(
                            f"data symbol {demangle_or_raw(name, hash=False)} is not in the "
                            "main module")
                    address = existing[0]
                addresses[(o, i)] = address
