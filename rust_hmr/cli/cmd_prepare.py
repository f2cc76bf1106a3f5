"""`rust-hmr prepare`: build a crate through the linker shim and write the prepared module."""

from pathlib import Path

import click

from rust_hmr._project import Project
from rust_hmr.cargo_build import BuildError
from rust_hmr.cli.cmd_compile import report_build_failure
from rust_hmr.prepare import DEFAULT_RESERVE_PAGES, DEFAULT_SPARE_SLOTS, PrepareError
from rust_hmr.toolchain import ToolchainError


@click.command("prepare")
@click.argument("crate", default=".", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--reserve-pages", default=DEFAULT_RESERVE_PAGES, show_default=True,
              help="Memory pages (64 KiB) kept for data that patches add.")
@click.option("--spare-slots", default=DEFAULT_SPARE_SLOTS, show_default=True,
              help="Table slots kept for function pointers that patches add.")
@click.option("-v", "--verbose", is_flag=True, help="Show cargo's progress.")
def prepare_command(crate: Path, reserve_pages: int, spare_slots: int, verbose: bool) -> None:
    """Build CRATE (default: the current directory) and prepare it for hot patching."""
    try:
        build = Project(crate, reserve_pages=reserve_pages, spare_slots=spare_slots,
                        verbose=verbose).build()
    except (BuildError, ToolchainError) as err:
        report_build_failure(err)
    except PrepareError as err:
        click.echo(f"error: cannot prepare {crate}: {err}", err=True)
        raise SystemExit(1) from None
    symbols = build.symbols
    hot = symbols.hot
    reserved = symbols.reserved
    timings = ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in build.timings.items())
    click.echo(f"prepared {build.crate} ({build.profile}): {timings}")
    click.echo(f"  module   {build.module_path} ({build.module_path.stat().st_size:,} bytes)")
    click.echo(f"  symbols  {build.symbols_path}")
    click.echo(f"  {len(symbols.functions):,} functions, {len(hot):,} hot (trampolined, "
               f"from {len(build.manifest.objects)} codegen units), "
               f"{len(symbols.data):,} data symbols")
    click.echo(f"  reserved {reserved.memory_size // 1024:,} KiB of memory at "
               f"{reserved.memory_start:#x}, {reserved.table_size:,} table slots from "
               f"{reserved.table_start}")
    own = [f for f in hot if f.demangled.startswith(f"{build.crate}::")]
    for f in own[:12]:
        click.echo(f"    slot {f.slot:>5}  {f.demangled}")
    if len(own) > 12:
        click.echo(f"    ... and {len(own) - 12} more of the crate's own functions")
