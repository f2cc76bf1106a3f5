"""The `rust-hmr` command line. Each subcommand lives in its own `cmd_<verb>.py` module."""

import click

from rust_hmr import __version__


@click.group()
@click.version_option(__version__, prog_name="rust-hmr")
def main() -> None:
    """Build Rust crates to WebAssembly and hot-swap changed code into the running app."""


from rust_hmr.cli.cmd_compile import build_command, compile_command  # noqa: E402
from rust_hmr.cli.cmd_toolchain import toolchain_command  # noqa: E402

main.add_command(toolchain_command)
main.add_command(compile_command)
main.add_command(build_command)

from rust_hmr.cli.cmd_bundle import bundle_command  # noqa: E402
from rust_hmr.cli.cmd_cache import cache_command  # noqa: E402
from rust_hmr.cli.cmd_dev import dev_command  # noqa: E402
from rust_hmr.cli.cmd_inspect import inspect_command  # noqa: E402
from rust_hmr.cli.cmd_prepare import prepare_command  # noqa: E402

main.add_command(inspect_command)
main.add_command(cache_command)
main.add_command(bundle_command)
main.add_command(dev_command)
main.add_command(prepare_command)
