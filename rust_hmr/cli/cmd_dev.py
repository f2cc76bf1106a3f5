"""`rust-hmr dev`: build a crate, serve it, and hot-patch the page on every save."""

from pathlib import Path

import click

from rust_hmr.cargo_build import BuildError
from rust_hmr.cli.cmd_compile import report_build_failure
from rust_hmr.settings import SettingsError, load_settings
from rust_hmr.toolchain import ToolchainError


@click.command("dev")
@click.argument("crate", default=".", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--host", default=None, metavar="ADDR",
              help="Address to listen on.  [default: 127.0.0.1, or the crate's `host` setting]")
@click.option("--port", default=None, type=click.IntRange(0, 65535), metavar="N",
              help="Port to listen on; 0 picks a free one.  [default: 8000, or the crate's "
                   "`port` setting]")
@click.option("--open", "open_browser", is_flag=True, help="Open the page in a browser.")
@click.option("--no-hot", is_flag=True,
              help="Reload the page on every change instead of patching it.")
@click.option("-v", "--verbose", is_flag=True, help="Show cargo's progress.")
def dev_command(crate: Path, host: str | None, port: int | None, open_browser: bool,
                no_hot: bool, verbose: bool) -> None:
    """Build CRATE (default: the current directory), serve it and hot-patch it on every save.

    Prints the page's URL, then one line per rebuild: the files that changed, what the pages
    got (a patch, a full reload and its reason, or the compile error) and how long it took.
    """
    from rust_hmr.dev import run_dev

    try:
        settings = load_settings(crate, ("the command line", {"host": host, "port": port}))
        status = run_dev(crate, settings.host, settings.port, settings=settings,
                         hot=not no_hot, open_browser=open_browser, verbose=verbose)
    except (BuildError, ToolchainError) as err:
        report_build_failure(err)
    except SettingsError as err:
        click.echo(f"error: {err}", err=True)
        raise SystemExit(2) from None
    raise SystemExit(status)
