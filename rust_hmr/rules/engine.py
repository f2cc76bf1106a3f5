"""doit's engine in this process: task dicts run through doit's own `TaskControl` and
`Runner`, their state kept in the crate's doit database, with no new process and no dodo.py.

The dev loop runs the hot path's stages (`rules.hot`) this way on every save, so doit decides
which of them are up to date exactly as `doit hot` would from the command line, from the same
database. A run costs about 0.25 ms besides the actions (dispatching, one commit), then about
0.05 ms a task: mostly doit's own up-to-date check.

    db = Database(path)
    ran = db.run([task_dict_or_Task, ...], ["hot:patch"])
    ran.executed      the tasks whose actions ran, in order
    ran.failed        task name -> doit's message

A task that runs on every save can be kept from run to run in a `TaskPool` rather than made
again from its dict each time (20 µs a task, a fifth of the engine's cost).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
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

__all__ = ["Database", "Ran", "TaskPool", "task_name"]


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


def _to_task(source: Mapping[str, Any]) -> Task:
    """The doit Task of a task dict, named as doit's loader names it."""
    task = {k: v for k, v in source.items() if k != "basename"}
    task["name"] = task_name(source)
    return dict_to_task(task)


def _tasks(tasks: Iterable[Mapping[str, Any] | Task]) -> list[Task]:
    return [t if isinstance(t, Task) else _to_task(t) for t in tasks]


def _fresh(task: Task) -> None:
    """Reset what a run leaves on a Task (see doit's `Task.__init__`, `Task.execute` and
    `Dependency.get_status`), so that a kept task runs, or is found up to date, as a new one
    would. The rest of a Task is its definition, and the state of its last run is in the
    database, not on the object."""
    task.executed = False
    task.result = None
    task.values = {}
    task.dep_changed = None
    task._action_instances = None  # the actions hold their last output; made again lazily


class TaskPool:
    """doit Tasks kept from run to run, each under a key that decides everything about it
    (a unit's name and the object it parses, say): the same task dict is not turned into a
    Task again on every save.

    Call `next_run()` before each run. A run keeps the tasks it took and those the run
    before took, so a file saved back and forth between two versions finds both, and the
    pool holds at most two runs' tasks."""

    def __init__(self) -> None:
        self._now: dict[Hashable, Task] = {}
        self._before: dict[Hashable, Task] = {}

    def next_run(self) -> None:
        self._before, self._now = self._now, {}

    def task(self, key: Hashable, make: Callable[[], Mapping[str, Any]]) -> Task:
        """The Task under `key`, reset for this run, or a new one from the dict `make()`."""
        task = self._now.get(key)
        if task is not None:
            return task
        task = self._before.get(key)
        if task is None:
            task = _to_task(make())
        else:
            _fresh(task)
        self._now[key] = task
        return task


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
            # No fsync per commit (4-8 ms on a busy disk), and a commit appends to the
            # write-ahead log rather than making and deleting a journal file (0.19 -> 0.12 ms
            # a run). A state lost to a power cut only makes stages run again: a dev build
            # rewrites the link manifest that hot:compile depends on.
            connection = self._dependency.backend._conn
            connection.execute("PRAGMA journal_mode = WAL")
            connection.execute("PRAGMA synchronous = OFF")
            self._thread = threading.get_ident()
        return self._dependency

    def run(self, tasks: Sequence[Mapping[str, Any] | Task], selected: Sequence[str]) -> Ran:
        """Run the `selected` tasks of `tasks` (dicts or Tasks) and what they depend on, as
        `doit run` would."""
        ran = Ran()
        control = TaskControl(_tasks(tasks))
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
