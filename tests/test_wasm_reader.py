"""Edge cases of the byte-level reader: every malformed input is one WasmDecodeError."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rust_hmr.wasm.errors import WasmDecodeError
from rust_hmr.wasm.leb128 import encode_range, encode_signed, encode_unsigned
from rust_hmr.wasm.module import decode_all, parse
from rust_hmr.wasm.reader import Reader
from rust_hmr.wasm.writer import Writer

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


@given(st.integers(0, 2**33), st.integers(0, 600))
def test_encode_range_is_each_value_encoded(start: int, count: int) -> None:
    values = range(start, start + count)
    assert encode_range(start, start + count) == [encode_unsigned(v) for v in values]
    assert encode_range(start, start + count, signed=True) == [encode_signed(v) for v in values]
    if start + count <= 2**35:
        assert encode_range(start, start + count, width=5) == [
            encode_unsigned(v, 5) for v in values]


@pytest.mark.parametrize("edge", [2**7, 2**14, 2**21, 2**28, 2**6, 2**13, 2**20])
def test_encode_range_across_a_change_of_width(edge: int) -> None:
    values = range(max(0, edge - 300), edge + 300)
    assert encode_range(values.start, values.stop) == [encode_unsigned(v) for v in values]
    assert encode_range(values.start, values.stop, signed=True) == [
        encode_signed(v) for v in values]


def test_encode_range_refuses_what_does_not_fit() -> None:
    with pytest.raises(ValueError, match="more than 5"):
        encode_range(2**35 - 1, 2**35 + 1, width=5)
    with pytest.raises(ValueError, match="negative"):
        encode_range(-1, 3)


@pytest.mark.parametrize("values", [[], [0, 5, 127], [128, 3, 40000, 2], [1, 2**32 - 1],
                                    list(range(300, 0, -1))])
def test_u32_vectors_round_trip(values: list[int]) -> None:
    w = Writer()
    w.u32_vec(values)
    data = w.getvalue()
    assert data == encode_unsigned(len(values)) + b"".join(map(encode_unsigned, values))
    r = Reader(data)
    assert r.u32_vec("test", "test item") == values
    assert r.at_end()
