"""The pipeline in one place: every stage of a crate as doit tasks, in order, and the doit
configuration they need.

    toolchain -> compile:dev -----> prepare                 (the dev loop's build)
              -> compile:release -> optimize -> bundle      (the production app)
    hot:compile -> hot:unit:<unit> ... -> hot:patch         (a save: `rules.hot`)

In a dodo.py:

    from rust_hmr.rules import crate_tasks

    globals().update(crate_tasks("."))

That adds `DOIT_CONFIG` (blake3 up-to-date checks, the stage reporter, doit's database under
`target/rust-hmr/`, `bundle` as the default task) and one task creator. The creator is not
called `task_bundle`: doit refuses a task creator named like a command, and `bundle` is one.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from doit import get_var
from doit.exceptions import InvalidDodoFile

from rust_hmr.rules import bundle, compile, hot, optimize, prepare, toolchain
from rust_hmr.rules.checkers import Blake3Checker
from rust_hmr.rules.crate import Crate
from rust_hmr.rules.custom import Rule, rule_tasks
from rust_hmr.rules.reporter import StageReporter
from rust_hmr.settings import SETTINGS, SettingsError, load_settings

__all__ = ["command_line_settings", "crate_tasks", "stage_tasks"]


def command_line_settings() -> dict[str, str]:
    """Settings given on doit's command line as `KEY=VALUE` (`doit bundle dist-dir=public`;
    the commands' `--dist-dir public` options arrive the same way)."""
    found = {}
    for setting in SETTINGS:
        value = get_var(setting.key)
        if value is not None:
            found[setting.key] = value
    return found


def stage_tasks(crate: Crate, rules: Sequence[Rule] = ()) -> Iterator[dict[str, Any]]:
    """The doit task dicts of every stage, in pipeline order, the user's rules first; the
    compile stages wait for the rules that feed them."""
    meta = {"rust_hmr": {"crate": str(crate.dir), "settings": crate.settings,
                         "rules": tuple(rules)}}
    # A compile depends on the feeding rules' outputs, which are those rules' targets: doit
    # orders the tasks by that, and the outputs count from the first run on.
    fed = [str(crate.dir / out) for r in rules if r.feeds_compile for out in r.outputs]
    compiles = compile.tasks(crate)
    for stage in compiles:
        if stage.get("actions") and fed:
            stage["file_dep"] = sorted({*stage["file_dep"], *fed})
    stages = [*rule_tasks(crate, rules), toolchain.task(crate), *compiles, prepare.task(crate),
              optimize.task(crate), bundle.task(crate), *hot.stage_tasks(crate)]
    for stage in stages:
        if stage.get("actions"):
            stage["meta"] = meta
        yield stage


def crate_tasks(crate_dir: str | Path = ".", *, rules: Sequence[Rule] = (),
                **settings: Any) -> dict[str, Any]:
    """Every rust-hmr task for the crate at `crate_dir`, as names for a dodo.py's globals.

    `settings` override the crate's `[package.metadata.rust-hmr]` (`dist_dir="public"`);
    the command line overrides both. `rules` are stages of your own (`rust_hmr.rules.rule`).
    """
    crate_dir = Path(crate_dir).resolve()
    if not (crate_dir / "Cargo.toml").is_file():
        raise InvalidDodoFile(f"crate_tasks: {crate_dir} is not a cargo crate (no Cargo.toml)")
    target = crate_dir / "target" / "rust-hmr"
    target.mkdir(parents=True, exist_ok=True)  # doit opens its database before any task runs

    def task_rust_hmr() -> Iterator[dict[str, Any]]:
        """rust-hmr: build Rust to wasm, hot-patch in dev, bundle for production"""
        from rust_hmr.cargo_build import BuildError

        try:
            crate = Crate(crate_dir, load_settings(crate_dir, ("dodo.py", settings),
                                                   ("the command line", command_line_settings())))
            crate.name  # noqa: B018 (a crate without a package name fails here, clearly)
        except (SettingsError, BuildError) as err:
            raise InvalidDodoFile(str(err)) from None
        try:
            yield from stage_tasks(crate, rules)
        except ValueError as err:  # two rules of one name
            raise InvalidDodoFile(str(err)) from None

    return {
        "DOIT_CONFIG": {
            "check_file_uptodate": Blake3Checker,
            "backend": "sqlite3",
            "dep_file": str(target / "doit.sqlite3"),
            "reporter": StageReporter,
            "default_tasks": [bundle.NAME],
            "sort": "definition",
            "subtasks": True,
        },
        "task_rust_hmr": task_rust_hmr,
    }
