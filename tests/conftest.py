"""Shared fixtures: the toolchain, and the counter example built once per test session.

The example is copied to a temporary directory first, so tests never write into the repository.
`bindgen_deps` (tests/bindgen_deps.py) compiles the registry crates under the wasm-bindgen test
crates once per session; their fixtures seed each private crate copy with them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from rust_hmr.cargo_build import build_env, build_wasm
from rust_hmr.toolchain import Toolchain, find_toolchain
from rust_hmr.wasm.module import parse

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def copy_crate(source: Path, dest: Path) -> Path:
    """A copy of the crate at `source` without its build outputs. Its path dependencies that
    lie outside it (examples/reactive, which signals and signals-web share) are copied too, to
    the same place beside `dest`, unless a copy is there already."""
    shutil.copytree(source, dest, ignore=shutil.ignore_patterns("target"))
    for relative in outside_path_dependencies(source):
        beside = Path(os.path.normpath(dest / relative))
        if not beside.exists():
            copy_crate(Path(os.path.normpath(source / relative)), beside)
    return dest


def outside_path_dependencies(crate: Path) -> list[str]:
    """The `path` of each `[dependencies]` entry of the crate's Cargo.toml that leads out of
    the crate's folder (`../reactive`)."""
    manifest = tomllib.loads((crate / "Cargo.toml").read_text())
    paths = [dep["path"] for dep in manifest.get("dependencies", {}).values()
             if isinstance(dep, dict) and "path" in dep]
    return [path for path in paths if not (crate / path).resolve().is_relative_to(crate.resolve())]


def text_hash(text: str) -> int:
    """The examples' checksum of a text (`label_hash`, `app_render_hash`), as an i32."""
    h = 17
    for byte in text.encode():
        h = (h * 31 + byte) & 0xFFFF_FFFF
    return h - (1 << 32) if h >= 1 << 31 else h


@pytest.fixture(scope="session")
def toolchain() -> Toolchain:
    """The toolchain every build uses; without one the tests fail, loudly, with the fixes."""
    return find_toolchain()


@pytest.fixture(scope="session")
def counter_crate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of examples/counter, shared by the session's builds of it."""
    return copy_crate(EXAMPLES / "counter", tmp_path_factory.mktemp("crates") / "counter")


@pytest.fixture(scope="session")
def counter_debug_wasm(counter_crate: Path, toolchain: Toolchain) -> Path:
    """The counter built in the dev profile with the HMR link arguments."""
    return build_wasm(counter_crate, "dev", toolchain).path


@pytest.fixture(scope="session")
def counter_release_wasm(counter_crate: Path, toolchain: Toolchain) -> Path:
    return build_wasm(counter_crate, "release", toolchain).path


@pytest.fixture(scope="session")
def counter_objects(
    counter_crate: Path, toolchain: Toolchain, tmp_path_factory: pytest.TempPathFactory
) -> list[Path]:
    """The counter's codegen-unit objects (relocatable wasm, each with a `linking` section).

    Built through cargo with the dev build's flags, from the same crate copy, so their symbol
    names match counter_debug_wasm's exports. `-C save-temps` keeps the objects rustc would
    delete after linking; incremental compilation splits the crate into several units.
    """
    target_dir = counter_crate / "target" / "rust-hmr-objects"
    args = ["rustc", "--lib", "--target", toolchain.target, "--target-dir", str(target_dir)]
    subprocess.run(
        [*toolchain.cargo_command(*args), "--", "-C", "save-temps"],
        cwd=counter_crate,
        env=build_env(toolchain, "dev"),
        check=True,
        capture_output=True,
    )
    out = tmp_path_factory.mktemp("counter-objects")
    deps = target_dir / toolchain.target / "debug" / "deps"
    objects = [Path(shutil.copy2(obj, out)) for obj in sorted(deps.glob("*.rcgu.o"))]
    assert len(objects) > 1, f"expected several codegen-unit objects in {deps}"
    for obj in objects:
        assert parse(obj.read_bytes()).get("linking"), f"{obj.name} has no linking section"
    return objects


from bindgen_deps import bindgen_deps  # noqa: E402, F401
from fixtures_signals import signals_crate, signals_debug_wasm  # noqa: E402, F401
from nginx_server import (  # noqa: E402, F401
    nginx_cache_fixture,
    nginx_factory_fixture,
    nginx_server_fixture,
)
