"""Finding the Rust toolchain: what a user sees when there is one, and when there is none."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from rust_hmr import toolchain as toolchain_module
from rust_hmr.cli import main
from rust_hmr.toolchain import Toolchain, ToolchainError, find_toolchain

FIXES = ("rustup target add wasm32-unknown-unknown", "libstd-rust-dev-wasm32 lld cargo")


def wrapped_rustc(
    tmp_path: Path, real: Toolchain, with_wasm_std: bool, bin_dir: str = "bin"
) -> Path:
    """A rustc that runs the real one against a sysroot of its own (holding the same
    wasm32 std, or none): another toolchain, as far as discovery can tell."""
    sysroot = tmp_path / f"sysroot-{bin_dir.replace('/', '-')}"
    rustlib = sysroot / "lib" / "rustlib" / real.target
    rustlib.mkdir(parents=True)
    if with_wasm_std:
        (rustlib / "lib").symlink_to(real.target_lib_dir)
    script = tmp_path / bin_dir / "rustc"
    script.parent.mkdir(parents=True)
    script.write_text(f'#!/bin/sh\nexec "{real.rustc}" --sysroot "{sysroot}" "$@"\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script


def env_with(**overrides: str) -> dict[str, str]:
    return {**os.environ, **overrides}


def test_found_toolchain_has_the_wasm_std(toolchain: Toolchain) -> None:
    assert toolchain.target == "wasm32-unknown-unknown"
    names = [name for name, _ in toolchain.target_libs]
    assert any(name.startswith("libstd-") and name.endswith(".rlib") for name in names)
    assert all((toolchain.target_lib_dir / name).is_file() for name in names)
    assert toolchain.rustc_version.startswith("rustc ")
    assert toolchain.cargo_version.startswith("cargo ")
    assert "LLD" in toolchain.wasm_ld_version


def test_cargo_runs_with_the_chosen_rustc(toolchain: Toolchain) -> None:
    env = toolchain.cargo_env()
    assert env["RUSTC"] == str(toolchain.rustc)
    version = subprocess.run(
        [env["RUSTC"], "-V"], capture_output=True, text=True, check=True
    ).stdout
    assert version.strip() == toolchain.rustc_version
    assert toolchain.cargo_command("build")[1:] == ["build"]


def test_discovery_runs_once_per_process(toolchain: Toolchain) -> None:
    assert find_toolchain() is find_toolchain()


def test_fingerprint_is_stable_across_discoveries(toolchain: Toolchain) -> None:
    toolchain_module.clear_cache()
    again = find_toolchain()
    assert again is not toolchain
    assert again.fingerprint == toolchain.fingerprint
    assert len(toolchain.fingerprint) == 64
    int(toolchain.fingerprint, 16)


def test_fingerprint_changes_with_the_toolchain(toolchain: Toolchain, tmp_path: Path) -> None:
    rustc = wrapped_rustc(tmp_path, toolchain, with_wasm_std=True)
    other = find_toolchain(env_with(RUST_HMR_RUSTC=str(rustc), RUST_HMR_CARGO=str(toolchain.cargo)))
    assert other.rustc == rustc
    assert other.origin == "RUST_HMR_RUSTC"
    assert other.sysroot == tmp_path / "sysroot-bin"
    assert other.fingerprint != toolchain.fingerprint


def test_search_passes_over_a_rustc_without_the_wasm_std(
    toolchain: Toolchain, tmp_path: Path
) -> None:
    """Like rustup's rustc on PATH without the target, with a usable one further down."""
    first = wrapped_rustc(tmp_path, toolchain, with_wasm_std=False, bin_dir="path")
    usable = wrapped_rustc(tmp_path, toolchain, with_wasm_std=True, bin_dir="cargo-home/bin")
    (usable.parent / "cargo").symlink_to(toolchain.cargo)
    env = env_with(
        PATH=f"{first.parent}{os.pathsep}{os.environ['PATH']}",
        CARGO_HOME=str(tmp_path / "cargo-home"),
        RUSTUP_HOME=str(tmp_path / "no-rustup"),
    )
    env.pop("RUST_HMR_RUSTC", None)
    found = find_toolchain(env)
    assert found.rustc == usable
    assert found.cargo == usable.parent / "cargo"
    assert found.cargo_env()["RUSTC"] == str(usable)


def test_bogus_rustc_override_names_both_fixes(tmp_path: Path) -> None:
    bogus = tmp_path / "no-such-rustc"
    with pytest.raises(ToolchainError) as caught:
        find_toolchain(env_with(RUST_HMR_RUSTC=str(bogus)))
    message = str(caught.value)
    assert str(bogus) in message
    for fix in FIXES:
        assert fix in message


def test_rustc_without_the_wasm_std_is_rejected(toolchain: Toolchain, tmp_path: Path) -> None:
    rustc = wrapped_rustc(tmp_path, toolchain, with_wasm_std=False)
    with pytest.raises(ToolchainError, match="no wasm32-unknown-unknown std"):
        find_toolchain(env_with(RUST_HMR_RUSTC=str(rustc)))


def test_wasm_ld_override_is_used(toolchain: Toolchain, tmp_path: Path) -> None:
    with pytest.raises(ToolchainError, match="no-wasm-ld"):
        find_toolchain(env_with(RUST_HMR_WASM_LD=str(tmp_path / "no-wasm-ld")))


def test_cli_prints_the_toolchain_as_json(toolchain: Toolchain) -> None:
    result = CliRunner().invoke(main, ["toolchain", "--json"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert shown["fingerprint"] == toolchain.fingerprint
    assert shown["rustc"] == str(toolchain.rustc)
    assert shown["cargo_env"] == {"RUSTC": str(toolchain.rustc)}


def test_cli_prints_a_summary(toolchain: Toolchain) -> None:
    result = CliRunner().invoke(main, ["toolchain"])
    assert result.exit_code == 0, result.output
    assert toolchain.rustc_version in result.output
    assert toolchain.fingerprint in result.output


def test_cli_without_a_toolchain_exits_1_with_the_fixes(tmp_path: Path) -> None:
    env = {"RUST_HMR_RUSTC": str(tmp_path / "no-such-rustc")}
    result = CliRunner().invoke(main, ["toolchain"], env=env)
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    for fix in FIXES:
        assert fix in result.output
