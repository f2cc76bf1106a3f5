"""Rules of your own: a stage defined in your dodo.py, content-addressed and cached like the
built-in ones.

    from rust_hmr.rules import crate_tasks, rule

    @rule(inputs=["icons/*.svg"], outputs=["src/icons.rs"], feeds_compile=True)
    def icons(files: dict[str, bytes]) -> dict[str, bytes]:
        '''Rust constants for the SVG icons.'''
        lines = [f"pub const {Path(n).stem.upper()}: &str = {t.decode()!r};"
                 for n, t in sorted(files.items())]
        return {"src/icons.rs": "\\n".join(lines).encode()}

    globals().update(crate_tasks(".", rules=[icons]))

A rule reads the files its `inputs` patterns match (globs relative to the crate; `**` reaches
into folders) and returns the bytes of each of its `outputs` (paths relative to the crate).
It becomes the doit task `rule:<name>`, listed by `doit list` with its docstring. Its action
key covers the rule's name, `version`, its code (the function's source), its outputs and the
blake3 of every input, so a hit in the local or the remote cache writes the outputs without
running the function; a changed input, a changed function body or a bumped `version` runs it.
Outputs are written only when their bytes change. `feeds_compile=True` makes both compile
stages wait for the rule, and its outputs, under `src/` say, are then among their inputs.

A function that raises `RuleFailed` fails the stage with its message, and `doit` reports it
without a traceback; an output it does not return, or one it was not declared to write, is
refused with the rule's name.
"""

from __future__ import annotations

import glob
import hashlib
import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from doit.exceptions import TaskFailed

from rust_hmr.rules.crate import Crate
from rust_hmr.rules.stage import hash_files, run_cached, say, write_if_changed

__all__ = ["Rule", "RuleFailed", "rule", "rule_tasks", "run_rule"]

PREFIX = "rule"
Action = Callable[[dict[str, bytes]], Mapping[str, bytes]]


class RuleFailed(Exception):
    """Raised by a rule's function: the stage fails with this message."""


@dataclass(frozen=True)
class Rule:
    """A stage of the user's: `action(files)` maps the input files' bytes, by their path
    relative to the crate, to the bytes of each output."""

    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    action: Action
    version: int = 1
    feeds_compile: bool = False
    doc: str = ""

    @property
    def task_name(self) -> str:
        return f"{PREFIX}:{self.name}"

    def input_files(self, crate: Crate) -> dict[str, Path]:
        """The files the patterns match now, by path relative to the crate (sorted)."""
        found: dict[str, Path] = {}
        for pattern in self.inputs:
            for match in glob.glob(pattern, root_dir=crate.dir, recursive=True):
                path = crate.dir / match
                if path.is_file():
                    found[Path(match).as_posix()] = path
        return dict(sorted(found.items()))

    def code_digest(self) -> str:
        """What the action key knows of the function: its source, else its bytecode."""
        try:
            code = inspect.getsource(self.action).encode()
        except (OSError, TypeError):
            func = getattr(self.action, "__code__", None)
            code = func.co_code + repr(func.co_consts).encode() if func else b""
        return hashlib.blake2b(code, digest_size=16).hexdigest()


def rule(*, inputs: Sequence[str], outputs: Sequence[str], name: str | None = None,
         version: int = 1, feeds_compile: bool = False) -> Callable[[Action], Rule]:
    """Make a function a rule (see the module's docstring)."""
    if not outputs:
        raise ValueError("a rule needs at least one output")
    for path in outputs:
        if Path(path).is_absolute() or ".." in Path(path).parts:
            raise ValueError(f"a rule's output must lie inside the crate, got {path!r}")

    def make(action: Action) -> Rule:
        return Rule(name or action.__name__, tuple(inputs), tuple(outputs), action, version,
                    feeds_compile, inspect.getdoc(action) or "")

    return make


def rule_tasks(crate: Crate, rules: Sequence[Rule]) -> list[dict[str, Any]]:
    """The doit tasks of the user's rules."""
    names = [r.name for r in rules]
    if len(set(names)) != len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"two rules share a name: {', '.join(twice)}")
    return [_task(crate, r) for r in rules]


def _task(crate: Crate, rule: Rule) -> dict[str, Any]:
    return {
        "basename": rule.task_name,
        "doc": rule.doc.splitlines()[0] if rule.doc else f"the rule {rule.name} (dodo.py)",
        "actions": [(_run, (crate, rule))],
        "file_dep": [str(p) for p in rule.input_files(crate).values()],
        "targets": [str(crate.dir / p) for p in rule.outputs],
        "uptodate": [_flags_checker(rule)],
        "clean": True,
    }


def _flags_checker(rule: Rule) -> Any:
    from rust_hmr.rules.checkers import flags_changed

    return flags_changed({"version": rule.version, "code": rule.code_digest(),
                          "inputs": rule.inputs, "outputs": rule.outputs})


def _run(crate: Crate, rule: Rule) -> TaskFailed | None:
    failed = run_rule(crate, rule)
    return None if failed is None else TaskFailed(failed)


def run_rule(crate: Crate, rule: Rule, report: Callable[[str, str], None] = say,
             quiet_when_unchanged: bool = False) -> str | None:
    """Bring the rule's outputs up to date (from the cache when its inputs were seen
    before); the reason when it failed. `report(stage, line)` gets the progress lines; with
    `quiet_when_unchanged`, nothing is reported when no output changed (the dev loop runs
    every rule before each build)."""
    files = rule.input_files(crate)

    def build() -> dict[str, bytes]:
        report(rule.task_name, f"running {rule.name} on {len(files)} files")
        try:
            made = dict(rule.action({n: p.read_bytes() for n, p in files.items()}))
        except RuleFailed as err:
            raise _Failed(f"rule {rule.name} failed: {err}") from None
        missing = sorted(set(rule.outputs) - set(made))
        extra = sorted(set(made) - set(rule.outputs))
        if missing or extra:
            raise _Failed(f"rule {rule.name} must return exactly its outputs "
                          f"{list(rule.outputs)}" + (f"; missing {missing}" if missing else "")
                          + (f"; not declared {extra}" if extra else ""))
        if not all(isinstance(data, bytes | bytearray) for data in made.values()):
            raise _Failed(f"rule {rule.name} must return bytes for each output")
        return {name: bytes(data) for name, data in made.items()}

    try:
        result = run_cached(crate, rule.task_name, rule.version, toolchain="",
                            flags={"code": rule.code_digest(), "outputs": rule.outputs},
                            inputs=hash_files(files), build=build)
    except _Failed as err:
        return str(err)
    written = [name for name in rule.outputs
               if write_if_changed(crate.dir / name, result.outputs[name])]
    if written or not quiet_when_unchanged:
        how = "from the cache" if result.cached else f"ran in {result.seconds:.2f} s"
        report(rule.task_name, f"{len(rule.outputs)} outputs ({len(written)} written), {how}")
    return None


class _Failed(Exception):
    """A rule's failure on its way out of the cached action."""
