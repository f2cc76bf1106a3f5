"""`rust-hmr build`: build a crate to wasm once and say what was built."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import NoReturn

import click

from rust_hmr.cargo_build import BuildError, CompileError, build_wasm
from rust_hmr.toolchain import ToolchainError
from rust_hmr.wasm.module import parse


def report_build_failure(err: BuildError | ToolchainError) -> NoReturn:
    """rustc's diagnostics as they are for a compile error, the message otherwise; exit 1."""
    if isinstance(err, CompileError):
        click.echo(err.stderr, err=True, nl=False)
        click.echo(f"error: {err.crate} did not compile", err=True)
    else:
        click.echo(str(err), err=True)
    raise SystemExit(1)


@click.command("build")
@click.argument("crate", default=".", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--release", is_flag=True, help="Release profile, without the HMR link arguments.")
@click.option("-v", "--verbose", is_flag=True, help="Show cargo's progress.")
def build_command(crate: Path, release: bool, verbose: bool) -> None:
    """Build CRATE (default: the current directory) to wasm32-unknown-unknown."""
    try:
        built = build_wasm(crate, "release" if release else "dev", verbose=verbose)
    except (BuildError, ToolchainError) as err:
        report_build_failure(err)
    click.echo(f"built {built.crate} ({built.profile}) in {built.seconds:.2f} s")
    click.echo(f"  {built.path}")
    click.echo(f"  {built.size:,} bytes; {_summary(built.path.read_bytes())}")


def _summary(wasm: bytes) -> str:
    """Counts of exports by kind and of imports, read with the wasm toolkit."""
    module = parse(wasm)
    counts = Counter(str(e.kind) for e in module.decoded("export", []))
    plurals = {"function": "functions", "global": "globals", "table": "tables",
               "memory": "memories"}
    listed = ", ".join(f"{counts[k]:,} {plural}" for k, plural in plurals.items())
    return f"exports {listed}; {len(module.decoded('import', []))} imports"
