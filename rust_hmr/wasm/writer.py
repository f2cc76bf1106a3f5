"""An append-only byte buffer with the encoders wasm needs; the mirror of `Reader`."""

from collections.abc import Callable, Iterable
from typing import TypeVar

from rust_hmr.wasm.leb128 import encode_range, encode_signed, encode_unsigned

T = TypeVar("T")


class Writer:
    """Collects one section's (or one record's) bytes."""

    __slots__ = ("out",)

    def __init__(self) -> None:
        self.out = bytearray()

    def u8(self, value: int) -> None:
        self.out.append(value)

    def u32(self, value: int) -> None:
        if value < 0x80:
            self.out.append(value)
        else:
            self.out += encode_unsigned(value)

    def u64(self, value: int) -> None:
        self.out += encode_unsigned(value)

    def s32(self, value: int) -> None:
        self.out += encode_signed(value)

    def s64(self, value: int) -> None:
        self.out += encode_signed(value)

    def raw(self, data: bytes) -> None:
        self.out += data

    def name(self, text: str) -> None:
        data = text.encode("utf-8")
        self.u32(len(data))
        self.out += data

    def vec(self, items: Iterable[T], item: Callable[["Writer", T], None]) -> None:
        items = list(items)
        self.u32(len(items))
        for value in items:
            item(self, value)

    def u32_vec(self, values: Iterable[int]) -> None:
        """A vector of u32s (what `vec(values, Writer.u32)` writes, without a call per item)."""
        values = list(values)
        self.u32(len(values))
        top = max(values, default=0)
        if top < 0x80:  # each its own byte (bytes() refuses negatives)
            self.out += bytes(values)
        elif top < 4 * len(values) and min(values) >= 0:  # dense: from a table of 0..top
            self.out += b"".join(map(encode_range(0, top + 1).__getitem__, values))
        else:
            self.out += b"".join(map(encode_unsigned, values))

    def sized(self, body: bytes) -> None:
        """`body` preceded by its length, the shape of sub-sections and code bodies."""
        self.u32(len(body))
        self.out += body

    def getvalue(self) -> bytes:
        return bytes(self.out)


def encode(write: Callable[[Writer, T], None], value: T) -> bytes:
    """Run one writer function on a fresh buffer and return its bytes."""
    w = Writer()
    write(w, value)
    return w.getvalue()
