"""Writing relocated values into code and data bytes: one encoder per value shape."""

from collections.abc import Callable

from rust_hmr.link.records import PatchRefused
from rust_hmr.wasm.leb128 import encode_signed, encode_unsigned
from rust_hmr.wasm.sections.reloc import Relocation, RelocType

_ENCODERS: dict[str, Callable[[int], bytes]] = {
    "LEB": lambda v: encode_unsigned(v, 5),
    "SLEB": lambda v: encode_signed(v, 5),
    "I32": lambda v: (v & 0xFFFF_FFFF).to_bytes(4, "little"),
    "LEB64": lambda v: encode_unsigned(v, 10),
    "SLEB64": lambda v: encode_signed(v, 10),
    "I64": lambda v: (v & 0xFFFF_FFFF_FFFF_FFFF).to_bytes(8, "little"),
}


def encode_value(rtype: RelocType, value: int) -> bytes:
    return _ENCODERS[rtype.name.rsplit("_", 1)[1]](value)


def apply(buf: bytearray, base: int, relocs: list[Relocation],
          value_of: Callable[[Relocation], int]) -> None:
    """Write each relocation's value into `buf`, whose first byte sits at offset `base` of the
    section the relocation offsets count from."""
    for rel in relocs:
        at = rel.offset - base
        data = encode_value(rel.type, value_of(rel))
        if at < 0 or at + len(data) > len(buf):
            raise PatchRefused(f"relocation at offset {rel.offset} lies outside its body")
        buf[at : at + len(data)] = data
