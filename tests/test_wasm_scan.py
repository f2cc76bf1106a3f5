"""The fast scans (`rust_hmr.wasm.scan`) agree with the section readers on real modules, and
refuse truncated input with the toolkit's own error."""

from __future__ import annotations

from pathlib import Path

import pytest

from rust_hmr import Build, Project
from rust_hmr.prepare import SymbolMap, hot_names
from rust_hmr.wasm import scan
from rust_hmr.wasm.errors import WasmDecodeError
from rust_hmr.wasm.leb128 import encode_unsigned
from rust_hmr.wasm.module import WasmFile, parse
from rust_hmr.wasm.sections.linking import SymbolKind
from rust_hmr.wasm.sections.name import NameKind
from rust_hmr.wasm.sections.reloc import RelocType
from rust_hmr.wasm.writer import Writer

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Build:
    from conftest import EXAMPLES, copy_crate

    crate = copy_crate(EXAMPLES / "counter", tmp_path_factory.mktemp("scan") / "counter")
    return Project(crate).build()


@pytest.fixture(scope="module")
def linked(build: Build) -> WasmFile:
    return parse(build.linked_path.read_bytes())


def _as_tuple(sym: object) -> tuple[object, ...]:
    def field(value: int | None) -> int:
        return -1 if value is None else value

    return (int(sym.kind), int(sym.flags), sym.name,  # type: ignore[attr-defined]
            -1 if sym.kind is SymbolKind.DATA else field(sym.index),  # type: ignore[attr-defined]
            field(sym.segment), field(sym.offset), field(sym.size))  # type: ignore[attr-defined]


def test_linking_scan_matches_the_reader(linked: WasmFile, build: Build) -> None:
    section = linked.get("linking")
    assert section is not None
    scanned = scan.linking(section.payload, section.offset)
    decoded = section.decode()
    assert scanned.symbols == [_as_tuple(s) for s in decoded.symbols]
    assert scanned.segments == decoded.segments
    for obj in build.manifest.objects:
        object_linking = parse(Path(obj.stored).read_bytes()).get("linking")
        assert object_linking is not None
        assert scan.linking(object_linking.payload).symbols == [
            _as_tuple(s) for s in object_linking.decode().symbols]


def test_hot_names_are_the_objects_defined_functions(build: Build) -> None:
    expected = set()
    for obj in build.manifest.objects:
        for s in parse(Path(obj.stored).read_bytes()).decoded("linking").symbols:
            if s.kind is SymbolKind.FUNCTION and s.defined and s.name is not None:
                expected.add(s.name)
    assert hot_names(Path(o.stored) for o in build.manifest.objects) == expected


def test_relocation_scan_matches_the_reader(linked: WasmFile) -> None:
    for section in linked.custom("reloc."):
        entries = section.decode().entries
        for rtype in RelocType:
            wanted = [(r.offset, r.index) for r in entries if r.type is rtype]
            assert scan.relocations(section.payload, int(rtype), section.offset) == wanted
            assert scan.relocation_offsets(section.payload, int(rtype), section.offset) == [
                offset for offset, _ in wanted], section.name


def test_a_relocation_of_no_known_type_is_a_decode_error() -> None:
    w = Writer()
    w.u32(10)  # the target section
    w.u32(2)  # two entries
    w.raw(bytes([RelocType.FUNCTION_INDEX_LEB, 3, 1]))
    w.raw(bytes([0x7E, 9, 2]))  # type 0x7e is no relocation type
    with pytest.raises(WasmDecodeError, match="relocation 1 of 2") as info:
        scan.relocations(w.getvalue(), 0, base=0x100)
    assert info.value.offset == 0x100 + 5


def test_call_sites_name_the_relocations_functions(linked: WasmFile) -> None:
    """The rewrite reads each call's callee from its padded immediate; that is the function of
    the relocation's symbol."""
    from rust_hmr.prepare import symbols as found

    linking = found.require_linking(linked)
    functions = found.read_functions(linked, linking.symbols)
    calls = found.call_relocations(linked, len(functions.names))
    section = linked.get("reloc.CODE")
    assert section is not None
    symbols = linked.decoded("linking").symbols
    function_of = {i: s.index for i, s in enumerate(symbols) if s.kind is SymbolKind.FUNCTION}
    expected = [(offset, function_of[symbol]) for offset, symbol in
                scan.relocations(section.payload, int(RelocType.FUNCTION_INDEX_LEB))]
    assert list(zip(calls.offsets, calls.functions, strict=True)) == expected


def test_custom_section_is_found_from_the_headers(build: Build) -> None:
    for obj in build.manifest.objects:
        data = Path(obj.stored).read_bytes()
        section = parse(data).get("linking")
        assert section is not None
        assert scan.custom_section(data, "linking") == (
            section.offset, section.offset + len(section.payload))
        assert scan.custom_section(data, "no such section") is None


def test_code_exports_and_names_match_the_readers(linked: WasmFile) -> None:
    code = linked.get("code")
    assert code is not None
    assert scan.body_starts(code.payload, code.offset) == [
        b.offset - code.offset for b in code.decode()]
    export = linked.get("export")
    assert export is not None
    scanned = scan.exports(export.payload, export.offset)
    assert [(n.decode(), k, i) for n, k, i, _, _ in scanned] == [
        (e.name, int(e.kind), e.index) for e in export.decode()]
    for _, _, index, start, end in scanned:
        assert export.payload[start:end] == encode_unsigned(index)
    names = linked.get("name")
    assert names is not None
    parts = scan.subsections(names.payload, names.offset)
    function = next(p for p in parts if p[0] == NameKind.FUNCTION)
    assert scan.name_map(names.payload, function[2], function[3]) == names.decode().functions


@pytest.mark.parametrize("cut", [1, 2, 7, 100])
def test_a_cut_short_section_is_a_decode_error(linked: WasmFile, cut: int) -> None:
    for name, run in [("linking", lambda p: scan.linking(p)),
                      ("reloc.CODE", lambda p: scan.relocations(p, 0)),
                      ("code", lambda p: scan.body_starts(p)),
                      ("export", lambda p: scan.exports(p))]:
        section = linked.get(name)
        assert section is not None
        with pytest.raises(WasmDecodeError):
            run(section.payload[:-cut])


def test_an_overlong_leb_is_a_decode_error() -> None:
    w = Writer()
    w.u32(1)  # one export
    w.name("f")
    w.u8(0)
    w.raw(b"\x80\x80\x80\x80\x80\x01")  # six bytes: more than a u32 may take
    with pytest.raises(WasmDecodeError, match="longer than 5 bytes"):
        scan.exports(w.getvalue())


def test_the_symbol_map_round_trips_and_demangles_on_demand(build: Build) -> None:
    blob = build.symbols.to_bytes()
    loaded = SymbolMap.from_bytes(blob)
    assert loaded.functions == build.symbols.functions
    assert loaded.data == build.symbols.data
    assert loaded.reserved == build.symbols.reserved
    assert "demangled" not in vars(loaded.functions[-1])  # nothing computed until asked
    hot = next(f for f in loaded.functions if f.hot)
    assert hot.demangled.startswith(("counter::", "<", "core::", "alloc::", "std::"))
    assert "demangled" in vars(hot)
    with pytest.raises(ValueError, match="symbol map version"):
        SymbolMap.from_bytes(blob.replace(b"\xa7version\x04", b"\xa7version\x03"))
