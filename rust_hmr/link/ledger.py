"""The ledger: what earlier patches placed in the reserved room, kept between patches.

A static added during the session keeps its address (and so its value) in every later patch,
and a function that a patch introduced keeps its table slot, through which every later patch
calls it. The ledger also knows
which code is live for each codegen unit, so the next rebuild sends only what differs.

Placement has two entry points, both refusing the patch once the room is used up: `place`
(bytes in the reserved memory pages) and `new_slot` (a spare table slot).
"""

from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import msgpack

from rust_hmr.atomic import write_atomic
from rust_hmr.link.outcomes import PatchRefused
from rust_hmr.prepare.symbol_map import Reserved


def align_up(address: int, alignment: int) -> int:
    """The first multiple of `alignment` at or after `address`."""
    return -(-address // alignment) * alignment


@dataclass
class Ledger:
    reserved: Reserved
    memory_used: int = 0
    slots_used: int = 0
    statics: dict[str, tuple[int, int]] = field(default_factory=dict)  # name -> address, size
    slots: dict[str, int] = field(default_factory=dict)
    """Function identity -> the table slot holding its newest code, for every function a patch
    added (a new helper, a new generic instance, a unit-local function whose address is taken)
    and every function whose signature changed. Later patches call it through that slot."""
    signatures: dict[str, str] = field(default_factory=dict)  # identity -> its type, as text
    pointed: dict[str, int] = field(default_factory=dict)
    """Identity -> slot of every function a patch took the address of: values in the app's
    state may point to it."""
    aliases: dict[str, str] = field(default_factory=dict)
    """Symbol name in the live objects -> the identity it stands for, where they differ: a
    closure renumbered by an edit keeps the identity (the slot) of the item it is."""
    objects: dict[str, str] = field(default_factory=dict)  # codegen unit -> live blake3
    cold_rlibs: dict[str, str] = field(default_factory=dict)  # rlib outside the workspace -> blake3
    sources: dict[str, str] = field(default_factory=dict)  # file -> blake3 the live code read
    patches: int = 0

    def place(self, size: int, alignment: int, what: str) -> int:
        """An address for `size` new bytes aligned to `alignment` in the reserved pages."""
        start = self.reserved.memory_start
        address = align_up(start + self.memory_used, alignment)
        end = address + size
        if end > start + self.reserved.memory_size:
            raise PatchRefused(
                f"the reserved memory for patches is used up ({self.reserved.memory_size:,} "
                f"bytes) placing {what}: rebuild (or raise reserve_pages)")
        self.memory_used = end - start
        return address

    def new_slot(self, what: str) -> int:
        """The next spare table slot; slots are handed out in order and never given back."""
        if self.slots_used >= self.reserved.table_size:
            raise PatchRefused(
                f"the spare table slots for patches are used up ({self.reserved.table_size:,}) "
                f"placing {what}: rebuild (or raise spare_slots)")
        self.slots_used += 1
        return self.reserved.table_start + self.slots_used - 1

    def copy(self) -> "Ledger":
        """A copy to place a trial patch in: each table a new dict. Their keys and values are
        strings, numbers and tuples, so nothing else needs copying (`copy.deepcopy` cost a
        millisecond a patch on the counter)."""
        tables: dict[str, Any] = {f.name: dict(value) for f in fields(self)
                                  if isinstance(value := getattr(self, f.name), dict)}
        return replace(self, **tables)

    def dump(self, path: Path) -> None:
        record = {f.name: getattr(self, f.name) for f in fields(self)}
        record["reserved"] = asdict(self.reserved)
        write_atomic(path, msgpack.packb(record, use_bin_type=True))

    @classmethod
    def load(cls, path: Path) -> "Ledger":
        raw = msgpack.unpackb(path.read_bytes(), raw=False, strict_map_key=False)
        raw["reserved"] = Reserved(**raw["reserved"])
        raw["statics"] = {k: (v[0], v[1]) for k, v in raw["statics"].items()}
        return cls(**raw)
