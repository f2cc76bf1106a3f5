"""doit's engine in this process: task dicts run through doit's own `TaskControl` and
`Runner`, their state kept in the crate's doit database, with no new process and no dodo.py.

The dev loop runs the hot path's stages (`rules.hot`) this way on every save, so doit decides
which of them are up to date exactly as `doit hot` would from the command line, from the same
database. A run costs a few milliseconds besides the actions (opening and committing the
database, then about 0.1 ms a task).

    db = Database(path)
    ran = db.run([task_dict, ...], ["hot:patch"])
    ran.executed      the tasks whose actions ran, in order
    ran.failed        task name -> doit's message
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from doit.control import TaskControl
from doit.dependency import Dependency, SqliteDB
from doit.exceptions import BaseFail
from doit.reporter import ZeroReporter
from doit.runner import Runner
from doit.task import Task, dict_to_task

from rust_hmr.rules.checkers import Blake3Checker

__all__ = ["Database", "Ran", "task_name"]


def task_name(task: Mapping[str, Any]) -> str:
    """The full name of a task dict as doit's loader makes it: `basename:name`."""
    base = task.get("basename")
    name = task.get("name")
    return f"{base}:{name}" if base and name else str(base or name)


@dataclass
class Ran:
    """What one run did: the tasks that ran, those found up to date, and the failures."""

    executed: list[str] = field(default_factory=list)
    up_to_date: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    internal_error: str = ""


class _Recorder(ZeroReporter):  # type: ignore[misc]
    """A silent reporter that keeps what happened to each task."""

    def __init__(self, ran: Ran) -> None:
        super().__init__(None, {})
        self.ran = ran

    def execute_task(self, task: Task) -> None:
        self.ran.executed.append(task.name)

    def skip_uptodate(self, task: Task) -> None:
        self.ran.up_to_date.append(task.name)

    def add_failure(self, task: Task, fail: BaseFail) -> None:
        self.ran.failed[task.name] = fail.get_msg()

    def runtime_error(self, msg: str) -> None:
        self.ran.internal_error = msg


def _tasks(dicts: Iterable[Mapping[str, Any]]) -> list[Task]:
    tasks = []
    for source in dicts:
        task = {k: v for k, v in source.items() if k != "basename"}
        task["name"] = task_name(source)
        tasks.append(dict_to_task(task))
    return tasks


class _OpenDB(SqliteDB):  # type: ignore[misc]
    """doit's sqlite backend, committed after each run but kept open (with its cache of
    the tasks' states) for the next one."""

    _dirty: set[str]

    def dump(self) -> None:
        for task_id in self._dirty:
            self._conn.execute("insert or replace into doit values (?,?)",
                               (task_id, self.codec.encode(self._cache[task_id])))
        self._conn.commit()
        self._dirty = set()


class _OpenDependency(Dependency):  # type: ignore[misc]
    def close(self) -> None:
        """What the runner calls when it is done: commit, and stay open."""
        self.backend.dump()


class Database:
    """A crate's doit database, open for this process's runs of its tasks.

    Each run commits; the states stay cached in memory, so a run reads the database once per
    task only the first time. sqlite's connection belongs to the thread that opened it: a run
    from another thread (the dev loop's worker threads) opens its own. Another process writing
    the same database meanwhile (`doit` on the command line while a dev server runs) is not
    seen until this one is reopened."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._dependency: Dependency | None = None
        self._thread = 0

    def _open(self) -> Dependency:
        if self._dependency is None or self._thread != threading.get_ident():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._dependency = _OpenDependency(_OpenDB, str(self.path),
                                               checker_cls=Blake3Checker)
            # No fsync per commit (two a save; 4-8 ms each on a busy disk). A state lost to a
            # power cut only makes stages run again: a dev build rewrites the link manifest
            # that hot:compile depends on.
            self._dependency.backend._conn.execute("PRAGMA synchronous = OFF")
            self._thread = threading.get_ident()
        return self._dependency

    def run(self, dicts: Sequence[Mapping[str, Any]], selected: Sequence[str]) -> Ran:
        """Run the `selected` tasks of `dicts` and what they depend on, as `doit run`
        would."""
        ran = Ran()
        control = TaskControl(_tasks(dicts))
        control.process(list(selected))
        Runner(self._open(), _Recorder(ran)).run_all(control.task_dispatcher())
        return ran

    def mark_done(self, dicts: Sequence[Mapping[str, Any]]) -> None:
        """Record the tasks as run now, without running them: their inputs as they are now
        are those their outputs already reflect (as `doit ignore` records a decision)."""
        dependency = self._open()
        for task in _tasks(dicts):
            task.init_options()
            dependency.save_success(task)
        dependency.close()
