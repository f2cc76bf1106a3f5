"""Find a Rust toolchain that can build `wasm32-unknown-unknown`, and a `wasm-ld`.

Search order:
1. `RUST_HMR_RUSTC` (with `RUST_HMR_CARGO`, `RUST_HMR_WASM_LD`): when set, it is the only
   candidate, so a broken override is reported instead of silently replaced;
2. the `rustc` on PATH and in `~/.cargo/bin` (rustup's proxy), when its sysroot has the target;
3. rustup's other installed toolchains that have the target;
4. Debian's `/usr/bin/rustc` (packages `rustc libstd-rust-dev-wasm32 lld cargo`).

PATH may find a rustc without the target before one with it (rustup's, before Debian's), so cargo
is always run with `RUSTC` pointing at the rustc chosen here: see `Toolchain.cargo_env`.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import blake3

TARGET = "wasm32-unknown-unknown"
FIXES = (
    f"rustup target add {TARGET}",
    "apt-get install rustc libstd-rust-dev-wasm32 lld cargo   (Debian)",
)
_ENV_KEYS = (
    "RUST_HMR_RUSTC",
    "RUST_HMR_CARGO",
    "RUST_HMR_WASM_LD",
    "PATH",
    "HOME",
    "CARGO_HOME",
    "RUSTUP_HOME",
)


class ToolchainError(RuntimeError):
    """No usable toolchain; the message says what was tried and how to get one."""


@dataclass(frozen=True)
class Toolchain:
    """A rustc + cargo whose sysroot has the wasm32 std, and the wasm-ld to link with."""

    rustc: Path
    cargo: Path
    wasm_ld: Path
    wasm_ld_args: tuple[str, ...]  # ("-flavor", "wasm") when wasm_ld is a bare rust-lld
    rustc_version: str
    cargo_version: str
    wasm_ld_version: str
    sysroot: Path
    host: str
    target_libs: tuple[tuple[str, int], ...]  # (file name, size) of the target's libraries
    origin: str  # how it was found: "RUST_HMR_RUSTC", "PATH", "rustup", "debian"
    target: str = TARGET

    @property
    def target_lib_dir(self) -> Path:
        return self.sysroot / "lib" / "rustlib" / self.target / "lib"

    @property
    def fingerprint(self) -> str:
        """blake3 over what decides the code the toolchain emits; paths of binaries excluded,
        so two checkouts (or machines) with the same toolchain share cache entries."""
        blob = json.dumps(
            [
                self.rustc_version,
                self.cargo_version,
                self.wasm_ld_version,
                str(self.sysroot),
                self.host,
                self.target,
                list(self.target_libs),
            ],
            separators=(",", ":"),
        )
        return blake3.blake3(blob.encode()).hexdigest()

    def cargo_env(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment to run cargo in: `base` (default os.environ) with RUSTC set."""
        env = dict(os.environ if base is None else base)
        env["RUSTC"] = str(self.rustc)
        return env

    def cargo_command(self, *args: str) -> list[str]:
        return [str(self.cargo), *args]

    def wasm_ld_command(self, *args: str) -> list[str]:
        return [str(self.wasm_ld), *self.wasm_ld_args, *args]

    def to_dict(self) -> dict[str, Any]:
        return {
            "rustc": str(self.rustc),
            "rustc_version": self.rustc_version,
            "cargo": str(self.cargo),
            "cargo_version": self.cargo_version,
            "wasm_ld": self.wasm_ld_command(),
            "wasm_ld_version": self.wasm_ld_version,
            "sysroot": str(self.sysroot),
            "host": self.host,
            "target": self.target,
            "target_lib_dir": str(self.target_lib_dir),
            "target_libs": [name for name, _ in self.target_libs],
            "origin": self.origin,
            "fingerprint": self.fingerprint,
            "cargo_env": {"RUSTC": str(self.rustc)},
        }


def find_toolchain(env: Mapping[str, str] | None = None) -> Toolchain:
    """The toolchain to build with; discovery runs once per process per relevant environment."""
    env = os.environ if env is None else env
    return _discover(tuple(env.get(key) for key in _ENV_KEYS))


def clear_cache() -> None:
    """Forget discovered toolchains (after installing one, or in tests)."""
    _discover.cache_clear()


class _Rejected(Exception):
    pass


@functools.cache
def _discover(key: tuple[str | None, ...]) -> Toolchain:
    env = dict(zip(_ENV_KEYS, key, strict=True))
    tried: list[str] = []
    for rustc, origin in _candidates(env):
        try:
            return _probe(rustc, origin, env)
        except _Rejected as why:
            tried.append(f"{rustc} ({origin}): {why}")
    raise ToolchainError(_failure_message(tried, explicit=bool(env["RUST_HMR_RUSTC"])))


def _failure_message(tried: list[str], explicit: bool) -> str:
    lines = [f"No Rust toolchain that can build {TARGET} (and link with wasm-ld) was found."]
    lines += ["Tried:", *(f"  - {t}" for t in tried or ["nothing: no rustc anywhere"])]
    if explicit:
        lines.append("RUST_HMR_RUSTC is set, so only it was tried; unset it to search.")
    lines += ["Get one with either:", *(f"  - {fix}" for fix in FIXES)]
    lines.append("or point RUST_HMR_RUSTC / RUST_HMR_CARGO / RUST_HMR_WASM_LD at one that has it.")
    return "\n".join(lines)


def _candidates(env: dict[str, str | None]) -> list[tuple[Path, str]]:
    if env["RUST_HMR_RUSTC"]:
        return [(Path(env["RUST_HMR_RUSTC"]), "RUST_HMR_RUSTC")]
    found: list[tuple[Path, str]] = []
    cargo_home = Path(env["CARGO_HOME"] or Path(env["HOME"] or "~").expanduser() / ".cargo")
    rustup_home = Path(env["RUSTUP_HOME"] or Path(env["HOME"] or "~").expanduser() / ".rustup")
    pattern = f"toolchains/*/lib/rustlib/{TARGET}/lib/libstd-*.rlib"
    rustup_with_target = sorted(rustup_home.glob(pattern))
    home_rustc = cargo_home / "bin" / "rustc"
    on_path = shutil.which("rustc", path=env["PATH"] or "")
    # rustup's proxy is worth asking (it is slow) only when some rustup toolchain has the std.
    skip_proxy = not rustup_with_target and _is_rustup_proxy(home_rustc)
    if on_path and not (skip_proxy and _is_rustup_proxy(Path(on_path))):
        found.append((Path(on_path), "PATH"))
    if not skip_proxy:
        found.append((home_rustc, "rustup"))
    for std in rustup_with_target:
        found.append((std.parents[4] / "bin" / "rustc", "rustup"))
    found.append((Path("/usr/bin/rustc"), "debian"))
    unique: dict[Path, tuple[Path, str]] = {}
    for rustc, origin in found:
        if rustc.exists():
            unique.setdefault(rustc.resolve(), (rustc, origin))
    return list(unique.values()) or found[-1:]


def _is_rustup_proxy(path: Path) -> bool:
    """rustup installs rustc, cargo and friends as links to its own binary."""
    try:
        return path.resolve().name.startswith("rustup")
    except OSError:
        return False


def _run(*cmd: str) -> str:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.SubprocessError) as err:
        raise _Rejected(f"cannot run: {err}") from None
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise _Rejected(f"`{' '.join(cmd[1:])}` failed: {tail[0]}")
    return done.stdout.strip()


def _probe(rustc: Path, origin: str, env: dict[str, str | None]) -> Toolchain:
    sysroot = Path(_run(str(rustc), "--print", "sysroot"))
    lib_dir = sysroot / "lib" / "rustlib" / TARGET / "lib"
    if not any(lib_dir.glob("libstd-*.rlib")):
        raise _Rejected(f"no {TARGET} std (no libstd-*.rlib in {lib_dir})")
    verbose = _run(str(rustc), "-vV")
    host = re.search(r"^host: (\S+)", verbose, re.M)
    if host is None:
        raise _Rejected("`rustc -vV` names no host")
    if (sysroot / "bin" / "rustc").is_file() and origin != "RUST_HMR_RUSTC":
        rustc = sysroot / "bin" / "rustc"  # the real binary, not rustup's proxy
    cargo = _find_cargo(rustc, sysroot, env)
    wasm_ld, wasm_ld_args = _find_wasm_ld(rustc, sysroot, host[1], env)
    with ThreadPoolExecutor(2) as pool:  # each version query is a process start
        cargo_version = pool.submit(_run, str(cargo), "-V")
        wasm_ld_version = pool.submit(_run, str(wasm_ld), *wasm_ld_args, "--version")
    return Toolchain(
        rustc=rustc,
        cargo=cargo,
        wasm_ld=wasm_ld,
        wasm_ld_args=wasm_ld_args,
        rustc_version=verbose.splitlines()[0],
        cargo_version=cargo_version.result(),
        wasm_ld_version=wasm_ld_version.result(),
        sysroot=sysroot,
        host=host[1],
        target_libs=tuple(sorted((p.name, p.stat().st_size) for p in lib_dir.iterdir())),
        origin=origin,
    )


def _find_cargo(rustc: Path, sysroot: Path, env: dict[str, str | None]) -> Path:
    if env["RUST_HMR_CARGO"]:
        return Path(env["RUST_HMR_CARGO"])
    for place in (sysroot / "bin", rustc.parent, rustc.resolve().parent):
        if (place / "cargo").is_file():
            return place / "cargo"
    on_path = shutil.which("cargo", path=env["PATH"] or "")
    if on_path is None:
        raise _Rejected("no cargo next to it nor on PATH (set RUST_HMR_CARGO)")
    return Path(on_path)


def _find_wasm_ld(
    rustc: Path, sysroot: Path, host: str, env: dict[str, str | None]
) -> tuple[Path, tuple[str, ...]]:
    """wasm-ld itself, or a rust-lld that must be told `-flavor wasm`."""
    if env["RUST_HMR_WASM_LD"]:
        path = Path(env["RUST_HMR_WASM_LD"])
        return path, (("-flavor", "wasm") if "rust-lld" in path.name else ())
    path_dirs = [Path(d) for d in (env["PATH"] or "").split(os.pathsep) if d]
    dirs = [rustc.parent, rustc.resolve().parent, *path_dirs]
    for place in dirs:
        if (place / "wasm-ld").is_file():
            return place / "wasm-ld", ()
    versioned = [p for d in dirs for p in d.glob("wasm-ld-[0-9]*") if p.name[8:].isdigit()]
    if versioned:
        return max(versioned, key=lambda p: int(p.name[8:])), ()
    for place in (sysroot / "lib" / "rustlib" / host / "bin", *path_dirs):
        if (place / "rust-lld").is_file():
            return place / "rust-lld", ("-flavor", "wasm")
    raise _Rejected("no wasm-ld, wasm-ld-NN or rust-lld found (set RUST_HMR_WASM_LD)")
