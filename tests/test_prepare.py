"""The prepared main module: same behaviour as the plain build, calls routed through slots."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import wasmtime

from rust_hmr import Build, CompileError, Project
from rust_hmr.host import Host
from rust_hmr.prepare import SymbolMap
from rust_hmr.shim import LinkManifest
from rust_hmr.wasm.module import parse
from rust_hmr.wasm.reader import Reader
from rust_hmr.wasm.sections.reloc import RelocType

WASM_TOOLS = shutil.which("wasm-tools", path=str(Path(sys.executable).parent)) or "wasm-tools"

COUNTER_SCRIPT = [("increment", ()), ("increment", ()), ("add", (5,)), ("get", ()),
                  ("preview_add", (3,)), ("label_len", ()), ("label_hash", ()),
                  ("history_len", ()), ("history_sum", ()), ("reset", ()), ("label_hash", ()),
                  ("increment", ()), ("label_hash", ()), ("history_sum", ())]


@pytest.fixture(scope="module")
def counter_build(tmp_path_factory: pytest.TempPathFactory) -> Build:
    from conftest import EXAMPLES, copy_crate

    crate = copy_crate(EXAMPLES / "counter", tmp_path_factory.mktemp("prepare") / "counter")
    return Project(crate).build()


def run_script(host: Host, script: list[tuple[str, tuple[int, ...]]]) -> list[object]:
    return [host.call(name, *args) for name, args in script]


def test_prepared_counter_answers_like_the_plain_build(counter_build: Build,
                                                       counter_debug_wasm: Path) -> None:
    plain = run_script(Host(counter_debug_wasm), COUNTER_SCRIPT)
    prepared = run_script(Host(counter_build), COUNTER_SCRIPT)
    assert prepared == plain
    assert plain[:4] == [1, 2, 7, 7]


def test_prepared_module_validates(counter_build: Build) -> None:
    subprocess.run([WASM_TOOLS, "validate", str(counter_build.module_path)], check=True)
    wasmtime.Module.validate(wasmtime.Engine(), counter_build.module_path.read_bytes())


def test_symbol_map_is_saved_and_matches(counter_build: Build) -> None:
    loaded = SymbolMap.load(counter_build.symbols_path)
    assert loaded == counter_build.symbols
    count = next(d for d in loaded.data if d.demangled.startswith("counter::COUNT"))
    assert count.local and count.size == 4 and count.writable
    host = Host(counter_build)
    host.call("add", 41)
    assert int.from_bytes(host.read_bytes(count.address, 4), "little") == 41


def test_slot_swap_changes_every_direct_caller(counter_build: Build) -> None:
    """`increment` calls `add` directly; point add's slot at `preview_add` (same type) and
    increment answers with the preview while the count stays where it was."""
    symbols = counter_build.symbols
    add = symbols.function("add")  # #[no_mangle]: the symbol is the plain name
    preview = symbols.function("preview_add")
    assert add.hot and add.slot is not None and add.type_index == preview.type_index
    assert preview.slot is not None
    host = Host(counter_build)
    assert host.table is not None
    assert host.call("add", 10) == 10
    original = host.table.get(host.store, add.slot)
    replacement = host.table.get(host.store, preview.slot)
    host.table.set(host.store, add.slot, replacement)
    assert host.call("increment") == 11  # preview_add(1): 10 + 1
    assert host.call("get") == 10
    host.table.set(host.store, add.slot, original)
    assert host.call("increment") == 11
    assert host.call("get") == 11


def test_every_direct_call_of_a_hot_function_goes_through_its_trampoline(
    counter_build: Build,
) -> None:
    linked = parse(counter_build.linked_path.read_bytes())
    linking = linked.decoded("linking")
    prepared_code = parse(counter_build.module_path.read_bytes()).get("code")
    assert prepared_code is not None
    by_index = {f.index: f for f in counter_build.symbols.functions}
    routed = 0
    for rel in linked.decoded("reloc.CODE").entries:
        if rel.type is not RelocType.FUNCTION_INDEX_LEB:
            continue
        target = by_index[linking.symbols[rel.index].index]
        now = Reader(prepared_code.payload, rel.offset).u32()
        if target.hot:
            assert now == target.trampoline, target.demangled
            routed += 1
        else:
            assert now == target.index, target.demangled
    assert routed > 50


def test_only_the_crates_own_functions_are_hot(counter_build: Build) -> None:
    from rust_hmr._project import defined_function_names

    own = {name for obj in counter_build.manifest.objects
           for name in defined_function_names(Path(obj.stored))}
    for f in counter_build.symbols.functions:
        assert f.hot == (not f.imported and bool(own & {f.name, *f.names})), f.demangled
    names = {f.demangled.split("::h")[0]: f for f in counter_build.symbols.functions}
    assert names["counter::label::render"].hot
    assert not names["std::panicking::begin_panic_handler::{{closure}}"].hot
    assert not names["dlmalloc::dlmalloc::Dlmalloc<A>::malloc"].hot


def test_hot_functions_keep_only_the_exports_the_app_asked_for(counter_build: Build) -> None:
    """Patches call hot functions through their slots: of `--export-all`'s exports, a hot
    function keeps only the one rustc asked for (the app's own, pointing at its trampoline);
    cold functions keep theirs, which patches import by name."""
    from rust_hmr.wasm import scan
    from rust_hmr.wasm.module import parse

    section = parse(counter_build.module_path.read_bytes()).get("export")
    assert section is not None
    exported = {name.decode(): index for name, kind, index, _, _ in
                scan.exports(section.payload, section.offset) if kind == 0}
    by_name = {f.demangled.split("::h")[0]: f for f in counter_build.symbols.functions}
    increment = by_name["increment"]  # #[no_mangle]
    assert "increment" in counter_build.manifest.exported
    assert exported["increment"] == increment.trampoline
    assert by_name["counter::label::render"].name not in exported
    assert by_name["dlmalloc::dlmalloc::Dlmalloc<A>::malloc"].name in exported


def test_link_manifest_records_the_link_line(counter_build: Build) -> None:
    manifest = LinkManifest.load(counter_build.symbols_path.parent / "link-manifest.msgpack")
    assert manifest.mode == "link" and manifest.crate == "counter"
    assert len(manifest.objects) > 10
    assert all(Path(o.stored).exists() for o in manifest.objects)
    assert any("libstd-" in r for r in manifest.rlibs)
    assert manifest.output.endswith("counter.wasm")


def test_reserved_room_lies_beyond_what_the_app_uses(counter_build: Build) -> None:
    reserved = counter_build.symbols.reserved
    host = Host(counter_build)
    assert host.memory is not None and host.table is not None
    for _ in range(50):
        host.call("increment")  # the allocator grows memory for the history
    assert host.memory.size(host.store) * 65536 >= reserved.memory_start + reserved.memory_size
    assert all(d.address + d.size <= reserved.memory_start for d in counter_build.symbols.data)
    assert host.read_bytes(reserved.memory_start, reserved.memory_size) == bytes(
        reserved.memory_size)
    assert host.table.size(host.store) >= reserved.table_start + reserved.table_size


def test_compile_error_keeps_the_previous_build(tmp_path: Path) -> None:
    from conftest import EXAMPLES, copy_crate

    crate = copy_crate(EXAMPLES / "counter", tmp_path / "counter")
    project = Project(crate)
    first = project.build()
    before = first.module_path.read_bytes()
    lib = crate / "src" / "lib.rs"
    lib.write_text(lib.read_text().replace("add(STEP)", "add(STEP"))
    with pytest.raises(CompileError) as info:
        project.build()
    assert "error: " in info.value.stderr and "lib.rs" in info.value.stderr
    assert first.module_path.read_bytes() == before
    assert Host(first).call("increment") == 1


def signals_session(host: Host) -> list[object]:
    """A scripted session of the signals app: every answer, the text and the log."""
    from test_signals_example import rendered, set_name

    out: list[object] = [host.call("app_init"), rendered(host)]
    out += [host.call("app_click") for _ in range(3)]
    set_name(host, "Ferris")
    out += [rendered(host), host.call("app_renders"), host.call("effect_runs"),
            host.call("signal_count"), host.call("app_count")]
    return [*out, list(host.logs)]


def test_prepared_signals_answers_like_the_plain_build(
    signals_crate: Path, signals_debug_wasm: Path, tmp_path: Path
) -> None:
    from conftest import copy_crate

    build = Project(copy_crate(signals_crate, tmp_path / "signals")).build()
    subprocess.run([WASM_TOOLS, "validate", str(build.module_path)], check=True)
    plain = signals_session(Host(signals_debug_wasm))
    prepared = signals_session(Host(build))
    assert prepared == plain
    assert "Hello, Ferris! count = 3" in plain
    hot = {f.demangled.split("::h")[0] for f in build.symbols.hot}
    # The runtime is a path dependency: hot too, its generics in the app's units.
    assert {"signals::app::view", "signals::app::mount", "reactive::create_signal"} <= hot
