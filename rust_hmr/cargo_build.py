"""Build a crate to wasm with cargo: the main compile.

Builds go to `<crate>/target/rust-hmr`, a target dir of their own: the HMR flags differ from the
user's, and cargo fingerprints RUSTFLAGS, so sharing `target/` would make every ordinary
`cargo build` and every HMR build throw the other's cache away.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from rust_hmr.compile_inputs import CompileInputs, compile_inputs
from rust_hmr.shim.link_manifest import HMR_LINK_ARGS
from rust_hmr.toolchain import Toolchain, find_toolchain

if TYPE_CHECKING:
    from rust_hmr.plugins.tree import PluggedTree

Profile = Literal["dev", "release"]

# Without a linker shim, the HMR link arguments go to rustc's own linker as link args; with the
# shim (`linker=`), the shim adds them. lld refuses to export the mutable `__stack_pointer`
# without the mutable-globals feature.
MUTABLE_GLOBALS = ("-C", "target-feature=+mutable-globals")
HMR_RUSTFLAGS = (
    *MUTABLE_GLOBALS,
    *(arg for link_arg in HMR_LINK_ARGS for arg in ("-C", f"link-arg={link_arg}")),
)


class BuildError(RuntimeError):
    """The crate can't be built: no Cargo.toml, no wasm artifact."""


class CompileError(BuildError):
    """cargo failed; `stderr` holds its output, rustc's diagnostics unchanged."""

    def __init__(self, crate: str, stderr: str) -> None:
        super().__init__(f"cargo failed to build {crate}:\n{stderr}")
        self.crate = crate
        self.stderr = stderr


@dataclass(frozen=True)
class BuiltModule:
    path: Path
    profile: Profile
    crate: str  # the artifact's name: the lib name, dashes turned into underscores
    seconds: float
    inputs: CompileInputs = field(default_factory=CompileInputs)  # what the build read

    @property
    def size(self) -> int:
        return self.path.stat().st_size


def crate_name(crate_dir: Path) -> str:
    """The name cargo gives the crate's wasm artifact, from Cargo.toml."""
    manifest = crate_dir / "Cargo.toml"
    try:
        data = tomllib.loads(manifest.read_text())
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise BuildError(f"cannot read {manifest}: {err}") from None
    package = data.get("package", {}).get("name")
    if not package:
        raise BuildError(f"{manifest} has no [package] name (a workspace root? pass a member)")
    lib = data.get("lib", {})
    if lib or (crate_dir / "src" / "lib.rs").exists():
        return str(lib.get("name", package)).replace("-", "_")
    return str(package)  # a binary keeps its dashes


def rustflags(
    profile: Profile, env: dict[str, str] | None = None, linker: Path | None = None
) -> list[str]:
    """The user's RUSTFLAGS (or CARGO_ENCODED_RUSTFLAGS), plus the HMR flags for dev, or
    the linker shim (which adds the HMR link arguments itself) when `linker` is given.

    Passed as CARGO_ENCODED_RUSTFLAGS, which takes precedence over `build.rustflags` in
    `.cargo/config.toml`: flags from there are not applied to these builds.
    """
    env = dict(os.environ) if env is None else env
    if env.get("CARGO_ENCODED_RUSTFLAGS"):
        user = env["CARGO_ENCODED_RUSTFLAGS"].split("\x1f")
    else:
        user = shlex.split(env.get("RUSTFLAGS", ""))
    if linker is not None:
        return [*user, *MUTABLE_GLOBALS, "-C", f"linker={linker}"]
    return user + (list(HMR_RUSTFLAGS) if profile == "dev" else [])


def build_env(
    toolchain: Toolchain,
    profile: Profile,
    linker: Path | None = None,
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    """The environment for cargo: the toolchain's RUSTC, the flags for `profile`, and `extra`
    (the linker shim's settings travel as environment variables, see `rust_hmr.shim`)."""
    env = toolchain.cargo_env()
    env["CARGO_ENCODED_RUSTFLAGS"] = "\x1f".join(rustflags(profile, env, linker))
    env.pop("RUSTFLAGS", None)
    env.update(extra or {})
    return env


def build_wasm(
    crate_dir: Path | str,
    profile: Profile = "dev",
    toolchain: Toolchain | None = None,
    *,
    target_dir: Path | None = None,
    verbose: bool = False,
    on_output: Callable[[str], object] | None = None,
    linker: Path | None = None,
    extra_env: dict[str, str] | None = None,
) -> BuiltModule:
    """`cargo build --target wasm32-unknown-unknown` for `profile`; returns the .wasm built.

    cargo's stderr (progress and diagnostics) goes, line by line, to `on_output`, or to our
    stderr when `verbose`; it is kept whole for the CompileError.
    """
    crate_dir = Path(crate_dir).resolve()
    name = crate_name(crate_dir)
    toolchain = toolchain or find_toolchain()
    target_dir = target_dir or crate_dir / "target" / "rust-hmr"
    if on_output is None and verbose:
        on_output = sys.stderr.write
    start = time.perf_counter()
    tree = _plugged(crate_dir, name, target_dir)
    build_dir = crate_dir if tree is None else tree.crate_dir(crate_dir)
    if tree is not None and on_output is not None:
        show, on_output = on_output, lambda line: show(tree.original_text(line))
    args = ["build", "--target", toolchain.target, "--target-dir", str(target_dir)]
    args += ["--manifest-path", str(build_dir / "Cargo.toml")]
    args += ["--message-format", "json-render-diagnostics"]
    if profile == "release":
        args.append("--release")
    stdout, stderr, code = _run_cargo(
        toolchain.cargo_command(*args),
        build_dir,
        build_env(toolchain, profile, linker, extra_env),
        on_output,
    )
    seconds = time.perf_counter() - start
    if code != 0:
        raise CompileError(name, stderr if tree is None else tree.original_text(stderr))
    inputs = compile_inputs(stdout, build_dir)
    return BuiltModule(_artifact(stdout, name, build_dir), profile, name, seconds,
                       inputs if tree is None else tree.original_inputs(inputs))


def _plugged(crate_dir: Path, name: str, target_dir: Path) -> PluggedTree | None:
    """The transformed tree to build when the crate names plugins (`rust_hmr.plugins`); a
    plugin's refusal is a compile error: the user's source is what it refuses."""
    from rust_hmr.plugins import PluginError, load_plugins
    from rust_hmr.plugins.tree import plug
    from rust_hmr.settings import SettingsError, plugin_names

    try:
        names = plugin_names(crate_dir)
        return plug(crate_dir, target_dir, load_plugins(names)) if names else None
    except (PluginError, SettingsError) as err:
        raise CompileError(name, f"error: {err}\n") from None


def _run_cargo(
    cmd: Sequence[str], cwd: Path, env: dict[str, str], on_output: Callable[[str], object] | None
) -> tuple[str, str, int]:
    out: list[str] = []
    err: list[str] = []
    with subprocess.Popen(
        cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    ) as proc:  # fmt: skip
        stdout, stderr = proc.stdout, proc.stderr
        assert stdout is not None and stderr is not None

        def drain() -> None:  # stdout is read on a thread so that neither pipe can fill up
            out.extend(stdout)

        reader = threading.Thread(target=drain, daemon=True)
        reader.start()
        for line in stderr:
            err.append(line)
            if on_output is not None:
                on_output(line)
        reader.join()
    return "".join(out), "".join(err), proc.returncode


def _artifact(stdout: str, name: str, crate_dir: Path) -> Path:
    """The .wasm file of the crate's own cdylib or bin, from cargo's artifact messages."""
    manifest = (crate_dir / "Cargo.toml").resolve()
    ours: list[dict[str, Any]] = []
    others: list[str] = []
    for line in stdout.splitlines():
        if not line.startswith("{"):
            continue
        msg = json.loads(line)
        if msg.get("reason") != "compiler-artifact":
            continue
        if Path(msg.get("manifest_path", "")).resolve() != manifest:
            others.append(str(msg.get("target", {}).get("name", "?")))
            continue
        ours.append(msg)
        for filename in msg.get("filenames", []):
            if filename.endswith(".wasm"):
                return Path(filename)
    kinds = sorted({kind for msg in ours for kind in msg.get("target", {}).get("kind", [])})
    if not ours:
        raise BuildError(f"cargo built nothing from {manifest} (it built: "
                         f"{', '.join(others) or 'nothing'}); is that the crate's manifest?")
    if "lib" in kinds or "rlib" in kinds or not kinds:
        raise BuildError(f'cargo built no .wasm for {name} (crate types: {", ".join(kinds)}): '
                         f'a library needs crate-type = ["cdylib"] in [lib]')
    raise BuildError(f"cargo built no .wasm for {name} (crate types: {', '.join(kinds)})")
