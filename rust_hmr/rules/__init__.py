"""The rule set: every stage of the pipeline as a content-addressed doit task.

    toolchain -> compile:dev -----> prepare                 (the dev loop's build)
              -> compile:release -> optimize -> bundle      (the production app)

Each stage is one module here. A stage's up-to-date check is doit's, by blake3 of its files
(`checkers`); when it runs, it computes its action key (stage, version, toolchain fingerprint,
flags, input hashes) and takes its outputs from the artifact cache when the cache has them
(`stage`). A dodo.py gets them all with one call:

    from rust_hmr.rules import crate_tasks

    globals().update(crate_tasks("."))

Stages of your own come in as `crate_tasks(".", rules=[...])` (`custom`: the `rule`
decorator).

Errors, in doit's terms: a stage that fails for a reason the user can act on (a compile error,
no toolchain, a failing wasm-opt, a prepare that can't proceed) returns doit's `TaskFailed`
with that reason, and the run goes on to report it without a traceback; a bad crate
directory or setting (`rust_hmr.settings.SettingsError`) is an `InvalidDodoFile` when the
tasks are created. Anything else is a bug and keeps its traceback (doit's `TaskError`).
"""

from rust_hmr.rules.checkers import Blake3Checker, flags_changed
from rust_hmr.rules.crate import Crate
from rust_hmr.rules.custom import Rule, RuleFailed, rule
from rust_hmr.rules.pipeline import crate_tasks, stage_tasks
from rust_hmr.rules.reporter import StageReporter

__all__ = [
    "Blake3Checker",
    "Crate",
    "Rule",
    "RuleFailed",
    "StageReporter",
    "crate_tasks",
    "flags_changed",
    "rule",
    "stage_tasks",
]
