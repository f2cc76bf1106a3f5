"""Nothing stale: a production build is up to date only when every input the compiler read is
unchanged, and the artifact cache never hands back a build of other inputs.

One small crate reads everything that lies outside `src/`: its library at `code/lib.rs`, a
`#[path]` module, an `include_str!` file, an `option_env!` variable, and a build script with
`rerun-if-changed` and `rerun-if-env-changed`. Each test edits one of them and asserts on what a
user gets: the value the bundled module's function returns.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import wasmtime
from test_rules import DODO, DOIT_CFG, DoitRun, doit

from rust_hmr.compile_inputs import CompileInputs, compile_inputs, parse_dep_info
from rust_hmr.toolchain import Toolchain

pytestmark = pytest.mark.slow

MANIFEST = """[package]
name = "reads"
version = "0.1.0"
edition = "2021"

[lib]
path = "code/lib.rs"
crate-type = ["cdylib"]
"""
LIB = """#[path = "parts/extra.rs"]
mod extra;

static GREETING: &str = include_str!("../assets/greeting.txt");

fn weight(text: &str) -> u32 {
    text.bytes().map(u32::from).sum()
}

#[no_mangle]
pub extern "C" fn greeting() -> u32 { weight(GREETING) }

#[no_mangle]
pub extern "C" fn flavour() -> u32 { weight(option_env!("READS_FLAVOUR").unwrap_or("")) }

#[no_mangle]
pub extern "C" fn extra() -> u32 { extra::value() }

#[no_mangle]
pub extern "C" fn stamp() -> u32 { weight(env!("READS_STAMP")) }
"""
BUILD_RS = """use std::{env, fs};

fn main() {
    println!("cargo:rerun-if-changed=assets/stamp.txt");
    println!("cargo:rerun-if-env-changed=READS_SUFFIX");
    let stamp = fs::read_to_string("assets/stamp.txt").unwrap();
    let suffix = env::var("READS_SUFFIX").unwrap_or_default();
    println!("cargo:rustc-env=READS_STAMP={}{}", stamp.trim(), suffix);
}
"""


def weight(text: str) -> int:
    return sum(text.encode())


@pytest.fixture
def crate(tmp_path: Path, toolchain: Toolchain) -> Path:
    crate = tmp_path / "reads"
    (crate / "code" / "parts").mkdir(parents=True)
    (crate / "assets").mkdir()
    (crate / "Cargo.toml").write_text(MANIFEST)
    (crate / "code" / "lib.rs").write_text(LIB)
    (crate / "code" / "parts" / "extra.rs").write_text("pub fn value() -> u32 { 1 }\n")
    (crate / "assets" / "greeting.txt").write_text("hello")
    (crate / "assets" / "stamp.txt").write_text("v1\n")
    (crate / "build.rs").write_text(BUILD_RS)
    (crate / "dodo.py").write_text(DODO)
    (crate / "doit.cfg").write_text(DOIT_CFG)
    subprocess.run(toolchain.cargo_command("generate-lockfile", "--offline"), cwd=crate,
                   env=toolchain.cargo_env(), check=True, capture_output=True)
    return crate


def bundle(crate: Path, **env: str) -> DoitRun:
    return doit(crate, "bundle", env={"READS_FLAVOUR": "", "READS_SUFFIX": "", **env})


def call(crate: Path, export: str) -> int:
    """The value an export of the bundled module returns."""
    entries = json.loads((crate / "dist" / "manifest.json").read_text())["files"]
    wasm = next(e["file"] for e in entries if e["name"] == "reads.wasm")
    engine = wasmtime.Engine()
    store = wasmtime.Store(engine)
    module = wasmtime.Module.from_file(engine, str(crate / "dist" / wasm))
    instance = wasmtime.Instance(store, module, [])
    func = instance.exports(store)[export]
    assert isinstance(func, wasmtime.Func)
    return int(func(store))


def compiled(run: DoitRun) -> bool:
    """Whether cargo ran, or else the compile came from the cache (doit's JSON report holds
    each stage's output)."""
    tasks = {task["name"]: task for task in json.loads(run.stdout)["tasks"]}
    said = tasks["compile:release"]["err"]
    assert ("cargo build --release" in said) != ("from the cache" in said), said
    return "cargo build --release" in said


def test_an_include_str_file_edit_rebuilds_and_its_revert_comes_from_the_cache(
        crate: Path) -> None:
    bundle(crate)
    assert call(crate, "greeting") == weight("hello")
    (crate / "assets" / "greeting.txt").write_text("hello, world")
    run = bundle(crate)
    assert "compile:release" in run.ran
    assert call(crate, "greeting") == weight("hello, world")
    assert bundle(crate).ran == set()  # nothing changed: nothing runs
    (crate / "assets" / "greeting.txt").write_text("hello")
    run = bundle(crate)
    assert not compiled(run), run.stderr  # that build is in the cache, under what it read
    assert call(crate, "greeting") == weight("hello")


def test_the_cache_does_not_hand_back_a_stale_build_without_doits_database(
        crate: Path) -> None:
    bundle(crate)
    (crate / "assets" / "greeting.txt").write_text("bonjour")
    for db in (crate / "target" / "rust-hmr").glob("doit.sqlite3*"):
        db.unlink()
    bundle(crate)
    assert call(crate, "greeting") == weight("bonjour")


def test_a_path_module_and_a_lib_outside_src_rebuild(crate: Path) -> None:
    bundle(crate)
    (crate / "code" / "parts" / "extra.rs").write_text("pub fn value() -> u32 { 42 }\n")
    bundle(crate)
    assert call(crate, "extra") == 42
    lib = crate / "code" / "lib.rs"
    lib.write_text(lib.read_text().replace("text.bytes()", "text.bytes().take(2)"))
    bundle(crate)
    assert call(crate, "greeting") == weight("he")


def test_an_option_env_variable_rebuilds_and_each_value_is_cached(crate: Path) -> None:
    bundle(crate, READS_FLAVOUR="mint")
    assert call(crate, "flavour") == weight("mint")
    run = bundle(crate, READS_FLAVOUR="lemon")
    assert compiled(run)
    assert call(crate, "flavour") == weight("lemon")
    run = bundle(crate, READS_FLAVOUR="mint")
    assert not compiled(run), run.stderr
    assert call(crate, "flavour") == weight("mint")


def test_a_build_scripts_file_and_variable_rebuild(crate: Path) -> None:
    bundle(crate)
    assert call(crate, "stamp") == weight("v1")
    (crate / "assets" / "stamp.txt").write_text("v2\n")
    bundle(crate)
    assert call(crate, "stamp") == weight("v2")
    bundle(crate, READS_SUFFIX="-x")
    assert call(crate, "stamp") == weight("v2-x")


def test_a_deleted_input_is_not_up_to_date(crate: Path) -> None:
    bundle(crate)
    (crate / "assets" / "greeting.txt").unlink()
    run = doit(crate, "bundle", env={"READS_FLAVOUR": "", "READS_SUFFIX": ""}, check=False)
    assert run.code != 0
    assert "greeting.txt" in run.stdout  # rustc's own error (in doit's report) names it


def test_compile_inputs_lists_what_the_compiler_read(crate: Path, toolchain: Toolchain) -> None:
    from rust_hmr.cargo_build import build_wasm

    built = build_wasm(crate, "release", toolchain, extra_env={"READS_FLAVOUR": "x"})
    names = json.loads(built.inputs.to_json(crate))
    assert names == {
        "files": ["assets/greeting.txt", "assets/stamp.txt", "build.rs", "code/lib.rs",
                  "code/parts/extra.rs"],
        "env": ["READS_FLAVOUR", "READS_STAMP", "READS_SUFFIX"],
    }
    moved = crate.parent / "elsewhere"
    shutil.copytree(crate, moved, ignore=shutil.ignore_patterns("target"))
    assert CompileInputs.from_json(built.inputs.to_json(crate), moved).files[0] == \
        moved / "assets" / "greeting.txt"


def test_dep_info_syntax() -> None:
    text = ("/t/deps/a.wasm: src/lib.rs src/my\\ file.rs /abs/x.txt\n\n"
            "src/lib.rs:\n# env-dep:HOME=/root\n# env-dep:UNSET\n")
    files, env = parse_dep_info(text)
    assert files == ["src/lib.rs", "src/my file.rs", "/abs/x.txt"]
    assert env == ["HOME", "UNSET"]
    assert compile_inputs("not json\n{\"reason\": 3}\n", Path("/nowhere")) == CompileInputs()
    with pytest.raises(ValueError, match="not a list of compile inputs"):
        CompileInputs.from_json(b'{"files": [1]}', Path("."))


def test_a_cargo_config_above_the_crate_and_a_target_setting_rebuild(crate: Path) -> None:
    bundle(crate)
    config = crate.parent / ".cargo" / "config.toml"
    config.parent.mkdir()
    config.write_text("[profile.release]\noverflow-checks = true\n")
    assert compiled(bundle(crate))
    assert bundle(crate).ran == set()
    run = bundle(crate, CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER="true")
    assert compiled(run)
