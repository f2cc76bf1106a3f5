"""rust_hmr.dwarf on a crate of its own: declarations of closures, layouts, and what edits do.

The crate is built once (`Project.build()`), then edited and built again in the same
directory, so its objects keep their paths; each build's objects are read from the link
manifest (the object store keeps the earlier ones).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import msgpack
import pytest

from rust_hmr import Project
from rust_hmr.dwarf import (
    DebugInfo,
    Discriminant,
    DwarfError,
    Field,
    LayoutChange,
    TypeKind,
    TypeLayout,
    Variant,
    layout_changes,
    read_debug_info,
    read_debug_info_cached,
)
from rust_hmr.shim import LinkManifest, ObjectFile
from rust_hmr.wasm.module import parse
from rust_hmr.wasm.sections.linking import SymbolKind

pytestmark = pytest.mark.slow

CARGO_TOML = """\
[package]
name = "demo"
version = "0.1.0"
edition = "2021"

[lib]
crate-type = ["cdylib"]
"""

# `// @ <path>` marks the line where that closure's `|` is.
LIB_RS = """\
mod env;
mod value;

#[no_mangle]
pub extern "C" fn tally(n: i32) -> i32 {
    let double = |x: i32| x * 2; // @ demo::tally::{closure#0}
    let add = |a: i32, // @ demo::tally::{closure#1}
               b: i32| {
        a + b
    };
    (0..n)
        .map(
            |x| { // @ demo::tally::{closure#2}
                double(x) + 1
            },
        )
        .fold(0, |acc, x| add(acc, x)) // @ demo::tally::{closure#3}
}

#[no_mangle]
pub extern "C" fn run(n: i32) -> i32 {
    value::push(n);
    env::bind(n);
    value::total() + env::count()
}
"""

VALUE_RS = """\
use std::cell::RefCell;

pub enum Value {
    Int(i64),
    Str(String),
    Nil,
}

pub struct Wrapper<T> {
    pub inner: T,
    pub tag: u8,
}

pub enum Mode {
    Fast,
    Slow,
    Idle,
}

thread_local! {
    static VALUES: RefCell<Vec<Box<Value>>> = RefCell::new(Vec::new());
}

pub fn push(n: i32) {
    let value = if n % 2 == 0 { Value::Int(n as i64) } else { Value::Str(n.to_string()) };
    VALUES.with(|v| v.borrow_mut().push(Box::new(value))); // @ demo::value::push::{closure#0}
}

pub fn total() -> i32 {
    let w = Wrapper { inner: 3i32, tag: 1 };
    let mode = if w.tag > 0 { Mode::Fast } else { Mode::Slow };
    let bonus = match mode { Mode::Fast => w.inner, _ => 0 };
    VALUES.with(|v| { // @ demo::value::total::{closure#0}
        v.borrow()
            .iter()
            .map(|value| match **value { // @ demo::value::total::{closure#0}::{closure#0}
                Value::Int(i) => i as i32,
                Value::Str(ref s) => s.len() as i32,
                _ => 0,
            })
            .sum::<i32>()
    }) + bonus
}
"""

ENV_RS = """\
use std::cell::{Cell, RefCell};

pub struct Binding {
    pub name: [u8; 4],
    pub count: i32,
    pub next: Option<Box<Binding>>,
}

pub struct Tally {
    pub count: i32,
    pub last: i32,
}

thread_local! {
    static BINDINGS: RefCell<Vec<Binding>> = RefCell::new(Vec::new());
    static TALLY: Cell<Option<Box<Tally>>> = Cell::new(None);
}

pub fn bind(n: i32) {
    BINDINGS.with(|b| { // @ demo::env::bind::{closure#0}
        b.borrow_mut().push(Binding { name: *b"abcd", count: n, next: None })
    });
    let tally = Tally { count: n, last: n };
    TALLY.with(|t| t.set(Some(Box::new(tally)))); // @ demo::env::bind::{closure#1}
}

pub fn count() -> i32 {
    BINDINGS.with(|b| { // @ demo::env::count::{closure#0}
        b.borrow().iter().map(|x| x.count).sum() // @ demo::env::count::{closure#0}::{closure#0}
    })
}
"""

SOURCES = {"src/lib.rs": LIB_RS, "src/value.rs": VALUE_RS, "src/env.rs": ENV_RS}

# One edit per type, all in one build; and an edit of code alone, in another.
LAYOUT_EDITS = {
    "src/value.rs": [("    Int(i64),\n", "    Int(i64),\n    Float(f64),\n"),
                     ("    Slow,\n    Idle,\n", "    Slow,\n")],
    "src/env.rs": [("    pub count: i32,\n    pub next", "    pub count: i32,\n    pub hits: u32,\n"
                    "    pub next"),
                   ("pub struct Tally {\n    pub count: i32,",
                    "pub struct Tally {\n    pub count: i64,"),
                   ("Tally { count: n, last: n }", "Tally { count: n as i64, last: n }"),
                   ("count: n, next: None", "count: n, hits: 0, next: None")],
}
BODY_EDITS = {
    "src/lib.rs": [("double(x) + 1", "double(x) + 2")],
    "src/env.rs": [("map(|x| x.count)", "map(|x| x.count * 2)")],
}


@dataclass(frozen=True)
class Built:
    objects: list[ObjectFile]
    infos: list[DebugInfo]

    def types(self, crate: str = "demo") -> dict[str, TypeLayout]:
        """The crate's own types, as the patch linker would gather them."""
        out: dict[str, TypeLayout] = {}
        for info in self.infos:
            for path, layout in info.types.items():
                if path.split("::", 1)[0] == crate:
                    out.setdefault(path, layout)
        return out

    def functions(self) -> dict[str, tuple[str, int | None, str | None]]:
        """DWARF path -> (linkage name, line, file) of every defined function."""
        return {d.path: (key, d.line, d.file) for info in self.infos
                for key, d in info.functions.items()}


def _write(crate: Path, sources: dict[str, str]) -> None:
    for name, text in sources.items():
        (crate / name).parent.mkdir(parents=True, exist_ok=True)
        (crate / name).write_text(text)


def _edited(edits: dict[str, list[tuple[str, str]]]) -> dict[str, str]:
    out = dict(SOURCES)
    for name, replacements in edits.items():
        for old, new in replacements:
            assert old in out[name], old
            out[name] = out[name].replace(old, new)
    return out


def _build(crate: Path, sources: dict[str, str]) -> Built:
    _write(crate, sources)
    Project(crate).build()
    manifest = LinkManifest.load(crate / "target/rust-hmr/hmr/dev/link-manifest.msgpack")
    infos = [read_debug_info(Path(o.stored).read_bytes()) for o in manifest.objects]
    return Built(manifest.objects, infos)


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Built]:
    """The crate as written, with the layout edits, and with the body edits."""
    crate = tmp_path_factory.mktemp("dwarf") / "demo"
    crate.mkdir()
    (crate / "Cargo.toml").write_text(CARGO_TOML)
    return {
        "first": _build(crate, SOURCES),
        "layouts": _build(crate, _edited(LAYOUT_EDITS)),
        "bodies": _build(crate, _edited(BODY_EDITS)),
    }


def test_closures_are_declared_where_their_bar_is(builds: dict[str, Built]) -> None:
    functions = builds["first"].functions()
    marked = {}
    for name, text in SOURCES.items():
        for number, line in enumerate(text.splitlines(), 1):
            match = re.search(r"// @ (\S+)$", line)
            if match:
                assert "|" in line.split("//")[0]
                marked[match.group(1)] = (number, name)
    for path, (number, file) in marked.items():
        assert functions[path][1:] == (number, file), path
    own_closures = {p for p, (_, _, file) in functions.items()
                    if "{closure#" in p and file is not None and file.startswith("src/")}
    assert own_closures == set(marked)


def test_methods_and_generic_instances(builds: dict[str, Built]) -> None:
    decls = {d.path: d for info in builds["first"].infos for d in info.functions.values()}
    assert not decls["demo::value::push"].generic
    assert decls["demo::value::push"].file == "src/value.rs"
    generic = [p for p, d in decls.items() if d.generic]
    assert any(p.startswith("core::") for p in generic)
    impls = [p for p in decls if "::{impl#" in p]
    assert impls, "methods in impl blocks are listed too"


def test_keys_are_the_objects_function_symbols(builds: dict[str, Built]) -> None:
    for obj, info in zip(builds["first"].objects, builds["first"].infos, strict=True):
        linking = parse(Path(obj.stored).read_bytes()).decoded("linking")
        defined = {s.name for s in linking.symbols
                   if s.kind is SymbolKind.FUNCTION and s.defined and s.name}
        assert set(info.functions) <= defined
        # Only rustc's allocator shim is compiled without debug info.
        assert all(name.startswith("__rust_") for name in defined - set(info.functions))


def test_layouts_of_the_crates_types(builds: dict[str, Built]) -> None:
    types = builds["first"].types()
    value = types["demo::value::Value"]
    assert (value.kind, value.size, value.alignment) == (TypeKind.ENUM, 16, 8)
    assert value.discriminant == Discriminant(0, 4)
    assert [(v.name, v.discriminant) for v in value.variants] == [("Int", 0), ("Str", 1),
                                                                   ("Nil", 2)]
    assert value.variants[0].fields == (Field("__0", 8, "i64"),)
    assert value.variants[1].fields[0].type == "alloc::string::String"
    binding = types["demo::env::Binding"]
    assert {f.name: f.type for f in binding.fields} == {
        "name": "[u8; 4]", "count": "i32",
        "next": "core::option::Option<alloc::boxed::Box<demo::env::Binding, "
                "alloc::alloc::Global>>"}
    assert binding.size == 12
    assert types["demo::value::Wrapper<i32>"].fields == (Field("inner", 0, "i32"),
                                                          Field("tag", 4, "u8"))
    mode = types["demo::value::Mode"]
    assert [(v.name, v.discriminant, v.fields) for v in mode.variants] == [
        ("Fast", 0, ()), ("Slow", 1, ()), ("Idle", 2, ())]
    # Every object that describes a type describes it alike.
    for info in builds["first"].infos:
        if "demo::value::Value" in info.types:
            assert info.types["demo::value::Value"] == value


def test_layout_edits_are_described(builds: dict[str, Built]) -> None:
    changes = layout_changes(builds["first"].types(), builds["layouts"].types())
    assert [c.description for c in changes] == [
        "struct demo::env::Binding: field `hits: u32` added (12 → 16 bytes)",
        "struct demo::env::Tally: field `count` changed type from i32 to i64 "
        "(8 → 16 bytes, alignment 4 → 8)",
        # The closure that moves a Tally into its environment (boxed closures live on).
        "struct demo::env::bind::{closure_env#1}: field `tally` holds a demo::env::Tally, "
        "whose layout changed (8 → 16 bytes, alignment 4 → 8)",
        "enum demo::value::Mode: variant Idle removed",
        "enum demo::value::Value: variant Float added before Str",
    ]


def test_an_edit_of_code_alone_changes_no_layout(builds: dict[str, Built]) -> None:
    first, bodies = builds["first"], builds["bodies"]
    assert {o.blake3 for o in first.objects} != {o.blake3 for o in bodies.objects}
    assert layout_changes(first.types(), bodies.types()) == []
    assert layout_changes(first.types("core"), bodies.types("core")) == []


def test_cached_reads_agree(builds: dict[str, Built], tmp_path: Path) -> None:
    for obj, info in zip(builds["first"].objects, builds["first"].infos, strict=True):
        assert read_debug_info_cached(Path(obj.stored), obj.blake3, tmp_path) == info
        assert read_debug_info_cached(Path(obj.stored), obj.blake3, tmp_path) == info
    obj = builds["first"].objects[0]
    cached = tmp_path / f"{obj.blake3}.msgpack"
    cached.write_bytes(b"\xc1 not msgpack")
    assert read_debug_info_cached(Path(obj.stored), obj.blake3, tmp_path) == \
        builds["first"].infos[0]
    assert msgpack.unpackb(cached.read_bytes())["v"] >= 1


def test_an_object_new_only_outside_its_dwarf_takes_the_kept_record(
        builds: dict[str, Built], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The record is kept under the DWARF sections' blake3 too: an object whose code or data
    changed but whose `.debug_*` sections did not (a string edited) is not walked again; one
    whose DWARF changed is."""
    from rust_hmr.dwarf._reader import read_debug_sections

    obj = max(builds["first"].objects, key=lambda o: o.size)
    info = read_debug_info_cached(Path(obj.stored), obj.blake3, tmp_path / "cache")
    wasm = parse(Path(obj.stored).read_bytes())
    code = wasm.get("code")
    assert code is not None
    code.payload = code.payload[:-1] + bytes([code.payload[-1] ^ 1])  # code, not DWARF
    other = tmp_path / "other.o"
    other.write_bytes(wasm.to_bytes())
    walked: list[int] = []

    def walk(sections: dict[str, bytes]) -> DebugInfo:
        walked.append(1)
        return read_debug_sections(sections)

    monkeypatch.setattr("rust_hmr.dwarf._cache.read_debug_sections", walk)
    assert read_debug_info_cached(other, "other-object", tmp_path / "cache") == info
    assert walked == []
    debug = next(s for s in wasm.sections if s.name == ".debug_str")
    debug.payload = debug.payload + b"\0"  # the DWARF itself changed: read it again
    other.write_bytes(wasm.to_bytes())
    assert read_debug_info_cached(other, "third-object", tmp_path / "cache") == info
    assert walked == [1]


def test_malformed_debug_info_raises_dwarf_error(builds: dict[str, Built]) -> None:
    obj = max(builds["first"].objects, key=lambda o: o.size)
    wasm = parse(Path(obj.stored).read_bytes())
    for name, mangle in [(".debug_info", lambda b: b[:11] + b"\xff" * (len(b) - 11)),
                         (".debug_info", lambda b: b[: len(b) // 2]),
                         (".debug_abbrev", lambda b: b"\x01\x11"),
                         (".debug_line", lambda b: b"\x05")]:
        section = wasm.get(name)
        assert section is not None
        original = section.payload
        section.set_payload(mangle(original))
        with pytest.raises(DwarfError):
            read_debug_info(wasm.to_bytes())
        section.set_payload(original)
    wasm.sections = [s for s in wasm.sections if s.name != ".debug_abbrev"]
    with pytest.raises(DwarfError, match="debug_abbrev"):
        read_debug_info(wasm.to_bytes())
    with pytest.raises(DwarfError):
        read_debug_info(b"not wasm at all")


def test_an_object_without_debug_info_gives_nothing() -> None:
    assert read_debug_info(b"\0asm\x01\0\0\0") == DebugInfo()


# -- layout_changes on records written by hand ----------------------------------------------


def _struct(*fields: tuple[str, int, str], size: int = 8, align: int = 4) -> TypeLayout:
    return TypeLayout(TypeKind.STRUCT, size, align, tuple(Field(*f) for f in fields))


def _enum(*names: str, size: int = 8) -> TypeLayout:
    return TypeLayout(TypeKind.ENUM, size, 4, (), Discriminant(0, 4),
                      tuple(Variant(n, i) for i, n in enumerate(names)))


@pytest.mark.parametrize(("old", "new", "description"), [
    (_enum("Point", "Ring", "Line"), _enum("Point", "Line"), "enum t::T: variant Ring removed"),
    (_enum("A"), _enum("A", "B"), "enum t::T: variant B added after A"),
    (_enum("A", "B"), _enum("B", "A"), "enum t::T: variants reordered"),
    (_struct(("a", 0, "u32"), ("b", 4, "u32")), _struct(("b", 0, "u32"), ("a", 4, "u32")),
     "struct t::T: fields reordered"),
    (_struct(("__0", 0, "u32")), _struct(("__0", 0, "u64"), size=8, align=8),
     "struct t::T: field `0` changed type from u32 to u64 (alignment 4 → 8)"),
    (_struct(("a", 0, "u32"), size=16), _struct(("a", 0, "u32"), size=24, align=8),
     "struct t::T: size 16 → 24 bytes, alignment 4 → 8"),
    (_struct(("a", 0, "demo::Big")), _struct(("a", 8, "demo::Big")),
     "struct t::T: field `a` moved from offset 0 to 8"),
    (_struct(("a", 0, "u32")), _enum("A"), "t::T: was a struct, is now an enum"),
])
def test_layout_change_descriptions(old: TypeLayout, new: TypeLayout, description: str) -> None:
    assert layout_changes({"t::T": old}, {"t::T": new}) == [LayoutChange("t::T", description)]


def test_types_on_one_side_only_are_no_change() -> None:
    layout = _struct(("a", 0, "u32"))
    assert layout_changes({"t::Old": layout, "t::Same": layout},
                          {"t::New": layout, "t::Same": layout}) == []
