"""The `rust-hmr` command line. Each subcommand lives in its own `cmd_<verb>.py` module."""

import click

from rust_hmr import __version__


@click.group()
@click.version_option(__version__, prog_name="rust-hmr")
def main() -> None:
    """Build Rust crates to WebAssembly and hot-swap changed code into the running app."""
