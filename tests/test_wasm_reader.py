"""Edge cases of the byte-level reader: every malformed input is one WasmDecodeError."""

import pytest

from rust_hmr.wasm.errors import WasmDecodeError
from rust_hmr.wasm.leb128 import encode_signed, encode_unsigned
from rust_hmr.wasm.module import decode_all, parse
from rust_hmr.wasm.reader import Reader

HEADER = b"\0asm\x01\0\0\0"


@pytest.mark.parametrize("value", [0, 1, 127, 128, 624485, 2**32 - 1])
@pytest.mark.parametrize("width", [None, 5])
def test_unsigned_leb_round_trip(value: int, width: int | None) -> None:
    encoded = encode_unsigned(value, width)
    if width:
        assert len(encoded) == width
    r = Reader(encoded)
    assert r.u32() == value
    assert r.at_end()


@pytest.mark.parametrize("value", [0, -1, 63, -64, 64, -65, 2**31 - 1, -(2**31)])
@pytest.mark.parametrize("width", [None, 5])
def test_signed_leb_round_trip(value: int, width: int | None) -> None:
    r = Reader(encode_signed(value, width))
    assert r.s32() == value


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x80\x80\x80\x80\x80\x01", "longer than 5 bytes"),
        (b"\xff\xff\xff\xff\x7f", "overflows 32 bits"),
        (b"\x80\x80", "unexpected end of input"),
    ],
)
def test_bad_leb_says_what_and_where(data: bytes, message: str) -> None:
    with pytest.raises(WasmDecodeError) as info:
        Reader(data, base=0x100).u32("section size")
    assert message in str(info.value)
    assert "section size" in str(info.value)
    assert "(at offset 0x10" in str(info.value)


def test_lying_count_is_refused_before_any_allocation() -> None:
    r = Reader(encode_unsigned(2**32 - 1) + b"\x01\x02")
    with pytest.raises(WasmDecodeError, match="cannot fit"):
        r.vec(lambda r: r.u8(), "export")


@pytest.mark.parametrize(
    ("data", "message", "offset"),
    [
        (b"\0asm", "shorter than the 8-byte header", 0),
        (b"\x7fELF\x01\0\0\0", "magic", 0),
        (b"\0asm\x0d\0\x01\0", "components are not supported", 4),
        (HEADER + b"\x0e\x00", "unknown section id 14", 8),
        (HEADER + b"\x01\x05\x00", "4 more byte(s) needed", 10),
        (HEADER + b"\x03\x01\x00\x01\x01\x00", "out of order", 11),
    ],
)
def test_malformed_files(data: bytes, message: str, offset: int) -> None:
    with pytest.raises(WasmDecodeError) as info:
        parse(data)
    assert message in info.value.message
    assert info.value.offset == offset


def test_section_contents_errors_carry_absolute_offsets() -> None:
    # A type section whose one entry has a bad form byte at file offset 11.
    data = HEADER + b"\x01\x04\x01\x5f\x00\x00"
    with pytest.raises(WasmDecodeError) as info:
        decode_all(parse(data))
    assert info.value.offset == 11
    assert "type form" in info.value.message


def test_invalid_utf8_name() -> None:
    data = HEADER + b"\x00\x03\x02\xff\xfe"
    with pytest.raises(WasmDecodeError, match="UTF-8"):
        parse(data)


def test_function_and_code_counts_must_agree() -> None:
    types = b"\x01\x04\x01\x60\x00\x00"
    functions = b"\x03\x03\x02\x00\x00"
    code = b"\x0a\x04\x01\x02\x00\x0b"
    with pytest.raises(WasmDecodeError, match="1 bodies for 2 functions"):
        decode_all(parse(HEADER + types + functions + code))
