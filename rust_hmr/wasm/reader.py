"""A bounded cursor over wasm bytes: LEB128, names, vectors, sub-ranges.

Every read checks the bounds first and raises `WasmDecodeError` with the absolute offset, so a
lying length or count field costs an error, never an `IndexError` or a huge allocation.
"""

from collections.abc import Callable
from typing import TypeVar

from rust_hmr.wasm.errors import WasmDecodeError, truncated

T = TypeVar("T")


class Reader:
    """Reads `data[pos:end]`; `base` is added to positions to report absolute file offsets."""

    __slots__ = ("base", "data", "end", "pos")

    def __init__(self, data: bytes, pos: int = 0, end: int | None = None, base: int = 0) -> None:
        self.data = data
        self.pos = pos
        self.end = len(data) if end is None else end
        self.base = base

    @property
    def offset(self) -> int:
        """Absolute offset of the next byte."""
        return self.base + self.pos

    @property
    def remaining(self) -> int:
        return self.end - self.pos

    def at_end(self) -> bool:
        return self.pos >= self.end

    def error(self, message: str) -> WasmDecodeError:
        return WasmDecodeError(message, self.offset)

    def expect_end(self, what: str) -> None:
        if self.pos != self.end:
            raise self.error(f"{self.end - self.pos} unexpected byte(s) after {what}")

    def u8(self, what: str = "byte") -> int:
        if self.pos >= self.end:
            raise truncated(what, self.offset, 1, 0)
        value = self.data[self.pos]
        self.pos += 1
        return value

    def raw(self, n: int, what: str = "bytes") -> bytes:
        if n > self.end - self.pos:
            raise truncated(what, self.offset, n, self.end - self.pos)
        start = self.pos
        self.pos += n
        return self.data[start : self.pos]

    def skip(self, n: int, what: str = "bytes") -> None:
        if n > self.end - self.pos:
            raise truncated(what, self.offset, n, self.end - self.pos)
        self.pos += n

    def _leb(self, what: str, bits: int, signed: bool) -> int:
        data, pos, end = self.data, self.pos, self.end
        max_bytes = (bits + 6) // 7
        result = shift = 0
        for i in range(max_bytes):
            if pos + i >= end:
                raise truncated(what, self.base + pos + i, 1, 0)
            byte = data[pos + i]
            result |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                self.pos = pos + i + 1
                if signed:
                    if byte & 0x40 and shift < 64 + 7:
                        result -= 1 << shift
                    if not -(1 << (bits - 1)) <= result < (1 << (bits - 1)):
                        raise WasmDecodeError(f"{what}: signed LEB128 overflows {bits} bits",
                                              self.base + pos)
                elif result >> bits:
                    raise WasmDecodeError(f"{what}: LEB128 value overflows {bits} bits",
                                          self.base + pos)
                return result
        raise WasmDecodeError(f"{what}: LEB128 longer than {max_bytes} bytes", self.base + pos)

    def u32(self, what: str = "u32") -> int:
        # Fast path: one-byte values are by far the most common.
        pos = self.pos
        if pos < self.end:
            byte = self.data[pos]
            if byte < 0x80:
                self.pos = pos + 1
                return byte
        return self._leb(what, 32, signed=False)

    def u64(self, what: str = "u64") -> int:
        return self._leb(what, 64, signed=False)

    def s32(self, what: str = "s32") -> int:
        return self._leb(what, 32, signed=True)

    def s64(self, what: str = "s64") -> int:
        return self._leb(what, 64, signed=True)

    def name(self, what: str = "name") -> str:
        start = self.offset
        raw = self.raw(self.u32(f"{what} length"), what)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise WasmDecodeError(f"{what} is not valid UTF-8", start) from exc

    def count(self, what: str, min_item_size: int = 1) -> int:
        """A vector length, refused early when the remaining bytes cannot hold that many items."""
        start = self.offset
        n = self.u32(f"{what} count")
        if n * min_item_size > self.remaining:
            raise WasmDecodeError(
                f"{what} count {n} cannot fit in the {self.remaining} byte(s) left", start
            )
        return n

    def vec(self, item: Callable[["Reader"], T], what: str) -> list[T]:
        return [item(self) for _ in range(self.count(what))]

    def u32_vec(self, what: str, item: str) -> list[int]:
        """A vector of u32s, taken in one step when each is one byte (below 0x80), as every
        type index is in a module with fewer than 128 types."""
        n = self.count(what)
        head = self.data[self.pos : self.pos + n]
        if head.isascii():
            self.pos += n
            return list(head)
        return [self.u32(item) for _ in range(n)]

    def sub(self, n: int, what: str) -> "Reader":
        """A reader over the next `n` bytes; this reader moves past them."""
        if n > self.end - self.pos:
            raise truncated(what, self.offset, n, self.end - self.pos)
        start = self.pos
        self.pos += n
        return Reader(self.data, start, start + n, self.base)
