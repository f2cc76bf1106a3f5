"""The registry crates under every wasm-bindgen test crate, compiled once per test session.

The bindgen tests build four crates (tests/data/bindgen_crate and bindgen_dev, examples/todo and
signals-web), each in a private copy, so each cold build compiled the same registry crates
again: the proc-macro stack (syn, wasm-bindgen-macro and their build scripts, most of a cold
build's time), wasm-bindgen and js-sys. `bindgen_deps.seed(crate, profile)` copies a target dir
in which a stand-in crate built those (`cargo build -p wasm-bindgen -p js-sys -p
console_error_panic_hook`, the crates' own flags for the profile) into the crate's
`target/rust-hmr` before its first build; cargo then finds them fresh and compiles only the rest.

What cargo reuses, by its fingerprints (the target dir's location is not part of them):
- every build: the host side (proc macros, build scripts), which RUSTFLAGS don't reach under
  `--target`; the dev and release profiles each have their own, hence a target dir per profile;
- builds without the linker shim (`build_wasm` alone, `doit bundle`'s release build): also
  wasm-bindgen, js-sys and console_error_panic_hook. Builds through the shim (`Project`,
  `rust-hmr dev`) compile those again: their `-C linker=` names a path inside the crate.
web-sys is compiled for each crate anyway: each enables other features.

The stand-in has the crates' `.cargo/config.toml` and dependency versions, and none of the
crates sets a profile option, so the units are the same ones the crates' builds ask for.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from rust_hmr.cargo_build import Profile, build_env
from rust_hmr.toolchain import Toolchain

DATA = Path(__file__).resolve().parent / "data"
PACKAGES = ("wasm-bindgen", "js-sys", "console_error_panic_hook")
STAND_IN_MANIFEST = """\
[package]
name = "bindgen-deps"
version = "0.1.0"
edition = "2021"
publish = false

[dependencies]
wasm-bindgen = "=0.2.83"
js-sys = "0.3.60"
console_error_panic_hook = "0.1.7"
"""


def host_dir(profile: Profile) -> str:
    """The folder of a target dir that holds the profile's host units."""
    return "debug" if profile == "dev" else "release"


class BindgenDeps:
    """Target dirs with the registry crates built, one per profile, made on first use."""

    def __init__(self, root: Path, toolchain: Toolchain) -> None:
        self.root = root
        self.toolchain = toolchain
        self._built: dict[str, Path] = {}

    def target_dir(self, profile: Profile) -> Path:
        """The stand-in's target dir for `profile`, built the first time it is asked for."""
        if profile in self._built:
            return self._built[profile]
        crate = self.root / "crate"
        if not crate.is_dir():
            (crate / "src").mkdir(parents=True)
            (crate / "src" / "lib.rs").write_text("")
            (crate / "Cargo.toml").write_text(STAND_IN_MANIFEST)
            shutil.copytree(DATA / "bindgen_crate" / ".cargo", crate / ".cargo")
        target = self.root / f"target-{profile}"
        args = ["build", "--target", self.toolchain.target, "--target-dir", str(target),
                "--manifest-path", str(crate / "Cargo.toml")]  # fmt: skip
        args += [arg for package in PACKAGES for arg in ("-p", package)]
        if profile == "release":
            args.append("--release")
        env = build_env(self.toolchain, profile,
                        extra={"CARGO_HOME": str(self.root / "cargo-home")})
        proc = subprocess.run(self.toolchain.cargo_command(*args), cwd=crate, env=env,
                              stdin=subprocess.DEVNULL, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"cargo could not build the registry crates:\n{proc.stderr}")
        self._built[profile] = target
        return target

    def seed(self, crate: Path, *profiles: Profile) -> None:
        """Copy the registry crates' units for each profile into the crate's target dir
        (`target/rust-hmr`, where `build_wasm`, `Project` and the rules build), unless the
        crate was built (or seeded) in that profile before."""
        target = crate / "target" / "rust-hmr"
        for profile in profiles:
            if not (target / host_dir(profile)).is_dir():
                copy_tree(self.target_dir(profile), target)


def copy_tree(source: Path, dest: Path) -> None:
    """Copy `source` into `dest`, files linked together in `source` (cargo links each build
    script and its hashed name) linked together in `dest`, never to `source`'s: cargo rewrites
    some of a unit's files in place when it compiles the unit again."""
    copied: dict[tuple[int, int], str] = {}

    def copy(src: str, dst: str) -> str:
        if os.path.lexists(dst):  # a file of an earlier seed (.rustc_info.json): replaced
            os.unlink(dst)
        stat = os.stat(src)
        first = copied.get((stat.st_dev, stat.st_ino)) if stat.st_nlink > 1 else None
        if first is None:
            copied[stat.st_dev, stat.st_ino] = dst
            return str(shutil.copy2(src, dst))
        os.link(first, dst)
        return dst

    shutil.copytree(source, dest, symlinks=True, copy_function=copy, dirs_exist_ok=True)


@pytest.fixture(scope="session")
def bindgen_deps(tmp_path_factory: pytest.TempPathFactory, toolchain: Toolchain) -> BindgenDeps:
    """The registry crates of the wasm-bindgen test crates, built once per session and
    profile; `seed` a crate copy before its first build."""
    return BindgenDeps(tmp_path_factory.mktemp("bindgen-deps"), toolchain)
