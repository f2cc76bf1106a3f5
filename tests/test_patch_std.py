"""Edits that first use a std function the app never called before.

wasm-ld pulls an archive member only when the app needs it, and a patch resolves what it calls
by name against the main module; so the dev main module links every rlib whole
(`rust_hmr.shim.whole_archives`). Each edit here must give a Patch, not a FullReload for a
function missing from the main module, and the patched function must answer anew. The release
profile must not get the whole archives.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import EXAMPLES, copy_crate, text_hash
from test_patch import Session, describe

from rust_hmr import Patch, Project
from rust_hmr.cargo_build import build_wasm
from rust_hmr.host import Host
from rust_hmr.toolchain import Toolchain

pytestmark = pytest.mark.slow

# Mangled-name fragments of the functions the edits below first use.
STD_FUNCTIONS = ("str$GT$12to_uppercase", "str$GT$6repeat", "str$GT$12to_lowercase",
                 "9hashbrown3raw11Fallibility17capacity_overflow")


def test_first_string_functions(tmp_path: Path) -> None:
    s = Session(tmp_path, "counter")
    assert s.call("label_hash") == text_hash("nothing yet")

    s.patch(("label.rs", 'String::from("nothing yet")', '"nothing yet".to_uppercase()'))
    assert s.call("label_hash") == text_hash("NOTHING YET")

    s.call("increment")
    s.patch(("label.rs", 'String::from("one click")', '"one click ".repeat(3)'))
    assert s.call("label_hash") == text_hash("one click one click one click ")
    assert s.call("label_len") == 30

    s.call("increment")
    s.patch(("label.rs", 'format!("{} clicks", n)', 'format!("{} Clicks, ALL", n).to_lowercase()'))
    assert s.call("label_hash") == text_hash("2 clicks, all")
    assert s.call("get") == 2 and s.call("history_len") == 2  # the state survived

    # After the captured rebuilds, build() links the captured objects: whole archives too.
    build = s.project.build()
    assert "link" in build.timings and build.manifest.whole_archives
    assert _has_std_functions(build.linked_path.read_bytes()) == list(STD_FUNCTIONS)


def test_first_hash_map_and_formatted_panic(tmp_path: Path) -> None:
    s = Session(tmp_path, "counter")
    assert s.call("add", 4) == 4
    assert s.call("preview_add", 3) == 7

    s.patch(("lib.rs", "    get() + n\n",
             "    let mut seen = std::collections::HashMap::new();\n"
             "    seen.insert(n, get());\n"
             "    seen.insert(n + 1, 100);\n"
             "    seen[&n] + n * 10 + seen.len() as i32\n"))
    assert s.call("preview_add", 3) == 4 + 30 + 2

    s.patch(("lib.rs", "    let mut seen", '    if n < 0 {\n        panic!("bad {}", n)\n    }\n'
                                           "    let mut seen"))
    assert s.call("preview_add", 1) == 4 + 10 + 2  # the panic path is there, not taken
    assert s.call("get") == 4


def _has_std_functions(module: bytes) -> list[str]:
    return [name for name in STD_FUNCTIONS if name.encode() in module]


def test_release_links_std_as_archives(tmp_path: Path, toolchain: Toolchain) -> None:
    crate = copy_crate(EXAMPLES / "counter", tmp_path / "counter")
    dev = Project(crate, toolchain=toolchain).build()
    assert dev.manifest.whole_archives, "the dev profile links the rlibs whole"
    assert _has_std_functions(dev.linked_path.read_bytes()) == list(STD_FUNCTIONS)

    release = Project(crate, "release", toolchain=toolchain).build()
    assert release.manifest.whole_archives == {}
    assert _has_std_functions(release.linked_path.read_bytes()) == []

    bundle = build_wasm(crate, "release", toolchain, target_dir=tmp_path / "bundle-target")
    assert _has_std_functions(bundle.path.read_bytes()) == []


HELPER_TOML = """[package]
name = "helper"
version = "0.1.0"
edition = "2021"
publish = false
"""

# The counter calls `quiet` (rustc links only the dependencies a crate uses), never `shout`:
# without the whole link, wasm-ld leaves `shout` out of the main module.
HELPER_RS = """pub fn quiet(n: i32) -> i32 {
    n / 2
}

pub fn shout(text: &str) -> String {
    let mut loud = text.to_uppercase();
    loud.push('!');
    loud
}
"""


def test_first_call_into_a_dependency(tmp_path: Path, toolchain: Toolchain) -> None:
    """A path dependency outside the crate (and outside any workspace) is linked whole and
    hot: the first call into one of its functions patches, and so does an edit to it."""
    helper = tmp_path / "helper"
    (helper / "src").mkdir(parents=True)
    (helper / "Cargo.toml").write_text(HELPER_TOML)
    (helper / "src" / "lib.rs").write_text(HELPER_RS)
    crate = copy_crate(EXAMPLES / "counter", tmp_path / "counter")
    toml = crate / "Cargo.toml"
    toml.write_text(toml.read_text() + 'helper = { path = "../helper" }\n')
    lib = crate / "src" / "lib.rs"
    lib.write_text(lib.read_text().replace("    get() + n\n", "    get() + helper::quiet(n)\n"))
    project = Project(crate, toolchain=toolchain)
    build = project.build()
    assert any("libhelper" in rlib for rlib in build.manifest.whole_archives)
    shout = [f for f in build.symbols.functions if "6helper5shout" in f.name]
    assert shout and all(f.hot for f in shout), "a path dependency's function is hot"

    host = Host(build)
    assert host.call("label_hash") == text_hash("nothing yet")
    assert host.call("preview_add", 4) == 2
    label = crate / "src" / "label.rs"
    label.write_text(label.read_text().replace('String::from("nothing yet")',
                                               'helper::shout("nothing yet")'))
    patch = project.rebuild()
    assert isinstance(patch, Patch), describe(patch)
    host.apply(patch)
    assert host.call("label_hash") == text_hash("NOTHING YET!")

    (helper / "src" / "lib.rs").write_text(HELPER_RS.replace("push('!')", "push('?')"))
    patch = project.rebuild()
    assert isinstance(patch, Patch), describe(patch)
    assert patch.changed == ("helper::shout",), patch.changed
    host.apply(patch)
    assert host.call("label_hash") == text_hash("NOTHING YET?")
