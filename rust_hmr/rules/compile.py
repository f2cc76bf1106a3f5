"""Stages `compile:release` and `compile:dev`: cargo builds the crate to wasm.

`compile:release` is a cached action: its key covers the crate's sources (`Crate.sources`), its
Cargo.toml (rust-hmr's own settings left out), the toolchain fingerprint and the flags
(RUSTFLAGS, `CARGO_PROFILE_RELEASE_*`), and everything else the last such build read: files
named by `include_str!` or `#[path]`, sources outside `src/`, variables read by `env!` and
build scripts (`rust_hmr.compile_inputs`, `stage.run_cached`'s `discover`). A hit writes the
wasm from the cache, and cargo does not start at all.

Both stages keep what their last build read in `inputs.json` beside their outputs; the next
doit run depends on those files and variables too, so no edit to one of them leaves the stage
wrongly up to date.

`compile:dev` builds through the linker shim, exactly as `rust_hmr.Project` does, into the same
target directory, so the dev loop's incremental state and codegen-unit objects are the ones it
leaves behind. It is not cached: what it really produces is that local state, which the patch
loop needs and which an artifact from another machine could not give.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from doit.exceptions import TaskFailed

from rust_hmr.compile_inputs import CompileInputs
from rust_hmr.rules import toolchain as toolchain_stage
from rust_hmr.rules.checkers import file_blake3, flags_changed
from rust_hmr.rules.crate import Crate
from rust_hmr.rules.stage import (
    LISTING,
    hash_files,
    passthrough,
    run_cached,
    say,
    write_if_changed,
)

if TYPE_CHECKING:
    from rust_hmr.cargo_build import Profile
    from rust_hmr.toolchain import Toolchain

__all__ = ["dev_outputs", "release_output", "tasks"]

BASENAME = "compile"
RELEASE = "compile:release"
DEV = "compile:dev"
VERSION = 1


def release_output(crate: Crate) -> Path:
    """cargo's release module, as this stage keeps it."""
    return crate.stage_dir(RELEASE) / f"{crate.name}.wasm"


def dev_outputs(crate: Crate) -> tuple[Path, Path]:
    """The linked dev module and the link manifest the shim recorded for it."""
    out = crate.stage_dir(DEV)
    return out / f"{crate.name}.wasm", out / "link-manifest.msgpack"


def last_inputs(crate: Crate, stage: str) -> CompileInputs:
    """What the stage's last build read (nothing when it never ran, or the list is bad)."""
    try:
        return CompileInputs.from_json((crate.stage_dir(stage) / LISTING).read_bytes(),
                                       crate.dir)
    except (OSError, ValueError):
        return CompileInputs()


def _depends_on(crate: Crate, stage: str) -> tuple[list[str], dict[str, Any]]:
    """doit's file dependencies of a compile stage, and what else must be unchanged: the
    variables its last build read, and which of the files it read are gone."""
    read = last_inputs(crate, stage)
    files = {str(p) for p in crate.sources.values()}
    gone = []
    for path in read.files:
        (files.add(str(path)) if path.is_file() else gone.append(str(path)))
    return sorted(files), {"env": read.env_values(), "gone": gone}


# Variables that change what cargo builds, besides RUSTFLAGS and the profile's settings
_OUTPUT_VARS = ("RUSTC_WRAPPER", "RUSTC_WORKSPACE_WRAPPER", "CARGO_BUILD_RUSTC_WRAPPER",
                "CARGO_BUILD_RUSTC_WORKSPACE_WRAPPER", "RUSTC_BOOTSTRAP")
_OUTPUT_PREFIXES = ("CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_", "CARGO_UNSTABLE_")


def flags(crate: Crate, profile: Profile, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """What, besides the sources and the toolchain, decides what cargo produces: the flags,
    the profile's and the target's settings from the environment, and every cargo
    configuration file that applies (the crate's folder and those above it, then
    `$CARGO_HOME`), by content."""
    from rust_hmr.cargo_build import rustflags

    env = dict(os.environ if env is None else env)
    prefixes = (f"CARGO_PROFILE_{profile.upper()}_", *_OUTPUT_PREFIXES)
    return {
        "profile": profile,
        "rustflags": rustflags(profile, env),
        "profile_env": {k: v for k, v in sorted(env.items())
                        if k.startswith(prefixes) or k in _OUTPUT_VARS},
        "manifest": crate.manifest_blake3,
        "cargo_config": [file_blake3(path) for path in _cargo_configs(crate.dir, env)],
        **({"plugins": _plugin_versions(crate.settings.plugins)} if crate.settings.plugins
           else {}),
    }


def _plugin_versions(names: Sequence[str]) -> list[list[str]]:
    """Each plugin's name and version: its transform decides what cargo compiles, so a new
    version is a new build. A plugin that can't be loaded is keyed by its name alone (the
    compile then fails and says why)."""
    from rust_hmr.plugins import PluginError, load_plugins

    try:
        plugins = load_plugins(names)
    except PluginError:
        return [[name, "?"] for name in names]
    return [[str(p.name), str(getattr(p, "version", ""))] for p in plugins]


def _cargo_configs(crate_dir: Path, env: Mapping[str, str]) -> list[Path]:
    """cargo's configuration files for a build in `crate_dir`, nearest first (every save of
    the hot path asks: the candidates are worked out once, the files looked for each time)."""
    home = env.get("CARGO_HOME") or str(Path.home() / ".cargo")
    found = []
    for candidate in _config_candidates(str(crate_dir), home):
        if os.path.isfile(candidate) and candidate not in found:
            found.append(candidate)
    return [Path(path) for path in found]


@functools.lru_cache(maxsize=64)
def _config_candidates(crate_dir: str, home: str) -> tuple[str, ...]:
    place = Path(crate_dir).resolve()
    folders = [folder / ".cargo" for folder in (place, *place.parents)] + [Path(home)]
    return tuple(str(folder / name) for folder in folders for name in ("config.toml", "config"))


def tasks(crate: Crate) -> list[dict[str, Any]]:
    """The doit tasks: the `compile` group and its `dev` and `release` members."""
    toolchain = str(toolchain_stage.fingerprint_file(crate))
    linked, manifest = dev_outputs(crate)
    dev_files, dev_read = _depends_on(crate, DEV)
    release_files, release_read = _depends_on(crate, RELEASE)
    return [
        {
            "basename": BASENAME,
            "name": None,
            "doc": "compile the crate to wasm with cargo",
        },
        {
            "basename": BASENAME,
            "name": "dev",
            "doc": "dev profile through the linker shim: linked module and link manifest",
            "actions": [(_run_dev, (crate,))],
            "file_dep": [*dev_files, toolchain],
            "targets": [str(linked), str(manifest)],
            "uptodate": [flags_changed({**flags(crate, "dev"), "read": dev_read})],
            "clean": True,
        },
        {
            "basename": BASENAME,
            "name": "release",
            "doc": "release profile, no HMR machinery (cached)",
            "actions": [(_run_release, (crate,))],
            "file_dep": [*release_files, toolchain],
            "targets": [str(release_output(crate))],
            "uptodate": [flags_changed({**flags(crate, "release"), "read": release_read})],
            "clean": True,
        },
    ]


def _terminal_env() -> dict[str, str]:
    """cargo's colours when our stderr is a terminal (cargo itself sees only a pipe)."""
    return {"CARGO_TERM_COLOR": "always"} if sys.stderr.isatty() else {}


class ToolchainChanged(Exception):
    """The toolchain found now is not the one the fingerprint file describes."""


def _toolchain(crate: Crate) -> Toolchain:
    """The toolchain to run cargo with; it must be the one the fingerprint file describes,
    since the action key names that one."""
    from rust_hmr.toolchain import find_toolchain

    found = find_toolchain()
    if found.fingerprint != toolchain_stage.read_fingerprint(crate):
        raise ToolchainChanged("the toolchain changed since the `toolchain` stage ran: "
                               "run `doit forget toolchain` and build again")
    return found


def _run_release(crate: Crate) -> TaskFailed | None:
    from rust_hmr.cargo_build import BuildError, CompileError, build_wasm
    from rust_hmr.toolchain import ToolchainError

    name = f"{crate.name}.wasm"
    read = CompileInputs()

    def build() -> dict[str, bytes]:
        nonlocal read
        toolchain = _toolchain(crate)
        say(RELEASE, "cargo build --release")
        built = build_wasm(crate.dir, "release", toolchain, target_dir=crate.target_dir,
                           on_output=passthrough, extra_env=_terminal_env())
        read = built.inputs
        return {name: built.path.read_bytes()}

    try:
        result = run_cached(crate, RELEASE, VERSION,
                            toolchain=toolchain_stage.read_fingerprint(crate),
                            flags=flags(crate, "release"), inputs=hash_files(crate.sources),
                            build=build, discover=lambda: read)
    except CompileError as err:
        return TaskFailed(f"{err.crate} did not compile (rustc's diagnostics are above)")
    except (BuildError, ToolchainError, ToolchainChanged) as err:
        return TaskFailed(str(err))
    wasm = result.outputs[name]
    write_if_changed(release_output(crate), wasm)
    write_if_changed(crate.stage_dir(RELEASE) / LISTING, result.read.to_json(crate.dir))
    how = "from the cache" if result.cached else f"built in {result.seconds:.2f} s"
    say(RELEASE, f"{name}: {len(wasm):,} bytes, {how}")
    return None


def _run_dev(crate: Crate) -> TaskFailed | None:
    from rust_hmr._project import Project
    from rust_hmr.cargo_build import BuildError, CompileError
    from rust_hmr.toolchain import ToolchainError

    try:
        project = Project(crate.dir, toolchain=_toolchain(crate))
        project.on_output = passthrough
        project.cargo_env.update(_terminal_env())
        say(DEV, "cargo build (dev profile, through the rust-hmr linker)")
        timings: dict[str, float] = {}
        _, manifest = project.compile(timings)  # the same steps as Project.build's
        built_seconds = timings["cargo"]
        built_inputs = project.inputs
    except CompileError as err:
        return TaskFailed(f"{err.crate} did not compile (rustc's diagnostics are above)")
    except (BuildError, ToolchainError, ToolchainChanged) as err:
        return TaskFailed(str(err))
    linked, manifest_copy = dev_outputs(crate)
    module = Path(manifest.output).read_bytes()
    write_if_changed(linked, module)
    write_if_changed(manifest_copy, project.manifest_path.read_bytes())
    write_if_changed(crate.stage_dir(DEV) / LISTING, built_inputs.to_json(crate.dir))
    say(DEV, f"{linked.name}: {len(module):,} bytes, {len(manifest.hot_objects)} codegen units, "
             f"cargo {built_seconds:.2f} s")
    return None
