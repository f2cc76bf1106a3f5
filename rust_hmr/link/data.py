"""The data pass (`run`): where each data symbol of the dirty objects lives in the patched app.

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
from rust_hmr.link.outcomes import PatchRefused
from rust_hmr.prepare.symbol_map import DataInfo, SymbolMap, is_anonymous
from rust_hmr.wasm.demangle import demangle_or_raw
from rust_hmr.wasm.sections.linking import Symbol, SymbolKind

_READ_ONLY = (".rodata", ".data.rel.ro")


def _path(name: str) -> str:
    return demangle_or_raw(name, hash=False)


_THREAD_LOCAL_KEY = "::__getit::__KEY"  # where `thread_local!` keeps a variable's value


def _static(name: str) -> str:
    """A static as its source says it: `thread_local! app::CART` for the key `thread_local!`
    makes for `CART`, else `static <path>`."""
    path = _path(name)
    if path.endswith(_THREAD_LOCAL_KEY):
        return f"thread_local! {path.removesuffix(_THREAD_LOCAL_KEY)}"
    return f"static {path}"


@dataclass(frozen=True)
class PlacedSegment:
    """A data segment the patch writes: object `obj`'s segment `segment` at `address`."""

    obj: int
    segment: int
    address: int


@dataclass
class DataLayout:
    """The pass's output. `addresses`: (object, symbol index) -> address of every data symbol
    the objects define or use; `segments`: those whose bytes the patch writes (a static the app
    already has is not written: its value lives on); `placed_bytes`: how much of the reserved
    memory this patch took."""

    addresses: dict[tuple[int, int], int]
    segments: list[PlacedSegment]
    placed_bytes: int


def run(views: list[ObjectView], symbols: SymbolMap, ledger: Ledger) -> DataLayout:
    """The data pass: where each data symbol of `views` lives, by the rules above. New
    placements go into `ledger` (the caller works on a copy, to drop them if the patch is
    refused); PatchRefused says why a static can't be kept."""
    return DataResolver(views, symbols, ledger).layout()


def _segment_symbols(view: ObjectView) -> dict[int, list[tuple[int, Symbol]]]:
    out: dict[int, list[tuple[int, Symbol]]] = {}
    for i, sym in enumerate(view.linking.symbols):
        if sym.kind is SymbolKind.DATA and sym.defined and sym.segment is not None:
            out.setdefault(sym.segment, []).append((i, sym))
    return out


class DataResolver:
    """One run of the data pass (`run`): the main module's data symbols by name, and the
    ledger that places what is new."""

    def __init__(self, views: list[ObjectView], symbols: SymbolMap, ledger: Ledger) -> None:
        self.views = views
        self.ledger = ledger
        self.main: dict[str, DataInfo] = symbols.data_named()
        self.main_paths = symbols.writable_paths()  # demangled path without hash -> name

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
                address, emit = self._place_segment(view, seg_index, [s for _, s in members])
                for sym_index, sym in members:
                    addresses[(o, sym_index)] = address + (sym.offset or 0)
                if emit:
                    placed.append(PlacedSegment(o, seg_index, address))
        self._resolve_undefined(addresses)
        return DataLayout(addresses, placed, self.ledger.memory_used - before)

    def _place_segment(self, view: ObjectView, seg_index: int,
                       members: list[Symbol]) -> tuple[int, bool]:
        """The segment's address, and whether the patch must write its bytes."""
        info = view.linking.segments[seg_index]
        size = len(view.segments[seg_index].data) if seg_index < len(view.segments) else 0
        if info.name.startswith(_READ_ONLY):
            address = self._same_constant(members, size)
            if address is None:
                address = self.ledger.place(size, 1 << info.alignment, info.name)
            return address, True
        kept = self._kept_static(info.name, members)
        if kept is not None:
            return kept, False
        self._refuse_retyped(members)
        address = self.ledger.place(size, 1 << info.alignment, info.name)
        for sym in members:
            if sym.name and not is_anonymous(sym.name):
                self.ledger.statics[sym.name] = (address + (sym.offset or 0), sym.size or 0)
        zero_fill = info.name.startswith(".bss")  # reserved pages are still zero: skip writing
        return address, not zero_fill

    def _same_constant(self, members: list[Symbol], size: int) -> int | None:
        """The app's address of a read-only segment that is one named constant the app has at
        the same size: the patch rewrites it where everyone reads it."""
        if len(members) != 1:
            return None
        sym = members[0]
        existing = self._existing(sym.name or "")
        if existing is None:
            return None
        address, old_size = existing
        if old_size == (sym.size or 0) == size and (sym.offset or 0) == 0:
            return address
        return None

    def _kept_static(self, segment: str, members: list[Symbol]) -> int | None:
        """The app's address of a writable segment whose statics the app already has (their
        values are kept), or None when it has none of them. Refused when a size changed or
        only some of them, or not at one base, are there."""
        found = [(sym, e) for sym in members if (e := self._existing(sym.name or "")) is not None]
        if not found:
            return None
        bases = set()
        for sym, (address, old_size) in found:
            if old_size != (sym.size or 0):
                raise PatchRefused(
                    f"{_static(sym.name or '')} changed size "
                    f"from {old_size} to {sym.size} bytes: the value it holds can't be kept")
            bases.add(address - (sym.offset or 0))
        if len(bases) != 1 or len(found) != len(members):
            raise PatchRefused(f"data segment {segment} changed its layout")
        return bases.pop()

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
                    f"{_static(sym.name)} changed its type ({size}): the value it holds "
                    "can't be kept")

    def _resolve_undefined(self, addresses: dict[tuple[int, int], int]) -> None:
        defined: dict[str, int] = {}
        address: int | None
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
