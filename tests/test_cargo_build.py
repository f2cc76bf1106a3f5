"""Building a crate to wasm: what comes out, where it goes, and what a compile error looks like."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import wasmtime
from click.testing import CliRunner

from rust_hmr.cargo_build import HMR_RUSTFLAGS, CompileError, build_wasm, crate_name, rustflags
from rust_hmr.cli import main
from rust_hmr.toolchain import Toolchain

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
pytestmark = pytest.mark.slow


def write_crate(root: Path, name: str, lib_rs: str) -> Path:
    (root / "src").mkdir(parents=True)
    (root / "Cargo.toml").write_text(
        f'[package]\nname = "{name}"\nversion = "0.1.0"\nedition = "2021"\n\n'
        '[lib]\ncrate-type = ["cdylib"]\n'
    )
    (root / "src" / "lib.rs").write_text(lib_rs)
    return root


def exports(path: Path) -> dict[str, object]:
    module = wasmtime.Module(wasmtime.Engine(), path.read_bytes())
    return {export.name: export.type for export in module.exports}


def test_debug_build_runs_in_wasmtime(counter_debug_wasm: Path) -> None:
    store = wasmtime.Store()
    module = wasmtime.Module(store.engine, counter_debug_wasm.read_bytes())
    # The page interface is the only import: env.dom_set_text(id_ptr, id_len, text_ptr, len).
    assert [(i.module, i.name) for i in module.imports] == [("env", "dom_set_text")]
    page = wasmtime.Func(store, module.imports[0].type, lambda *args: None)  # type: ignore[arg-type]
    instance = wasmtime.Instance(store, module, [page])
    increment = instance.exports(store)["increment"]
    assert isinstance(increment, wasmtime.Func)
    assert [increment(store), increment(store)] == [1, 2]
    history_len = instance.exports(store)["history_len"]
    assert isinstance(history_len, wasmtime.Func)
    assert history_len(store) == 2


def test_debug_build_exports_what_patches_need(counter_debug_wasm: Path) -> None:
    found = exports(counter_debug_wasm)
    assert {"increment", "add", "get", "memory", "__indirect_function_table"} <= found.keys()
    stack_pointer = found["__stack_pointer"]
    assert isinstance(stack_pointer, wasmtime.GlobalType) and stack_pointer.mutable
    library = [name for name, kind in found.items() if isinstance(kind, wasmtime.FuncType)]
    assert len(library) > 1000, "--export-all should export the library functions too"


def test_debug_build_goes_to_its_own_target_dir(counter_crate: Path, counter_debug_wasm: Path):
    assert counter_debug_wasm.is_relative_to(counter_crate / "target" / "rust-hmr")
    assert counter_debug_wasm.name == "counter.wasm"
    assert not (counter_crate / "target" / "debug").exists()


def test_release_build_has_no_hmr_machinery(counter_release_wasm: Path, counter_debug_wasm):
    found = exports(counter_release_wasm)
    assert "increment" in found
    assert "__stack_pointer" not in found
    assert counter_release_wasm.parent.name == "release"
    assert counter_release_wasm.stat().st_size < counter_debug_wasm.stat().st_size


def test_rebuild_without_changes_is_fast(counter_crate: Path, counter_debug_wasm: Path, toolchain):
    again = build_wasm(counter_crate, "dev", toolchain)
    assert again.path == counter_debug_wasm
    assert again.seconds < 5


def test_compile_error_carries_rustc_diagnostics(tmp_path: Path, toolchain: Toolchain) -> None:
    crate = write_crate(
        tmp_path / "broken", "broken", 'pub fn f() -> i32 {\n    "not a number"\n}\n'
    )
    with pytest.raises(CompileError) as caught:
        build_wasm(crate, "dev", toolchain)
    assert "error[E0308]: mismatched types" in caught.value.stderr
    assert "src/lib.rs:2:5" in caught.value.stderr
    assert caught.value.stderr in str(caught.value)


def test_cli_compile_shows_the_diagnostics(tmp_path: Path) -> None:
    crate = write_crate(tmp_path / "broken", "broken", "pub fn f() -> i32 { () }\n")
    result = CliRunner().invoke(main, ["compile", str(crate)])
    assert result.exit_code == 1
    assert "error[E0308]" in result.output
    assert "error: broken did not compile" in result.output


def test_syntax_error_is_a_compile_error(tmp_path: Path, toolchain: Toolchain) -> None:
    crate = write_crate(tmp_path / "typo", "typo", "pub fn f( {\n}\n")
    with pytest.raises(CompileError) as caught:
        build_wasm(crate, "dev", toolchain)
    assert "error: " in caught.value.stderr


def test_progress_reaches_the_callback(tmp_path: Path, toolchain: Toolchain) -> None:
    crate = write_crate(tmp_path / "tiny", "tiny-app", "#[no_mangle]\npub fn one() -> i32 { 1 }\n")
    lines: list[str] = []
    built = build_wasm(crate, "dev", toolchain, on_output=lines.append)
    assert any("Compiling tiny-app" in line for line in lines)
    assert built.crate == "tiny_app"
    assert built.path.name == "tiny_app.wasm"


def test_crate_name_follows_cargo(tmp_path: Path) -> None:
    assert crate_name(EXAMPLES / "counter") == "counter"
    crate = write_crate(tmp_path / "c", "my-app", "")
    assert crate_name(crate) == "my_app"


def test_user_rustflags_are_kept() -> None:
    assert rustflags("dev", {"RUSTFLAGS": "-C debuginfo=1"}) == [
        "-C",
        "debuginfo=1",
        *HMR_RUSTFLAGS,
    ]
    assert rustflags("release", {"CARGO_ENCODED_RUSTFLAGS": "-Copt-level=s"}) == ["-Copt-level=s"]
    assert rustflags("release", {}) == []


def test_cli_compile_reports_what_was_built(tmp_path: Path) -> None:
    crate = tmp_path / "counter"
    shutil.copytree(EXAMPLES / "counter", crate, ignore=shutil.ignore_patterns("target"))
    result = CliRunner().invoke(main, ["compile", str(crate), "--release"])
    assert result.exit_code == 0, result.output
    assert "built counter (release)" in result.output
    assert "counter.wasm" in result.output
    assert "12 functions" in result.output  # the crate's twelve #[no_mangle] exports
    assert "1 imports" in result.output  # env.dom_set_text, the page interface


def test_counter_objects_link_against_the_main_module(
    counter_objects: list[Path], counter_debug_wasm: Path
) -> None:
    """Every function an object leaves undefined is exported by the main module, by name (or
    imported by it: the page interface)."""
    main = wasmtime.Module(wasmtime.Engine(), counter_debug_wasm.read_bytes())
    main_exports = exports(counter_debug_wasm).keys() | {i.name for i in main.imports}
    engine = wasmtime.Engine()
    undefined = set()
    for obj in counter_objects:
        module = wasmtime.Module(engine, obj.read_bytes())
        for imp in module.imports:
            if isinstance(imp.type, wasmtime.FuncType):
                undefined.add(imp.name)
    assert undefined
    assert undefined <= main_exports


def test_the_old_name_build_still_compiles_with_a_note(tmp_path: Path) -> None:
    crate = write_crate(tmp_path / "tiny", "tiny", "#[no_mangle]\npub fn one() -> i32 { 1 }\n")
    result = CliRunner().invoke(main, ["build", str(crate)])
    assert result.exit_code == 0, result.output
    assert "`rust-hmr build` is now `rust-hmr compile`" in result.output
    assert "built tiny (dev)" in result.output
    listed = CliRunner().invoke(main, ["--help"]).output.split("Commands:")[1]
    names = [line.split()[0] for line in listed.splitlines() if line.strip()]
    assert "compile" in names and "build" not in names  # the old name is hidden
