"""The relocation pass: relocated values written into a code body's or data segment's bytes.

`run` takes the bytes as the object has them and returns them with every relocation site
rewritten; what value a site gets is the caller's (`value_of`), how it is encoded is this
module's: one encoder per value shape, padded to the width the object left for it.
"""

from collections.abc import Callable, Iterable

from rust_hmr.link.outcomes import PatchRefused
from rust_hmr.wasm.leb128 import encode_signed, encode_unsigned
from rust_hmr.wasm.sections.reloc import Relocation, RelocType

ValueOf = Callable[[Relocation], int]
"""The value a relocation site gets (an index, a table slot, an address plus addend)."""

_ENCODERS: dict[str, Callable[[int], bytes]] = {
    "LEB": lambda v: encode_unsigned(v, 5),
    "SLEB": lambda v: encode_signed(v, 5),
    "I32": lambda v: (v & 0xFFFF_FFFF).to_bytes(4, "little"),
    "LEB64": lambda v: encode_unsigned(v, 10),
    "SLEB64": lambda v: encode_signed(v, 10),
    "I64": lambda v: (v & 0xFFFF_FFFF_FFFF_FFFF).to_bytes(8, "little"),
}


def encode_value(rtype: RelocType, value: int) -> bytes:
    """`value` as a site of `rtype` holds it: padded LEB128 (5 or 10 bytes) or little endian."""
    return _ENCODERS[rtype.name.rsplit("_", 1)[1]](value)


def run(data: bytes, base: int, relocs: Iterable[Relocation], value_of: ValueOf) -> bytes:
    """`data` with each relocation's value written in. `data`'s first byte sits at offset
    `base` of the section the relocation offsets count from; a relocation whose site is not
    wholly inside `data` is refused."""
    buf = bytearray(data)
    for rel in relocs:
        at = rel.offset - base
        encoded = encode_value(rel.type, value_of(rel))
        if at < 0 or at + len(encoded) > len(buf):
            raise PatchRefused(f"relocation at offset {rel.offset} lies outside its body")
        buf[at : at + len(encoded)] = encoded
    return bytes(buf)
