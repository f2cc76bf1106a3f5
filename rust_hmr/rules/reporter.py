"""How a run reads: each stage that runs says what it does, led by its name (cargo's own
progress passed through); stages that are up to date say nothing; one closing line.

Everything goes to stderr, where the stages write while doit captures their stdout, so the
lines arrive in order. A run where everything is up to date prints only `up to date`. Tasks of
a dodo.py's own (those without `meta={"rust_hmr": ...}`) get a start line as doit's console
reporter gives them.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

__all__ = ["StageReporter"]


class StageReporter:
    """A doit reporter (`DOIT_CONFIG["reporter"]`) for the rule set's stages."""

    desc = "rust-hmr stage progress"

    def __init__(self, outstream: TextIO, options: dict[str, Any]) -> None:
        self.stream = sys.stderr
        self.failures: list[tuple[Any, Any]] = []
        self.errors: list[str] = []
        self.ran = 0
        self.uptodate = 0
        self._run_start = time.perf_counter()

    def write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()

    def initialize(self, tasks: Any, selected_tasks: Any) -> None:
        self._run_start = time.perf_counter()

    def get_status(self, task: Any) -> None:
        pass

    def execute_task(self, task: Any) -> None:
        if task.actions and not task.name.startswith("_"):
            self.ran += 1
            if not (task.meta or {}).get("rust_hmr"):
                self.write(f".  {task.title()}\n")

    def add_success(self, task: Any) -> None:
        pass

    def add_failure(self, task: Any, fail: Any) -> None:
        self.failures.append((task, fail))

    def skip_uptodate(self, task: Any) -> None:
        if task.actions:
            self.uptodate += 1

    def skip_ignore(self, task: Any) -> None:
        self.write(f"{task.name:<16} ignored\n")

    def cleanup_error(self, exception: Any) -> None:
        self.write(exception.get_msg())

    def runtime_error(self, msg: str) -> None:
        self.errors.append(msg)

    def teardown_task(self, task: Any) -> None:
        pass

    def complete_run(self) -> None:
        for task, fail in self.failures:
            self.write(f"\nerror in {task.name}: {_message(fail)}\n")
        for msg in self.errors:
            self.write(f"\nerror: {msg}\n")
        if self.failures or self.errors:
            return
        seconds = time.perf_counter() - self._run_start
        if self.ran == 0:
            self.write("up to date\n")
        else:
            ran = f"{self.ran} stage{'s' if self.ran != 1 else ''} ran"
            self.write(f"{ran}, {self.uptodate} up to date, in {seconds:.2f} s\n")


def _message(fail: Any) -> str:
    """A task failure's own message; a traceback only for an unexpected error."""
    from doit.exceptions import TaskFailed

    if isinstance(fail, TaskFailed):
        return str(fail.message).strip()
    return str(fail.get_msg()).strip()
