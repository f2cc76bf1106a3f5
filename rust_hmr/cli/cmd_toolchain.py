"""`rust-hmr toolchain`: show the Rust toolchain builds will use, or why there is none."""

from __future__ import annotations

import json

import click

from rust_hmr.toolchain import ToolchainError, find_toolchain


@click.command("toolchain")
@click.option("--json", "as_json", is_flag=True, help="Print the details as JSON.")
def toolchain_command(as_json: bool) -> None:
    """Find a rustc + cargo with the wasm32-unknown-unknown std, and a wasm-ld."""
    try:
        found = find_toolchain()
    except ToolchainError as err:
        click.echo(str(err), err=True)
        raise SystemExit(1) from None
    if as_json:
        click.echo(json.dumps(found.to_dict(), indent=2))
        return
    click.echo(
        f"{found.rustc_version} ({found.origin}) at {found.rustc}, with the {found.target} std"
    )
    rows = [
        ("cargo", f"RUSTC={found.rustc} {found.cargo}  ({found.cargo_version})"),
        ("wasm-ld", f"{' '.join(found.wasm_ld_command())}  ({found.wasm_ld_version})"),
        ("sysroot", str(found.sysroot)),
        ("host", found.host),
        ("target libs", f"{len(found.target_libs)} in {found.target_lib_dir}"),
        ("fingerprint", found.fingerprint),
    ]
    for label, value in rows:
        click.echo(f"  {label + ':':<13}{value}")
