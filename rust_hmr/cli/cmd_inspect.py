"""`rust-hmr inspect FILE`: what a wasm module or relocatable object holds."""

import json
import sys
from pathlib import Path

import click

from rust_hmr.wasm.errors import WasmDecodeError
from rust_hmr.wasm.module import parse
from rust_hmr.wasm.summary import format_text, summarize


@click.command("inspect")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
@click.option("--all", "show_all", is_flag=True, help="List every symbol, not the first 40.")
def inspect_command(file: Path, as_json: bool, show_all: bool) -> None:
    """Show the sections, counts, symbols and relocations of a wasm FILE."""
    data = file.read_bytes()
    try:
        summary = summarize(parse(data), len(data))
    except WasmDecodeError as exc:
        click.echo(f"rust-hmr inspect: {file}: malformed wasm: {exc}", err=True)
        sys.exit(2)
    if as_json:
        click.echo(json.dumps(summary.to_json(), indent=1))
    else:
        click.echo(format_text(summary, str(file), None if show_all else 40))
