"""The patch linker's passes on hand-built objects: data resolution (`link.data.run`),
relocation (`link.relocate.run`) and placement (`Ledger.place`/`new_slot`). No cargo: every
object view and symbol map is written out here."""

from collections.abc import Sequence
from pathlib import Path

import pytest

from rust_hmr.link import data, relocate
from rust_hmr.link.data import DataLayout, PlacedSegment
from rust_hmr.link.ledger import Ledger, align_up
from rust_hmr.link.objects import ObjectView
from rust_hmr.link.outcomes import PatchRefused
from rust_hmr.prepare.symbol_map import DataInfo, Reserved, SymbolMap
from rust_hmr.wasm.sections.data import DataSegment
from rust_hmr.wasm.sections.linking import Linking, SegmentInfo, Symbol, SymbolFlags, SymbolKind
from rust_hmr.wasm.sections.reloc import Relocation, RelocType

RESERVED = Reserved(memory_start=0x11_0000, memory_size=0x1_0000, table_start=500,
                    table_size=3)
START = RESERVED.memory_start
COUNT = "_ZN7counter5COUNT17h0123456789abcdefE"
COUNT_RETYPED = "_ZN7counter5COUNT17hfedcba9876543210E"  # same path, another type
TOTAL = "_ZN7counter5TOTAL17h00112233445566aaE"
ADDED = "_ZN7counter5ADDED17h0a0b0c0d0e0f1011E"  # a static the main module lacks
GREETING = "_ZN7counter8GREETING17h1234567812345678E"
MISSING = "_ZN7counter7MISSING17h8765432187654321E"


# hand-built objects and symbol maps


def defined(name: str, segment: int, *, offset: int = 0, size: int = 4,
            local: bool = False) -> Symbol:
    flags = SymbolFlags.BINDING_LOCAL if local else SymbolFlags(0)
    return Symbol(SymbolKind.DATA, flags, name, segment=segment, offset=offset, size=size)


def undefined(name: str) -> Symbol:
    return Symbol(SymbolKind.DATA, SymbolFlags.UNDEFINED, name)


def view(segments: Sequence[tuple[str, bytes]], symbols: Sequence[Symbol], *,
         alignment: int = 2, name: str = "unit.o") -> ObjectView:
    """An object with these data segments (name, bytes), laid out one after the other, and
    this symbol table; no code."""
    data_base = 0x40
    placed, at = [], data_base
    for _, payload in segments:
        placed.append(DataSegment(0, 0, None, payload, at))
        at += len(payload)
    return ObjectView(
        name=name, types=[], function_imports=[], global_imports=[], defined=[], bodies=[],
        code_base=0, segments=placed, data_base=data_base,
        linking=Linking(symbols=list(symbols),
                        segments=[SegmentInfo(n, alignment, 0) for n, _ in segments]))


def main(*data_symbols: DataInfo) -> SymbolMap:
    return SymbolMap(functions=[], data=list(data_symbols), reserved=RESERVED,
                     table_export="__indirect_function_table", memory_export="memory",
                     stack_pointer_export="__stack_pointer")


def static(name: str, address: int, size: int = 4, segment: str = ".data",
           local: bool = False) -> DataInfo:
    return DataInfo(name=name, address=address, size=size, segment=segment, local=local)


def run(views: list[ObjectView], symbols: SymbolMap, ledger: Ledger | None = None) -> DataLayout:
    return data.run(views, symbols, ledger if ledger is not None else Ledger(RESERVED))


def refusal(views: list[ObjectView], symbols: SymbolMap, ledger: Ledger | None = None) -> str:
    with pytest.raises(PatchRefused) as err:
        run(views, symbols, ledger)
    return err.value.reason


# data: writable data the main module has keeps its address


@pytest.mark.parametrize("section", [".data.", ".bss.", ".tdata."])
@pytest.mark.parametrize("local", [False, True])
def test_writable_static_the_main_module_has_resolves_to_its_address(section: str,
                                                                      local: bool) -> None:
    ledger = Ledger(RESERVED)
    obj = view([(section + COUNT, b"\x05\0\0\0")], [defined(COUNT, 0, local=local)])
    layout = run([obj], main(static(COUNT, 0x2000, local=local)), ledger)
    assert layout == DataLayout({(0, 0): 0x2000}, [], 0)  # not written: its value lives on
    assert ledger.memory_used == 0 and ledger.statics == {}


def test_statics_of_one_segment_resolve_at_their_offsets() -> None:
    obj = view([(".data.pair", bytes(12))],
               [defined(COUNT, 0), defined(TOTAL, 0, offset=8, size=4)])
    layout = run([obj], main(static(COUNT, 0x2000), static(TOTAL, 0x2008)))
    assert layout.addresses == {(0, 0): 0x2000, (0, 1): 0x2008}
    assert layout.segments == []


def test_a_static_whose_size_changed_is_refused_with_the_sizes() -> None:
    obj = view([(".data." + COUNT, bytes(8))], [defined(COUNT, 0, size=8)])
    assert refusal([obj], main(static(COUNT, 0x2000, size=4))) == (
        "static counter::COUNT changed size from 4 to 8 bytes: the value it holds can't be kept")


def test_a_static_whose_type_changed_at_the_same_size_is_refused() -> None:
    obj = view([(".data." + COUNT_RETYPED, bytes(4))], [defined(COUNT_RETYPED, 0)])
    assert refusal([obj], main(static(COUNT, 0x2000))) == (
        "static counter::COUNT changed its type (still 4 bytes, but rustc's symbol hash, which "
        "covers the type, changed): the value it holds can't be kept")


def test_a_thread_local_whose_type_changed_is_named_as_the_source_says() -> None:
    key = "_ZN3app4CART7__getit5__KEY17h0123456789abcdefE"
    retyped = "_ZN3app4CART7__getit5__KEY17hfedcba9876543210E"
    obj = view([(".tbss." + retyped, bytes(4))], [defined(retyped, 0)])
    assert refusal([obj], main(static(key, 0x2000))).startswith(
        "thread_local! app::CART changed its type (still 4 bytes")


def test_a_static_whose_type_and_size_changed_is_refused() -> None:
    obj = view([(".data." + COUNT_RETYPED, bytes(8))], [defined(COUNT_RETYPED, 0, size=8)])
    assert "changed its type (4 → 8 bytes)" in refusal([obj], main(static(COUNT, 0x2000)))


@pytest.mark.parametrize("total_at", [0x3000, None], ids=["elsewhere", "missing"])
def test_a_segment_whose_statics_moved_apart_is_refused(total_at: int | None) -> None:
    known = [static(COUNT, 0x2000)] + ([static(TOTAL, total_at)] if total_at else [])
    obj = view([(".data.pair", bytes(12))],
               [defined(COUNT, 0), defined(TOTAL, 0, offset=8)])
    assert refusal([obj], main(*known)) == "data segment .data.pair changed its layout"


# data: a static added during the session is placed once


def test_a_new_static_is_placed_once_and_keeps_its_address(tmp_path: Path) -> None:
    ledger = Ledger(RESERVED)
    ledger.memory_used = 1  # an earlier patch's byte: the static goes to the next 4-byte line
    first = run([view([(".data." + ADDED, b"\x07\0\0\0")], [defined(ADDED, 0)])], main(),
                ledger)
    assert first == DataLayout({(0, 0): START + 4}, [PlacedSegment(0, 0, START + 4)], 7)
    assert ledger.statics == {ADDED: (START + 4, 4)}

    ledger.dump(tmp_path / "ledger")  # the next patch reads the ledger back, as a session does
    ledger = Ledger.load(tmp_path / "ledger")
    other = view([(".rodata..L.str", b"hi")], [defined(".L.str", 0, size=2)], name="other.o")
    again = view([(".data." + ADDED, b"\x09\0\0\0")], [defined(ADDED, 0)])
    second = run([other, again], main(), ledger)
    assert second.addresses[(1, 0)] == START + 4
    assert PlacedSegment(1, 0, START + 4) not in second.segments  # its value is kept
    assert second.placed_bytes == 2  # the literal only
    assert ledger.statics == {ADDED: (START + 4, 4)}


def test_a_new_zero_static_is_placed_but_not_written() -> None:
    ledger = Ledger(RESERVED)
    layout = run([view([(".bss." + ADDED, bytes(16))], [defined(ADDED, 0, size=16)],
                       alignment=3)], main(), ledger)
    assert layout == DataLayout({(0, 0): START}, [], 16)  # the reserved pages are still zero
    assert ledger.statics == {ADDED: (START, 16)}


def test_new_statics_are_refused_once_the_reserved_memory_is_used_up() -> None:
    ledger = Ledger(RESERVED, memory_used=RESERVED.memory_size - 2)
    obj = view([(".data." + ADDED, bytes(4))], [defined(ADDED, 0)])
    assert refusal([obj], main(), ledger) == (
        f"the reserved memory for patches is used up (65,536 bytes) placing .data.{ADDED}: "
        "rebuild (or raise reserve_pages)")
    assert ledger.statics == {}


# data: read-only data


@pytest.mark.parametrize("section", [".rodata.", ".data.rel.ro."])
def test_a_constant_of_unchanged_size_is_written_over_the_main_copy(section: str) -> None:
    ledger = Ledger(RESERVED)
    obj = view([(section + GREETING, b"howdy")], [defined(GREETING, 0, size=5)])
    layout = run([obj], main(static(GREETING, 0x500, size=5, segment=".rodata")), ledger)
    assert layout == DataLayout({(0, 0): 0x500}, [PlacedSegment(0, 0, 0x500)], 0)
    assert ledger.statics == {}


def test_a_resized_constant_is_placed_new() -> None:
    ledger = Ledger(RESERVED)
    obj = view([(".rodata." + GREETING, b"hello!!")], [defined(GREETING, 0, size=7)])
    layout = run([obj], main(static(GREETING, 0x500, size=5, segment=".rodata")), ledger)
    assert layout == DataLayout({(0, 0): START}, [PlacedSegment(0, 0, START)], 7)
    assert ledger.statics == {}  # read-only: nothing to keep for later patches


def test_a_constant_segment_of_several_symbols_is_placed_new() -> None:
    obj = view([(".rodata.pair", bytes(8))],
               [defined(GREETING, 0), defined(TOTAL, 0, offset=4)])
    layout = run([obj], main(static(GREETING, 0x500, segment=".rodata"),
                             static(TOTAL, 0x504, segment=".rodata")))
    assert layout.addresses == {(0, 0): START, (0, 1): START + 4}
    assert layout.segments == [PlacedSegment(0, 0, START)]


def test_literals_are_placed_new_one_after_the_other() -> None:
    obj = view([(".rodata..L.str", b"abc"), (".rodata..L.str.1", b"de")],
               [defined(".L.str", 0, size=3, local=True),
                defined(".L.str.1", 1, size=2, local=True)], alignment=0)
    layout = run([obj], main(static(".L.str", 0x500, size=3, segment=".rodata")))
    assert layout == DataLayout({(0, 0): START, (0, 1): START + 3},
                                [PlacedSegment(0, 0, START), PlacedSegment(0, 1, START + 3)], 5)


# data: anonymous symbols are never matched by name


@pytest.mark.parametrize("name", ["anon.5f3e.0", ".L__unnamed_1"])
@pytest.mark.parametrize("section", [".rodata.", ".data."])
def test_an_anonymous_symbol_is_never_matched_by_name(name: str, section: str) -> None:
    ledger = Ledger(RESERVED)
    obj = view([(section + name, b"\x01\0\0\0")], [defined(name, 0, local=True)])
    symbols = main(static(name, 0x2000, segment=section.rstrip("."), local=True))
    layout = run([obj], symbols, ledger)
    assert layout == DataLayout({(0, 0): START}, [PlacedSegment(0, 0, START)], 4)
    assert ledger.statics == {}


def test_an_undefined_anonymous_symbol_is_not_looked_up_in_the_main_module() -> None:
    obj = view([], [undefined("anon.5f3e.0")])
    assert refusal([obj], main(static("anon.5f3e.0", 0x2000, local=True))) == (
        "data symbol anon.5f3e.0 is not in the main module")


# data: undefined symbols


def test_an_undefined_symbol_resolves_to_the_main_module_or_the_ledger() -> None:
    ledger = Ledger(RESERVED, memory_used=4, statics={ADDED: (START, 4)})
    obj = view([], [undefined(COUNT), undefined(ADDED)])
    layout = run([obj], main(static(COUNT, 0x2000)), ledger)
    assert layout == DataLayout({(0, 0): 0x2000, (0, 1): START}, [], 0)


def test_an_undefined_symbol_resolves_to_another_objects_definition_first() -> None:
    owner = view([(".data." + ADDED, bytes(4))], [defined(ADDED, 0)], name="owner.o")
    user = view([], [undefined(ADDED)], name="user.o")
    layout = run([owner, user], main())
    assert layout.addresses == {(0, 0): START, (1, 0): START}


def test_a_local_constant_is_not_another_objects_definition() -> None:
    owner = view([(".rodata.x", b"abcd")], [defined(MISSING, 0, local=True)], name="owner.o")
    user = view([], [undefined(MISSING)], name="user.o")
    assert refusal([owner, user], main()) == (
        "data symbol counter::MISSING is not in the main module")


# relocation: one encoder per value shape


@pytest.mark.parametrize(("rtype", "value", "expected"), [
    (RelocType.FUNCTION_INDEX_LEB, 0, "80 80 80 80 00"),
    (RelocType.FUNCTION_INDEX_LEB, 3, "83 80 80 80 00"),
    (RelocType.MEMORY_ADDR_LEB, 0x80, "80 81 80 80 00"),
    (RelocType.MEMORY_ADDR_LEB, 624485, "e5 8e a6 80 00"),
    (RelocType.MEMORY_ADDR_LEB, 0xFFFF_FFFF, "ff ff ff ff 0f"),
    (RelocType.MEMORY_ADDR_LEB, 2**35 - 1, "ff ff ff ff 7f"),
    (RelocType.MEMORY_ADDR_SLEB, 0, "80 80 80 80 00"),
    (RelocType.MEMORY_ADDR_SLEB, 64, "c0 80 80 80 00"),  # bit 6 set: one more byte
    (RelocType.MEMORY_ADDR_SLEB, -1, "ff ff ff ff 7f"),
    (RelocType.MEMORY_ADDR_SLEB, -64, "c0 ff ff ff 7f"),
    (RelocType.TABLE_INDEX_SLEB, -65, "bf ff ff ff 7f"),
    (RelocType.MEMORY_ADDR_SLEB, -123456, "c0 bb f8 ff 7f"),
    (RelocType.MEMORY_ADDR_I32, 0, "00 00 00 00"),
    (RelocType.MEMORY_ADDR_I32, 0x1234_5678, "78 56 34 12"),
    (RelocType.TABLE_INDEX_I32, -2, "fe ff ff ff"),
    (RelocType.MEMORY_ADDR_LEB64, 1, "81 80 80 80 80 80 80 80 80 00"),
    (RelocType.MEMORY_ADDR_LEB64, 2**63, "80 80 80 80 80 80 80 80 80 01"),
    (RelocType.MEMORY_ADDR_LEB64, 2**64 - 1, "ff ff ff ff ff ff ff ff ff 01"),
    (RelocType.MEMORY_ADDR_SLEB64, 2**62, "80 80 80 80 80 80 80 80 c0 00"),
    (RelocType.MEMORY_ADDR_SLEB64, -1, "ff ff ff ff ff ff ff ff ff 7f"),
    (RelocType.TABLE_INDEX_SLEB64, -(2**63), "80 80 80 80 80 80 80 80 80 7f"),
    (RelocType.MEMORY_ADDR_I64, 0x0102_0304_0506_0708, "08 07 06 05 04 03 02 01"),
    (RelocType.TABLE_INDEX_I64, -2, "fe ff ff ff ff ff ff ff"),
])
def test_encode_value(rtype: RelocType, value: int, expected: str) -> None:
    assert relocate.encode_value(rtype, value) == bytes.fromhex(expected)


@pytest.mark.parametrize("rtype", list(RelocType), ids=lambda t: t.name)
def test_every_encoding_fills_its_site_exactly(rtype: RelocType) -> None:
    assert len(relocate.encode_value(rtype, 1)) == rtype.width


@pytest.mark.parametrize(("rtype", "value"), [
    (RelocType.MEMORY_ADDR_LEB, 2**35),
    (RelocType.MEMORY_ADDR_LEB, -1),
    (RelocType.MEMORY_ADDR_SLEB, 2**34),
    (RelocType.MEMORY_ADDR_SLEB64, 2**69),
    (RelocType.MEMORY_ADDR_SLEB64, -(2**69) - 1),
])
def test_a_value_too_wide_for_its_leb_site_is_an_error(rtype: RelocType, value: int) -> None:
    with pytest.raises(ValueError):
        relocate.encode_value(rtype, value)


# relocation: the pass


BODY = bytes.fromhex("41 00 00 00 00 00  10 00 00 00 00 00  0b")  # i32.const _; call _; end


def test_run_writes_each_site_and_leaves_the_rest() -> None:
    base = 100  # the body's first byte is byte 100 of the code section
    relocs = [Relocation(RelocType.MEMORY_ADDR_SLEB, 101, 0, -8),
              Relocation(RelocType.FUNCTION_INDEX_LEB, 107, 1)]
    seen: list[Relocation] = []

    def value_of(rel: Relocation) -> int:
        seen.append(rel)
        return rel.addend if rel.type is RelocType.MEMORY_ADDR_SLEB else 3

    out = relocate.run(BODY, base, relocs, value_of)
    assert out == bytes.fromhex("41 f8 ff ff ff 7f  10 83 80 80 80 00  0b")
    assert seen == relocs


def test_run_writes_data_words() -> None:
    segment = bytes(16)
    relocs = [Relocation(RelocType.MEMORY_ADDR_I32, 0x203, 0, 4),
              Relocation(RelocType.MEMORY_ADDR_I64, 0x208, 1)]
    out = relocate.run(segment, 0x200, relocs, lambda r: 0x1122_3344 + r.addend)
    assert out == bytes.fromhex("000000 48332211 00 4433221100000000")


def test_run_without_relocations_returns_the_bytes() -> None:
    assert relocate.run(BODY, 0, [], lambda r: 0) == BODY


@pytest.mark.parametrize("offset", [99, 109, 120], ids=["before", "across-the-end", "after"])
def test_a_relocation_outside_its_body_is_refused(offset: int) -> None:
    rel = Relocation(RelocType.FUNCTION_INDEX_LEB, offset, 0)
    with pytest.raises(PatchRefused) as err:
        relocate.run(BODY, 100, [rel], lambda r: 0)
    assert err.value.reason == f"relocation at offset {offset} lies outside its body"


def test_a_site_ending_at_the_bodys_end_is_inside() -> None:
    rel = Relocation(RelocType.MEMORY_ADDR_I32, 109, 0, 0)
    out = relocate.run(BODY, 100, [rel], lambda r: 0x0A0B0C0D)
    assert out == BODY[:9] + bytes.fromhex("0d0c0b0a")


# placement: the ledger


@pytest.mark.parametrize(("address", "alignment", "expected"), [
    (0x1000, 1, 0x1000), (0x1001, 1, 0x1001), (0x1001, 4, 0x1004), (0x1004, 4, 0x1004),
    (0x1005, 8, 0x1008), (0x1001, 16, 0x1010), (0, 8, 0),
])
def test_align_up(address: int, alignment: int, expected: int) -> None:
    assert align_up(address, alignment) == expected


def test_place_aligns_each_placement_after_the_last() -> None:
    ledger = Ledger(RESERVED)
    assert ledger.place(3, 1, "a") == START
    assert ledger.place(4, 4, "b") == START + 4
    assert ledger.place(1, 16, "c") == START + 16
    assert ledger.place(2, 1, "d") == START + 17
    assert ledger.memory_used == 19


def test_place_aligns_the_address_not_the_offset() -> None:
    ledger = Ledger(Reserved(memory_start=0x1003, memory_size=64, table_start=0, table_size=0))
    assert ledger.place(4, 4, "a") == 0x1004
    assert ledger.memory_used == 5  # the padding counts as used


def test_place_fills_the_reserved_memory_exactly_then_refuses() -> None:
    ledger = Ledger(RESERVED)
    assert ledger.place(RESERVED.memory_size - 1, 1, "most") == START
    assert ledger.place(1, 1, "last byte") == START + RESERVED.memory_size - 1
    with pytest.raises(PatchRefused) as err:
        ledger.place(1, 1, ".data.more")
    assert err.value.reason == (
        "the reserved memory for patches is used up (65,536 bytes) placing .data.more: "
        "rebuild (or raise reserve_pages)")
    assert ledger.memory_used == RESERVED.memory_size


def test_alignment_padding_can_use_up_the_reserved_memory() -> None:
    ledger = Ledger(RESERVED, memory_used=RESERVED.memory_size - 6)
    with pytest.raises(PatchRefused, match=r"used up \(65,536 bytes\) placing \.bss\.x"):
        ledger.place(4, 8, ".bss.x")  # 4 bytes fit, but not after 2 bytes of padding
    assert ledger.memory_used == RESERVED.memory_size - 6  # a refusal places nothing


def test_new_slots_are_handed_out_in_order_until_none_is_left() -> None:
    ledger = Ledger(RESERVED)
    assert [ledger.new_slot(f"f{i}") for i in range(3)] == [500, 501, 502]
    with pytest.raises(PatchRefused) as err:
        ledger.new_slot("counter::helper")
    assert err.value.reason == (
        "the spare table slots for patches are used up (3) placing counter::helper: rebuild "
        "(or raise spare_slots)")
    assert ledger.slots_used == 3


def test_the_ledger_round_trips_through_dump_and_load(tmp_path: Path) -> None:
    ledger = Ledger(RESERVED, memory_used=20, slots_used=2,
                    statics={ADDED: (START + 4, 8)}, slots={"helper": 500, "h2": 501},
                    signatures={"helper": "(i32) -> (i32)"}, pointed={"helper": 500},
                    aliases={"closure#1": "closure#0"}, objects={"unit-0": "ab" * 32},
                    sources={"src/lib.rs": "cd" * 32}, patches=3)
    ledger.dump(tmp_path / "ledger.msgpack")
    loaded = Ledger.load(tmp_path / "ledger.msgpack")
    assert loaded == ledger
    assert isinstance(loaded.reserved, Reserved)
    assert loaded.statics[ADDED] == (START + 4, 8)
    assert isinstance(loaded.statics[ADDED], tuple)
    assert loaded.place(1, 1, "x") == START + 20  # and places on where it left off
