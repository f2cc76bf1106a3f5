"""wasm-bindgen support: the `__wasm_bindgen_unstable` section and the describe step, on a real
crate (tests/data/bindgen_crate: wasm-bindgen, web-sys, js-sys and a closure, built offline
against Debian's packaged crates), plus the decoders' error cases on hand-made bytes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from bindgen_deps import BindgenDeps

from rust_hmr import bindgen
from rust_hmr.bindgen import (
    BindgenError,
    Bindings,
    DescriptorError,
    SchemaVersionError,
    SectionDecodeError,
    Tag,
    decode_descriptor,
    decode_records,
    read_bindings,
)
from rust_hmr.bindgen.descriptors import (
    Closure,
    Externref,
    Function,
    NamedExternref,
    Number,
    NumberKind,
    Option,
    Ref,
    Result,
    RustStruct,
    Slice,
    String,
    Unit,
    Vector,
)
from rust_hmr.bindgen.schema import SCHEMA_VERSION, Constructor, NamedModule, Operation, Regular
from rust_hmr.cargo_build import build_wasm
from rust_hmr.toolchain import Toolchain
from rust_hmr.wasm import Section, WasmFile, parse

CRATE = Path(__file__).resolve().parent / "data" / "bindgen_crate"
SECTION_NAME = "__wasm_bindgen_unstable"
DEBIAN_REGISTRY = Path("/usr/share/cargo/registry")
DEBIAN_CRATES = ("wasm-bindgen-0.2.83", "web-sys-0.3.60", "js-sys-0.3.60",
                 "console_error_panic_hook-0.1.7")  # fmt: skip

I32, U32, F64 = (Number(NumberKind.I32), Number(NumberKind.U32), Number(NumberKind.F64))
UNIT = Unit()


def fn(*arguments: bindgen.Descriptor, ret: bindgen.Descriptor = UNIT) -> Function:
    """The descriptor of an export's or import's function: shim 0, ret twice."""
    return Function(0, arguments, ret, ret)


# --- the test crate, built once per session in each profile -----------------------------------


@pytest.fixture(scope="session", name="bindgen_crate")
def fixture_bindgen_crate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    missing = [name for name in DEBIAN_CRATES if not (DEBIAN_REGISTRY / name).is_dir()]
    if missing:
        pytest.skip(f"Debian's packaged crates are not installed ({', '.join(missing)} missing "
                    f"from {DEBIAN_REGISTRY}): apt-get install librust-wasm-bindgen-dev "
                    "librust-web-sys-dev librust-js-sys-dev librust-console-error-panic-hook-dev")
    # One copy per session at a fixed place: test_bindgen_glue's fixtures find the same build.
    crate = tmp_path_factory.getbasetemp() / "bindgen" / "bindgen_crate"
    if not crate.is_dir():
        shutil.copytree(CRATE, crate, ignore=shutil.ignore_patterns("target", "Cargo.lock"))
    return crate


def _build(crate: Path, profile: str, toolchain: Toolchain) -> Path:
    # cargo keeps its registry cache and lock files in CARGO_HOME: one of the test's own.
    env = {"CARGO_HOME": str(crate.parent / "cargo-home")}
    return build_wasm(crate, profile, toolchain, extra_env=env).path  # type: ignore[arg-type]


@pytest.fixture(scope="session", name="dev_wasm")
def fixture_dev_wasm(bindgen_crate: Path, toolchain: Toolchain, bindgen_deps: BindgenDeps) -> Path:
    """The dev build with the HMR link arguments (every function exported)."""
    bindgen_deps.seed(bindgen_crate, "dev")  # the registry crates, compiled once per session
    return _build(bindgen_crate, "dev", toolchain)


@pytest.fixture(scope="session", name="release_wasm")
def fixture_release_wasm(bindgen_crate: Path, toolchain: Toolchain,
                         bindgen_deps: BindgenDeps) -> Path:  # fmt: skip
    """An ordinary release build: only what wasm-bindgen exports, closures inlined away."""
    bindgen_deps.seed(bindgen_crate, "release")
    return _build(bindgen_crate, "release", toolchain)


@pytest.fixture(scope="session", name="dev_bindings")
def fixture_dev_bindings(dev_wasm: Path) -> Bindings:
    return read_bindings(dev_wasm.read_bytes())


@pytest.fixture(scope="session", name="release_bindings")
def fixture_release_bindings(release_wasm: Path) -> Bindings:
    return read_bindings(release_wasm.read_bytes())


def with_section(wasm: WasmFile, payload: bytes) -> WasmFile:
    """A copy of `wasm` whose wasm-bindgen section holds `payload`."""
    return WasmFile([Section(s.id, s.name, payload if s.name == SECTION_NAME else s.payload,
                             s.offset) for s in wasm.sections])  # fmt: skip


def section_payload(wasm: WasmFile) -> bytes:
    section = wasm.get(SECTION_NAME)
    assert section is not None
    return section.payload


# --- the decoded programs ---------------------------------------------------------------------

EXPORTS = {"greet", "add", "isEven", "initial", "sum", "squares", "parse_count", "echo",
           "now_plus", "mount", "start", "new", "bump"}  # fmt: skip
# src/kinds.rs, the glue's round trips (tests/test_bindgen_glue.py)
KIND_EXPORTS = {
    "text_round_trip", "numbers", "u64_max_minus", "u32_sum", "next_char", "half", "opt_u32",
    "opt_bool", "name_or", "try_risky", "fail_with", "bytes", "byte_sum", "js_byte_total",
    "fill", "scaled", "closure_start", "once_start", "closures_drop", "is_html_element",
    "tag_of", "add_item", "greeter_round_trip", "inline_twice", "settings", "bag_edit",
    "next_color", "same", "debug_text", "add", "total", "absorb", "zero",
}  # fmt: skip


@pytest.mark.slow
def test_programs_name_the_crates_exports(dev_bindings: Bindings) -> None:
    assert {e.js_name for e in dev_bindings.exports} == EXPORTS | KIND_EXPORTS
    assert all(r.schema_version == SCHEMA_VERSION for r in dev_bindings.records)
    is_even = dev_bindings.export("isEven")  # `js_name = isEven` on `fn is_even`
    assert (is_even.wasm_name, is_even.export.class_) == ("isEven", None)
    assert dev_bindings.export("greet").export.function.arg_names == ("name",)
    assert dev_bindings.export("start").export.start
    new, bump = dev_bindings.export("new"), dev_bindings.export("bump")
    assert (new.wasm_name, new.export.class_, new.export.method_kind) == (
        "counter_new", "Counter", Constructor())
    method = Operation(is_static=False, kind=Regular())
    assert (bump.wasm_name, bump.export.method_kind) == ("counter_bump", method)
    structs = [s.name for p in dev_bindings.programs for s in p.structs]
    assert sorted(structs) == ["Counter", "Tally"]


@pytest.mark.slow
def test_programs_name_the_imports_with_their_js_names(dev_bindings: Bindings) -> None:
    log = next(i for i in dev_bindings.imports if i.shim.startswith("__wbg_log_")
               and i.descriptor == fn(Ref(String())))  # fmt: skip
    assert (log.js_name, log.js_namespace, log.module) == ("log", ("console",), None)
    assert dev_bindings.import_("pageTitle").js_namespace is None
    risky = dev_bindings.import_("risky")
    assert risky.js_namespace == ("window", "app")
    assert risky.kind.catch  # type: ignore[union-attr]
    ticks = dev_bindings.import_("ticks")
    assert isinstance(ticks.module, NamedModule)
    assert ticks.module.name.endswith("/snippets/clock.js")
    snippets = {m.identifier: m.contents for p in dev_bindings.programs for m in p.local_modules}
    assert "export function ticks" in snippets[ticks.module.name]
    # web-sys: methods keep their class and JS name.
    create = dev_bindings.import_("createElement")
    assert create.kind.method.class_ == "Document"  # type: ignore[union-attr]


# --- the describe step ------------------------------------------------------------------------

EXPORT_TYPES = {
    "greet": fn(Ref(String()), ret=String()),
    "add": fn(I32, I32, ret=I32),
    "isEven": fn(U32, ret=bindgen.descriptors.Boolean()),
    "initial": fn(Option(String()), ret=Option(bindgen.descriptors.Char())),
    "sum": fn(Ref(Slice(F64)), ret=F64),
    "squares": fn(U32, ret=Vector(U32)),
    "parse_count": fn(Ref(String()), ret=Result(U32)),
    "echo": fn(Externref(), ret=Externref()),
    "now_plus": fn(F64, ret=F64),
    "mount": fn(Ref(String()), ret=Result(NamedExternref("Element"))),
    "start": fn(),
    "counter_new": fn(ret=RustStruct("Counter")),
    "counter_bump": fn(U32, ret=U32),
}


@pytest.mark.slow
@pytest.mark.parametrize("build", ["dev", "release"])
def test_export_descriptors_are_the_rust_types(
    build: str, request: pytest.FixtureRequest
) -> None:
    bindings: Bindings = request.getfixturevalue(f"{build}_bindings")
    found = {e.wasm_name: e.descriptor for e in bindings.exports if e.export.class_ != "Tally"}
    assert {name: found[name] for name in EXPORT_TYPES} == EXPORT_TYPES


@pytest.mark.slow
def test_import_descriptors(release_bindings: Bindings) -> None:
    b = release_bindings
    assert b.import_("pageTitle").descriptor == fn(ret=String())
    assert b.import_("ticks").descriptor == fn(F64, ret=F64)
    assert b.import_("risky").descriptor == fn(bindgen.descriptors.Boolean(), ret=U32)  # catch
    window = NamedExternref("Window")
    assert b.import_("document").descriptor == fn(Ref(window), ret=Option(NamedExternref(
        "Document")))  # fmt: skip
    assert b.import_("createElement").descriptor == fn(
        Ref(NamedExternref("Document")), Ref(String()), ret=NamedExternref("Element"))
    # The release build imports only what the code uses; web-sys declares thousands.
    assert len(b.imports) < 60


@pytest.mark.slow
@pytest.mark.parametrize("build", ["dev", "release"])
def test_the_closure_is_described(build: str, request: pytest.FixtureRequest) -> None:
    bindings: Bindings = request.getfixturevalue(f"{build}_bindings")
    # mount's Closure::wrap, for a `dyn FnMut(web_sys::Event)` (kinds.rs has two more)
    [closure] = [site.descriptor for site in bindings.closures
                 if site.descriptor.function.arguments == (NamedExternref("Event"),)]
    assert isinstance(closure, Closure) and closure.mutable
    assert closure.function.arguments == (NamedExternref("Event"),)
    assert closure.function.ret == Unit()
    assert len({closure.shim, closure.destroy, closure.function.shim}) == 3
    assert 0 not in (closure.shim, closure.destroy)
    # Three closure types, each known by its describe function's table slot.
    assert len({site.describe_index for site in bindings.closures}) == 3
    assert 0 not in {site.describe_index for site in bindings.closures}


# --- errors on the real module ----------------------------------------------------------------


@pytest.mark.slow
def test_forged_schema_version_is_one_clear_error(release_wasm: Path) -> None:
    wasm = parse(release_wasm.read_bytes())
    payload = section_payload(wasm)
    forged = payload.replace(b'"schema_version":"0.2.83"', b'"schema_version":"0.2.99"', 1)
    assert forged != payload
    with pytest.raises(SchemaVersionError) as caught:
        read_bindings(with_section(wasm, forged))
    assert (caught.value.found, caught.value.supported) == ("0.2.99", "0.2.83")
    assert "0.2.99" in str(caught.value) and "0.2.83" in str(caught.value)


@pytest.mark.slow
def test_truncated_section_is_a_clear_error(release_wasm: Path) -> None:
    wasm = parse(release_wasm.read_bytes())
    payload = section_payload(wasm)
    with pytest.raises(SectionDecodeError, match="unexpected end of input in program"):
        read_bindings(with_section(wasm, payload[: len(payload) // 2]))


# --- hand-made records ------------------------------------------------------------------------


def leb(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def text(value: str) -> bytes:
    raw = value.encode()
    return leb(len(raw)) + raw


def record(program: bytes, schema: str = SCHEMA_VERSION) -> bytes:
    prefix = json.dumps({"schema_version": schema, "version": schema},
                        separators=(",", ":")).encode()  # fmt: skip
    return (len(prefix).to_bytes(4, "little") + prefix
            + len(program).to_bytes(4, "little") + program)  # fmt: skip


# A program with no exports and enums, one import `console.log` (shim "s"), no structs,
# TypeScript sections, local modules or inline JS, the crate id, and no package.json.
IMPORT_LOG = (
    b"\x01"  # one import:
    + b"\x00" + b"\x01" + leb(1) + text("console")  # module None, js_namespace ["console"]
    + b"\x00" + text("s")  # ImportKind::Function, its shim
    + b"\x00\x00\x00" + b"\x00" + b"\x01"  # catch, variadic, assert_no_shim; no method; structural
    + leb(1) + text("message") + b"\x00" + text("log") + b"\x01\x00"  # the Function record
)  # fmt: skip
PROGRAM = b"\x00\x00" + IMPORT_LOG + b"\x00\x00\x00\x00" + text("crate-0") + b"\x00"


def test_decodes_a_hand_made_record() -> None:
    [rec] = decode_records(record(PROGRAM))
    [imp] = rec.program.imports
    assert (imp.js_namespace, imp.kind.shim, imp.kind.function.name) == (  # type: ignore[union-attr]
        ("console",), "s", "log")
    assert imp.kind.function.arg_names == ("message",)  # type: ignore[union-attr]
    assert rec.program.unique_crate_identifier == "crate-0"


def test_other_schema_version_names_both() -> None:
    with pytest.raises(SchemaVersionError, match=r"'0\.2\.84'.*'0\.2\.83'"):
        list(decode_records(record(PROGRAM) + record(PROGRAM, schema="0.2.84")))


@pytest.mark.parametrize("cut", [3, 20, len(record(PROGRAM)) - 1])
def test_truncated_record(cut: int) -> None:
    with pytest.raises(SectionDecodeError, match="unexpected end of input"):
        list(decode_records(record(PROGRAM)[:cut]))


def test_truncated_program_inside_its_length() -> None:
    short = PROGRAM[: len(PROGRAM) - 4]
    with pytest.raises(SectionDecodeError, match=r"unexpected end of input .*\(at offset 0x"):
        list(decode_records(record(short)))


def test_bad_enum_tag_and_bad_json() -> None:
    bad_tag = PROGRAM.replace(b"\x00" + text("s"), b"\x07" + text("s"), 1)  # ImportKind 7
    with pytest.raises(SectionDecodeError, match="enum tag 7"):
        list(decode_records(record(bad_tag)))
    not_json = b"\x03\x00\x00\x00abc" + len(PROGRAM).to_bytes(4, "little") + PROGRAM
    with pytest.raises(SectionDecodeError, match="JSON"):
        list(decode_records(not_json))


def test_module_without_bindgen_section(counter_release_wasm: Path) -> None:
    with pytest.raises(BindgenError, match="no __wasm_bindgen_unstable section"):
        read_bindings(counter_release_wasm.read_bytes())


# --- descriptors from words -------------------------------------------------------------------


@pytest.mark.parametrize(("words", "expected"), [
    ([Tag.FUNCTION, 0, 1, Tag.REF, Tag.STRING, Tag.STRING, Tag.STRING],
     fn(Ref(String()), ret=String())),
    ([Tag.NAMED_EXTERNREF, 6, *map(ord, "Window")], NamedExternref("Window")),
    ([Tag.CLAMPED, Tag.VECTOR, Tag.U8], Vector(Number(NumberKind.U8, clamped=True))),
    ([Tag.OPTIONAL, Tag.CACHED_STRING], Option(String(cached=True))),
    ([Tag.CLOSURE, 5, 6, Tag.REF, Tag.FUNCTION, 7, 0, Tag.UNIT, Tag.UNIT],
     Closure(5, 6, False, Function(7, (), Unit(), Unit()))),
])  # fmt: skip
def test_descriptor_words(words: list[int], expected: bindgen.Descriptor) -> None:
    assert decode_descriptor(words) == expected


@pytest.mark.parametrize(("words", "message"), [
    ([], "ends where a descriptor tag"),
    ([99], "unknown descriptor tag 99"),
    ([Tag.UNIT, Tag.UNIT], "1 word(s) left"),
    ([Tag.FUNCTION, 0, 3, Tag.UNIT], "3 arguments cannot fit"),
    ([Tag.RUST_STRUCT, 0x10, 65], "longer than the descriptor"),
    ([Tag.CLOSURE, 1, 2, Tag.UNIT], "REF or REFMUT"),
])  # fmt: skip
def test_bad_descriptor_words(words: list[int], message: str) -> None:
    with pytest.raises(DescriptorError, match=message.replace("(", r"\(").replace(")", r"\)")):
        decode_descriptor(words)


def test_all_is_sorted_and_importable() -> None:
    assert bindgen.__all__ == sorted(bindgen.__all__)
    for name in bindgen.__all__:
        assert getattr(bindgen, name) is not None


def test_call_scanner_reads_calls_not_immediates() -> None:
    from rust_hmr.bindgen._calls import call_targets
    from rust_hmr.wasm.sections.code import FunctionBody

    # no locals; i32.const 16 (the `call` opcode's byte as an immediate); drop; call 5;
    # call 7 with a 5-byte padded LEB; end
    body = FunctionBody(0, bytes([0x00, 0x41, 0x10, 0x1A, 0x10, 0x05,
                                  0x10, 0x87, 0x80, 0x80, 0x80, 0x00, 0x0B]))  # fmt: skip
    assert list(call_targets(body)) == [5, 7]
