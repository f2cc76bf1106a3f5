"""LEB128 encoders, and the width rules the linker's padded immediates follow.

Decoding lives in `rust_hmr.wasm.reader.Reader` (it needs the input bounds for its errors);
these helpers are for writers. A `width` pads the encoding with continuation bytes, the way
LLVM leaves room at relocation sites (5 bytes for 32-bit values, 10 for 64-bit ones).
"""


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
