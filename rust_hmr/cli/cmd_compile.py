"""`rust-hmr compile`: compile a crate to wasm once with cargo, and say what came out.

It is cargo alone (no prepare, no hot-patching machinery beyond the dev profile's link
arguments): `rust-hmr prepare` makes the dev loop's build and `rust-hmr bundle` the production
app. It was called `rust-hmr build`, which still works, with a note.
"""

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


_CRATE = click.argument("crate", default=".",
                        type=click.Path(exists=True, file_okay=False, path_type=Path))
_RELEASE = click.option("--release", is_flag=True,
                        help="Release profile, without the HMR link arguments.")
_VERBOSE = click.option("-v", "--verbose", is_flag=True, help="Show cargo's progress.")


@click.command("compile")
@_CRATE
@_RELEASE
@_VERBOSE
def compile_command(crate: Path, release: bool, verbose: bool) -> None:
    """Compile CRATE (default: the current directory) to wasm32-unknown-unknown with cargo,
    and summarise the module (a plain cargo build: no prepare, no bundle)."""
    _compile(crate, release, verbose)


@click.command("build", hidden=True)
@_CRATE
@_RELEASE
@_VERBOSE
def build_command(crate: Path, release: bool, verbose: bool) -> None:
    """The old name of `rust-hmr compile`."""
    click.echo("note: `rust-hmr build` is now `rust-hmr compile`", err=True)
    _compile(crate, release, verbose)


def _compile(crate: Path, release: bool, verbose: bool) -> None:
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
