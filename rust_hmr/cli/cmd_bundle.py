"""`rust-hmr bundle`: `doit bundle` for a crate without a dodo.py."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from rust_hmr.settings import SETTINGS, SettingsError, load_settings


def setting_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """One `--KEY VALUE` option per setting (see `rust_hmr.settings.SETTINGS`)."""
    for setting in reversed(SETTINGS):
        command = click.option(f"--{setting.key}", setting.attr, metavar=setting.metavar,
                               default=None, help=setting.help)(command)
    return command


@click.command("bundle")
@click.argument("crate", default=".", type=click.Path(exists=True, file_okay=False, path_type=Path))
@setting_options
def bundle_command(crate: Path, **settings: str | None) -> None:
    """Build CRATE (default: the current directory) for production into its dist/.

    Settings come from [package.metadata.rust-hmr] in its Cargo.toml; each option here
    overrides one.
    """
    from doit.cmd_base import ModuleTaskLoader
    from doit.doit_cmd import DoitMain

    from rust_hmr.rules import crate_tasks

    if not (crate / "Cargo.toml").is_file():
        raise click.UsageError(f"{crate} is not a cargo crate (no Cargo.toml)")
    try:  # checked here too, so a bad setting is one line and status 2, as for `rust-hmr dev`
        load_settings(crate, ("the command line", settings))
    except SettingsError as err:
        click.echo(f"error: {err}", err=True)
        raise SystemExit(2) from None
    given = [f"{s.key}={settings[s.attr]}" for s in SETTINGS if settings[s.attr] is not None]
    loader = ModuleTaskLoader(crate_tasks(crate))
    code = DoitMain(loader, config_filenames=()).run(["run", *given, "bundle"])
    raise SystemExit(code)
