"""LEB128 encoders, and the width rules the linker's padded immediates follow.

Decoding lives in `rust_hmr.wasm.reader.Reader` (it needs the input bounds for its errors);
these helpers are for writers. A `width` pads the encoding with continuation bytes, the way
LLVM leaves room at relocation sites (5 bytes for 32-bit values, 10 for 64-bit ones).
"""

import re


def encode_unsigned(value: int, width: int | None = None) -> bytes:
    """Unsigned LEB128 of `value`, padded to `width` bytes when given."""
    if width is None and 0 <= value < 0x200000:  # fast path: indices and sizes up to 2 MiB
        if value < 0x80:
            return bytes((value,))
        if value < 0x4000:
            return bytes((value & 0x7F | 0x80, value >> 7))
        return bytes((value & 0x7F | 0x80, value >> 7 & 0x7F | 0x80, value >> 14))
    if width == 5 and 0 <= value < 1 << 35:  # a padded 32-bit relocation site
        return bytes((value & 0x7F | 0x80, value >> 7 & 0x7F | 0x80, value >> 14 & 0x7F | 0x80,
                      value >> 21 & 0x7F | 0x80, value >> 28))
    if value < 0:
        raise ValueError(f"unsigned LEB128 of negative value {value}")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            break
    return _pad(out, width, 0x00)


def encode_signed(value: int, width: int | None = None) -> bytes:
    """Signed LEB128 of `value`, padded to `width` bytes (sign-extended) when given."""
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        done = (value == 0 and not byte & 0x40) or (value == -1 and byte & 0x40)
        if done:
            out.append(byte)
            break
        out.append(byte | 0x80)
    return _pad(out, width, 0x7F if out[-1] & 0x40 else 0x00)


def _pad(out: bytearray, width: int | None, fill: int) -> bytes:
    if width is None or len(out) == width:
        return bytes(out)
    if len(out) > width:
        raise ValueError(f"value needs {len(out)} LEB128 bytes, more than the {width} allowed")
    out[-1] |= 0x80
    out.extend([fill | 0x80] * (width - len(out) - 1))
    out.append(fill)
    return bytes(out)


def encode_range(start: int, stop: int, *, signed: bool = False,
                 width: int | None = None) -> list[bytes]:
    """The LEB128 of each value in `range(start, stop)` (not negative), as `encode_unsigned`
    (or, `signed`, `encode_signed`) gives it, padded to `width` bytes when given.

    Built a byte position at a time, not value by value: over consecutive values of one
    encoded width, the bytes at each position follow a simple pattern (the first cycles
    through 128 values, the next changes every 128 values, and so on), so a run of tens of
    thousands of indices or table slots costs a few dozen bytes operations."""
    if start < 0:
        raise ValueError(f"encode_range of negative value {start}")
    out: list[bytes] = []
    while start < stop:
        bytes_wide = width or _width(start, signed)
        end = stop if width else min(stop, 1 << (7 * bytes_wide - signed))
        if end > start and 1 << (7 * bytes_wide) < end:
            raise ValueError(f"{end - 1} needs more than {bytes_wide} LEB128 bytes")
        out += _same_width(start, end, bytes_wide)
        start = end
    return out


def _width(value: int, signed: bool) -> int:
    """How many bytes the shortest LEB128 of `value` (not negative) takes."""
    return max(1, (value.bit_length() + signed + 6) // 7)


def _same_width(start: int, stop: int, width: int) -> list[bytes]:
    """`encode_range` for values that all take `width` bytes: each position's bytes are laid
    into every `width`-th byte of one buffer, which is then cut into the encodings."""
    count = stop - start
    buffer = bytearray(width * count)
    for position in range(width):
        more = 0x80 if position < width - 1 else 0
        buffer[position::width] = _position_bytes(start, stop, 7 * position, more)
    return re.findall(b"(?s).{%d}" % width, buffer)  # cut every `width` bytes


def _position_bytes(start: int, stop: int, shift: int, more: int) -> bytes:
    """For each value in `range(start, stop)`, its seven bits from `shift` up, or-ed with the
    continuation bit `more`."""
    if shift == 0:  # cycles through 128 bytes: cut from a long enough repetition of them
        cycle = bytes(k | more for k in range(128))
        skip = start % 128
        return (cycle * ((skip + stop - start) // 128 + 1))[skip : skip + stop - start]
    runs = []
    for high in range(start >> shift, ((stop - 1) >> shift) + 1):  # each held 2**shift values
        run = min(stop, (high + 1) << shift) - max(start, high << shift)
        runs.append(bytes([high & 0x7F | more]) * run)
    return b"".join(runs)
