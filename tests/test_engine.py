"""doit's engine in this process (`rust_hmr.rules.engine`): tasks kept in a `TaskPool` from run
to run decide and do exactly what tasks made afresh from their dicts would, and a task made
by doit's delayed creation runs in the same pass as the task it waits for.

The tasks are small real doit tasks over real files: an action that reads a file and writes
what it read, so a stale decision shows as a stale output.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from doit.task import DelayedLoader, Task

from rust_hmr.rules.engine import Database, Ran, TaskPool


class Copies:
    """`copy:<name>` tasks, each copying `in/<name>` to `out/<name>`, and `all`, which
    depends on them and writes their names joined. `log` keeps what every action did."""

    def __init__(self, root: Path, names: list[str]) -> None:
        self.root = root
        self.names = names
        self.log: list[str] = []
        (root / "in").mkdir(parents=True)
        (root / "out").mkdir()
        for name in names:
            self.write(name, f"{name} v1")

    def write(self, name: str, text: str) -> None:
        (self.root / "in" / name).write_text(text)

    def out(self, name: str) -> str:
        return (self.root / "out" / name).read_text()

    def _copy(self, name: str) -> dict[str, str]:
        text = (self.root / "in" / name).read_text()
        (self.root / "out" / name).write_text(text)
        self.log.append(f"copy {name}")
        return {"copied": text}

    def _all(self) -> None:
        self.log.append("all")

    def copy_task(self, name: str) -> dict[str, Any]:
        return {"basename": "copy", "name": name, "actions": [(self._copy, (name,))],
                "file_dep": [str(self.root / "in" / name)]}

    def all_task(self) -> dict[str, Any]:
        return {"basename": "all", "actions": [self._all],
                "task_dep": [f"copy:{n}" for n in self.names],
                "file_dep": [str(self.root / "in" / n) for n in self.names]}

    def dicts(self) -> list[dict[str, Any]]:
        return [*(self.copy_task(n) for n in self.names), self.all_task()]

    def pooled(self, pool: TaskPool) -> list[Task]:
        pool.next_run()
        return [*(pool.task(("copy", n), partial(self.copy_task, n)) for n in self.names),
                pool.task("all", self.all_task)]


def _same(a: Ran, b: Ran) -> None:
    assert (a.executed, sorted(a.up_to_date), a.failed) == (
        b.executed, sorted(b.up_to_date), b.failed)


def test_kept_tasks_decide_and_run_as_new_ones_do(tmp_path: Path) -> None:
    fresh = Copies(tmp_path / "fresh", ["a", "b", "c"])
    kept = Copies(tmp_path / "kept", ["a", "b", "c"])
    fresh_db = Database(tmp_path / "fresh.sqlite3")
    kept_db = Database(tmp_path / "kept.sqlite3")
    pool = TaskPool()
    edits: list[dict[str, str]] = [
        {}, {},                          # the first run does all, the second nothing
        {"b": "b v2"},                   # one input: its copy and `all`
        {"b": "b v1"},                   # back to the old bytes: it runs again
        {"a": "a v2", "c": "c v2"},
        {"c": "c v2"},                   # the same bytes written again: nothing runs
        {"b": "b v3"}, {"b": "b v1"}, {"b": "b v3"},
    ]
    for edit in edits:
        for copies in (fresh, kept):
            for name, text in edit.items():
                copies.write(name, text)
        fresh.log.clear()
        kept.log.clear()
        expected = fresh_db.run(fresh.dicts(), ["all"])
        got = kept_db.run(kept.pooled(pool), ["all"])
        _same(got, expected)
        assert kept.log == fresh.log
        for name in kept.names:  # what ran read the file as it is now
            assert kept.out(name) == fresh.out(name) == (kept.root / "in" / name).read_text()
    assert expected.executed == ["copy:b", "all"]


def test_a_kept_task_is_the_same_object_for_two_runs_then_made_again(tmp_path: Path) -> None:
    copies = Copies(tmp_path, ["a"])
    pool = TaskPool()
    first = copies.pooled(pool)[0]
    assert copies.pooled(pool)[0] is first
    pool.next_run()
    pool.next_run()  # two runs without it: dropped
    assert copies.pooled(pool)[0] is not first


def test_a_kept_task_does_not_carry_its_last_run(tmp_path: Path) -> None:
    copies = Copies(tmp_path, ["a"])
    db = Database(tmp_path / "db.sqlite3")
    pool = TaskPool()
    [task, _] = tasks = copies.pooled(pool)
    db.run(tasks, ["all"])
    assert task.executed and task.values == {"copied": "a v1"}
    again = copies.pooled(pool)
    assert again[0] is task and not task.executed and task.values == {}
    assert db.run(again, ["all"]).executed == []
    assert task.values == {"copied": "a v1"}  # doit's saved values, as for a new Task


def test_delayed_tasks_run_in_the_same_pass_after_the_task_they_wait_for(
        tmp_path: Path) -> None:
    copies = Copies(tmp_path, ["a", "b"])
    db = Database(tmp_path / "db.sqlite3")
    made: list[list[str]] = []

    def first() -> None:
        copies.names = ["a", "b"] if not made else ["b"]  # what `first` found decides

    def later() -> Any:
        made.append(list(copies.names))
        for name in copies.names:
            yield Task(f"copy:{name}", [(copies._copy, (name,))],
                       file_dep=[str(tmp_path / "in" / name)])
        yield Task("all", [copies._all], task_dep=[f"copy:{n}" for n in copies.names])

    def tasks() -> list[Any]:
        return [{"basename": "first", "actions": [first], "uptodate": [False]},
                Task("all", None, loader=DelayedLoader(later, executed="first"))]

    assert db.run(tasks(), ["all"]).executed == ["first", "copy:a", "copy:b", "all"]
    copies.write("a", "a v2")  # no longer among the tasks `first` asks for
    ran = db.run(tasks(), ["all"])
    assert ran.executed == ["first", "all"] and ran.up_to_date == ["copy:b"]
    assert made == [["a", "b"], ["b"]] and copies.out("a") == "a v1"
