"""`doit bundle` and `doit dev`: doit commands the package registers as plugins.

    [project.entry-points."doit.COMMAND"]
    bundle = "rust_hmr.rules.commands:BundleCommand"
    dev = "rust_hmr.rules.commands:DevCommand"
    list = "rust_hmr.rules.commands:ListCommand"       (and run, info, clean, forget)

Both take every setting as an option (`--dist-dir public`) or as doit's `KEY=VALUE`
(`dist-dir=public`). In a crate without a dodo.py they use `crate_tasks(".")`, so
`doit bundle` works in any crate directory. doit's own `list`, `run` (a bare `doit`), `info`,
`clean` and `forget` do the same: with a dodo.py, or outside a crate, they are doit's.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from doit import doit_cmd
from doit.cmd_base import DoitCmdBase, ModuleTaskLoader
from doit.cmd_clean import Clean
from doit.cmd_forget import Forget
from doit.cmd_info import Info
from doit.cmd_list import List
from doit.cmd_run import Run
from doit.exceptions import InvalidCommand

from rust_hmr.settings import SETTINGS

__all__ = ["BundleCommand", "CleanCommand", "DevCommand", "ForgetCommand", "InfoCommand",
           "ListCommand", "RunCommand", "setting_options"]


def setting_options() -> tuple[dict[str, Any], ...]:
    """One doit command option per setting, generated from `rust_hmr.settings.SETTINGS`."""
    return tuple(
        {"section": "rust-hmr settings (override [package.metadata.rust-hmr])",
         "name": f"rust_hmr_{s.attr}", "long": s.key, "type": str, "default": None,
         "metavar": s.metavar, "help": s.help.replace("%", "%%")}
        for s in SETTINGS)


def _apply_settings(params: Any) -> None:
    """Settings given as options become doit variables, where the task creator reads them."""
    if doit_cmd._CMDLINE_VARS is None:  # doit's API left the variables unset
        doit_cmd.reset_vars()
    for setting in SETTINGS:
        value = params.get(f"rust_hmr_{setting.attr}")
        if value is not None:
            doit_cmd.set_var(setting.key, value)


def _dodo_found(params: Any) -> bool:
    dodo = Path(params.get("dodoFile") or "dodo.py")
    if dodo.is_absolute() or not params.get("seek_file"):
        return dodo.exists()
    return any((place / dodo).exists() for place in (Path.cwd(), *Path.cwd().parents))


def _use_crate_without_dodo(command: DoitCmdBase, params: Any) -> None:
    """No dodo.py, but a Cargo.toml here: the rule set for this crate."""
    from rust_hmr.rules.pipeline import crate_tasks

    crate_dir = Path(params.get("cwdPath") or os.getcwd())
    if _dodo_found(params) or not (crate_dir / "Cargo.toml").is_file():
        return
    old = command.loader
    loader = ModuleTaskLoader(crate_tasks(crate_dir))
    loader.cmd_names = old.cmd_names
    loader.config = old.config
    command.loader = loader


class _CrateWithoutDodo(DoitCmdBase):
    """doit's own command, which in a crate without a dodo.py loads the crate's tasks (a
    mixin, first in the bases: `execute` is the command's, after loading)."""

    def execute(self, params: Any, args: list[str]) -> Any:
        _use_crate_without_dodo(self, params)
        return super().execute(params, args)  # doit's: None or a code


class ListCommand(_CrateWithoutDodo, List):
    pass


class RunCommand(_CrateWithoutDodo, Run):
    pass


class InfoCommand(_CrateWithoutDodo, Info):
    pass


class CleanCommand(_CrateWithoutDodo, Clean):
    pass


class ForgetCommand(_CrateWithoutDodo, Forget):
    pass


class BundleCommand(Run):
    """`doit bundle`: run the `bundle` task and what it needs."""

    name = "bundle"
    doc_purpose = "build the app for production into dist/ (rust-hmr)"
    doc_usage = "[KEY=VALUE...]"
    doc_description = ("Release build, optimized; dist/ gets index.html, the loader, the wasm "
                       "and the static assets under content-hashed names, and manifest.json. "
                       "Stages come from the artifact cache when it has them.")
    cmd_options = Run.cmd_options + setting_options()

    def execute(self, params: Any, args: list[str]) -> int:
        """Load the tasks (dodo.py, or the crate here), then run `bundle`."""
        if args:
            raise InvalidCommand(f"doit bundle takes no task names (got {' '.join(args)}); "
                                 "give settings as KEY=VALUE or --key VALUE")
        _apply_settings(params)
        _use_crate_without_dodo(self, params)
        return int(super().execute(params, ["bundle"]))


class DevCommand(DoitCmdBase):
    """`doit dev`: the dev loop (build, serve, watch, hot-patch) for the dodo.py's crate."""

    name = "dev"
    doc_purpose = "serve the app and hot-patch it on every save (rust-hmr)"
    doc_usage = "[KEY=VALUE...]"
    doc_description = ("Builds the crate in the dev profile, serves it on host:port (settings "
                       "`host` and `port`), watches the sources and pushes each change into "
                       "the running page, its state kept.")
    cmd_options = (
        {"name": "open_browser", "long": "open", "type": bool, "default": False,
         "help": "open the app in the web browser"},
        {"name": "no_hot", "long": "no-hot", "type": bool, "default": False,
         "help": "reload the page on every change instead of hot patching it"},
        *setting_options(),
    )

    def execute(self, params: Any, args: list[str]) -> int:
        _apply_settings(params)
        _use_crate_without_dodo(self, params)
        self._flags = {"open_browser": bool(params.get("open_browser")),
                       "hot": not params.get("no_hot")}
        return int(super().execute(params, args))

    def _execute(self) -> int:
        self.dep_manager.close()
        crates = {task.meta["rust_hmr"]["crate"]: task.meta["rust_hmr"]
                  for task in self.task_list if task.meta and "rust_hmr" in task.meta}
        if len(crates) != 1:
            found = ", ".join(sorted(crates)) or "none"
            raise InvalidCommand("doit dev needs exactly one crate_tasks() crate in dodo.py "
                                 f"(found: {found})")
        [(crate_dir, meta)] = crates.items()
        settings = meta["settings"]
        from rust_hmr.dev import run_dev

        return int(run_dev(Path(crate_dir), settings.host, settings.port, settings=settings,
                           rules=meta.get("rules", ()), **getattr(self, "_flags", {})) or 0)
