"""The hot path's stages: what a save runs, as doit tasks.

    hot:compile        cargo through the linker shim in capture mode: the codegen units'
                       objects and the link line (`rust_hmr.shim.capture`)
    hot:unit:<unit>    one per codegen unit: its object parsed for linking, cached by its
                       blake3 (the object store names each object by it)
    hot:patch          the patch link against the live code: a `Patch` or a `FullReload`

`Project.rebuild()` runs them in-process through doit's engine (`rules.engine`), in one
pass: the units are known only once the compile has captured them, so `hot:patch` is made by
doit's delayed task creation, after `hot:compile`, with the units it depends on. So
`rust-hmr dev`, `doit dev` and a `Project` in a script run the same tasks, and doit decides
what is up to date:

- `hot:compile` is up to date while every input of the last compile is as it was: each
  source's blake3 (taken before cargo starts, so a save during the build is never lost), the
  other files and variables the compiler read, the manifests, flags and toolchain, and the
  link manifest is the one it left (a build, or any other compile, rewrites it). Then cargo
  does not start at all.
- A unit is up to date while its object is the one the live code was built from or one parsed
  already: a one-line edit parses the one object it changed.
- `hot:patch` is up to date while the captured link and the ledger (the live code) are as
  they were: nothing differs, so the answer is the empty patch. A patch that can't be made
  fails the task with its reason (a `FullReload`), so the next save asks again.

`doit list` shows these stages for the crate (the units of its last dev build); `doit hot`
links a patch against the last dev build from the command line and keeps it under
`stages/hot/`. A running dev server owns that state: don't run both at once.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from doit.exceptions import TaskFailed
from doit.task import DelayedLoader, Task

from rust_hmr.rules.checkers import file_blake3, flags_changed
from rust_hmr.rules.engine import Database, Ran, TaskPool
from rust_hmr.rules.patch_link import link_changes

if TYPE_CHECKING:
    from rust_hmr._project import Project
    from rust_hmr.cargo_build import CompileError
    from rust_hmr.link import FullReload, Patch
    from rust_hmr.rules.crate import Crate
    from rust_hmr.shim import LinkManifest, ObjectFile

__all__ = ["BASENAME", "COMPILE", "PATCH", "HotPath", "stage_tasks", "unit_task_name"]

BASENAME = "hot"
COMPILE = f"{BASENAME}:compile"
PATCH = f"{BASENAME}:patch"
_UNIT = "unit:"


def unit_task_name(obj: ObjectFile) -> str:
    """`hot:unit:<codegen unit>`: the object's file name, `.rcgu.o` left out (a workspace
    member's unit is `<rlib>(<member>)`)."""
    return f"{BASENAME}:{_UNIT}{_file_name(obj.path).removesuffix('.rcgu.o')}"


def _file_name(path: str) -> str:
    return path.rsplit("/", 1)[-1]  # as Path(path).name, without pathlib's cost (every save)


class _CompileInputs(flags_changed):
    """`flags_changed` over what the compile read, computed when doit asks (before the
    action), so that a file saved while cargo runs is seen by the next save."""

    def __init__(self, hot: HotPath) -> None:
        super().__init__({})
        self.hot = hot

    def _calc_digest(self) -> str:
        self.config = self.hot.compile_inputs()
        return super()._calc_digest()


class HotPath:
    """The hot path of one `Project`: its stages as doit task dicts, and their actions.

    `run()` is `Project.rebuild()`. `ran` keeps what the last run did, task by task. With
    `keep`, a folder, each patch is also written there as `patch-<id>.wasm` and reported on
    stderr (`doit hot` from the command line, where no page takes it)."""

    def __init__(self, project: Project, keep: Path | None = None) -> None:
        self.project = project
        self.keep = keep
        self.ran = Ran()
        self._sources: dict[str, str] | None = None
        self._manifest: LinkManifest | None = None
        self._outcome: Patch | FullReload | CompileError | None = None
        self._raised: BaseException | None = None
        self._timings: dict[str, float] = {}
        self._db: Database | None = None
        self._pool = TaskPool()  # a save's Tasks, kept for the next one (`rules.engine`)
        self._compiled = 0.0  # perf_counter when the compile stage was done

    @property
    def db(self) -> Database:
        """doit's database of the crate, the one `doit` itself uses (opened once)."""
        if self._db is None:
            self._db = Database(self.project.target_dir / "doit.sqlite3")
        return self._db

    # The tasks

    def compile_task(self) -> dict[str, Any]:
        return {
            "basename": BASENAME, "name": "compile",
            "doc": "cargo through the linker shim, capturing the codegen units' objects",
            "actions": [self._compile],
            "uptodate": [_CompileInputs(self)],
            # the link manifest as this stage left it: a build or another compile that
            # rewrote it since makes the stage run again, whatever the sources say
            "file_dep": [str(self.project.manifest_path)],
        }

    def unit_tasks(self, manifest: LinkManifest) -> list[dict[str, Any]]:
        return [self._unit_task(name, obj) for name, obj in _units(manifest).items()]

    def _unit_task(self, name: str, obj: ObjectFile) -> dict[str, Any]:
        return {
            "basename": BASENAME, "name": name.removeprefix(f"{BASENAME}:"),
            "actions": [(self._parse, (obj,))],
            "file_dep": [obj.stored],
        }

    def patch_task(self, manifest: LinkManifest | None) -> dict[str, Any]:
        return {
            "basename": BASENAME, "name": "patch",
            "doc": "link the changed units into a patch against the live code",
            "actions": [self._link],
            "task_dep": [] if manifest is None else list(_units(manifest)),
            "file_dep": [str(self.project.manifest_path), str(self.project.ledger_path)],
        }

    def tasks(self) -> list[dict[str, Any]]:
        """The `hot` group and every stage, the units those of the last dev build (what
        `doit list` shows; a unit new since then is parsed by the patch link itself)."""
        manifest = self.project.last_manifest()
        after = [*([] if manifest is None else self.unit_tasks(manifest)),
                 self.patch_task(manifest)]
        for task in after:  # `run` runs the compile first, and these once it is done
            task["task_dep"] = [COMPILE, *task.get("task_dep", ())]
            task.setdefault("doc", f"codegen unit {task['name'].removeprefix(_UNIT)}, parsed "
                                   "for linking")
        group = {"basename": BASENAME, "name": None,
                 "doc": "the hot path: a patch against the last dev build"}
        return [group, self.compile_task(), *after]

    # Running them

    def run(self) -> Patch | FullReload | CompileError:
        """A save: the stages that are not up to date, then the outcome (see
        `Project.rebuild`)."""
        from rust_hmr.cargo_build import CompileError
        from rust_hmr.link import Patch

        _, ledger = self.project.live_state()  # BuildError when there is no build yet
        start = self._compiled = time.perf_counter()
        self._outcome = self._raised = self._manifest = self._sources = None
        self._pool.next_run()
        later = Task(PATCH, None, loader=DelayedLoader(self._after_compile, executed=COMPILE))
        self.ran = self._run([self._pool.task(COMPILE, self.compile_task), later], PATCH)
        done = time.perf_counter()
        self._timings = {"cargo": self._compiled - start, "link": done - self._compiled}
        if isinstance(self._outcome, CompileError):
            return self._outcome
        if self._outcome is None:  # nothing differs from the last patch's state
            self._outcome = Patch(ledger.patches, b"", ledger_memory_used=ledger.memory_used,
                                  ledger_slots_used=ledger.slots_used)
        return replace(self._outcome, timings={**self._timings,
                                               **self._outcome.timings})

    def _after_compile(self) -> Iterator[Task]:
        """The stages after the compile, which doit makes once it is done: one per unit it
        captured, and the patch link depending on them all. After a failed compile, only
        the patch stage, which then fails for it."""
        self._compiled = time.perf_counter()
        if self._outcome is not None or self._raised is not None:
            yield Task(PATCH, None)
            return
        try:
            manifest = self._manifest or self.project.load_manifest()
        except Exception as err:  # raised by `run`, once doit is done
            self._raised = err
            yield Task(PATCH, None)
            return
        units = _units(manifest)
        for name, obj in units.items():
            yield self._pool.task((name, obj.stored), partial(self._unit_task, name, obj))
        yield self._pool.task((PATCH, *units), partial(self.patch_task, manifest))

    def _run(self, tasks: list[dict[str, Any] | Task], selected: str) -> Ran:
        ran = self.db.run(tasks, [selected])
        if self._raised is not None:
            raise self._raised
        if ran.internal_error:
            from rust_hmr.cargo_build import BuildError

            raise BuildError(f"the hot path's stages could not run: {ran.internal_error}")
        return ran

    def mark_live(self, manifest: LinkManifest) -> None:
        """After a build: the units of the live code need no parsing."""
        self.db.mark_done(self.unit_tasks(manifest))

    def sources(self) -> dict[str, str]:
        """The snapshot of the sources this save compiles (`link.sources`), taken once, when
        doit first asks whether the compile is up to date: before cargo starts."""
        if self._sources is None:
            self._sources = self.project.take_sources()
        return self._sources

    def compile_inputs(self) -> dict[str, Any]:
        """Everything `hot:compile`'s outcome depends on, as it is now."""
        from rust_hmr.rules import compile as compile_stage

        project = self.project
        roots = project.workspace.source_roots
        read = {}
        for path in project.inputs.files:
            if path.suffix == ".rs" and any(path.is_relative_to(r) for r in roots):
                continue  # in the snapshot
            read[str(path)] = _blake3_or_missing(path)
        manifests = [project.workspace.root / "Cargo.lock",
                     *(c.folder / "Cargo.toml" for c in project.workspace.crates)]
        return {
            "toolchain": project.toolchain.fingerprint,
            "flags": compile_stage.flags(project.crate, "dev"),
            "env": {**project.shim_env("capture"), **project.cargo_env,
                    **project.inputs.env_values()},
            "sources": self.sources(),
            "read": read,
            "manifests": {str(p): _blake3_or_missing(p) for p in manifests},
        }

    # The actions: each keeps its outcome, or what it raised, for `run`

    def _compile(self) -> TaskFailed | None:
        from rust_hmr.cargo_build import CompileError

        try:
            self._manifest = self.project.capture()
        except CompileError as err:
            self._outcome = err
            return TaskFailed(f"{err.crate} did not compile:\n{err.stderr}")
        except Exception as err:
            self._raised = err
            return TaskFailed(str(err))
        return None

    def _parse(self, obj: ObjectFile) -> TaskFailed | None:
        try:
            self.project.object_view(obj)
        except Exception as err:
            self._raised = err
            return TaskFailed(str(err))
        return None

    def _link(self) -> TaskFailed | None:
        from rust_hmr.link import FullReload

        try:
            symbols, ledger = self.project.live_state()
            manifest = self._manifest or self.project.load_manifest()
            self._outcome = link_changes(self.project, manifest, symbols, ledger,
                                         self.sources())
        except Exception as err:
            self._raised = err
            return TaskFailed(str(err))
        if isinstance(self._outcome, FullReload):
            return TaskFailed(f"no patch: {self._outcome.reason}")
        if self.keep is not None:
            _keep(self._outcome, self.keep)
        return None


def _keep(patch: Patch, folder: Path) -> None:
    """The patch written into `folder`, and a line about it (`doit hot`)."""
    from rust_hmr.atomic import write_atomic
    from rust_hmr.rules.stage import say

    if patch.empty:
        say(PATCH, "no codegen unit differs from the last dev build: nothing to patch")
        return
    path = folder / f"patch-{patch.id}.wasm"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, patch.module)
    names = ", ".join(patch.changed[:5]) + (" ..." if len(patch.changed) > 5 else "")
    say(PATCH, f"{path.name}: {len(patch.module):,} bytes, {len(patch.objects)} units, "
               f"changed: {names or 'none'}")


def stage_tasks(crate: Crate) -> list[dict[str, Any]]:
    """The hot path's tasks for a dodo.py (`rules.pipeline`): run from the command line,
    they link a patch against the crate's last dev build and keep it in its stage folder."""
    from rust_hmr._project import Project

    return HotPath(Project(crate.dir), keep=crate.stage_dir(BASENAME)).tasks()


def _units(manifest: LinkManifest) -> dict[str, ObjectFile]:
    """The hot units by task name (two objects of one file name, which rustc never makes,
    would share the first one's task: the patch link parses what it needs itself)."""
    units: dict[str, ObjectFile] = {}
    for obj in manifest.hot_objects:
        units.setdefault(unit_task_name(obj), obj)
    return units


def _blake3_or_missing(path: Path) -> str:
    try:
        return file_blake3(path)
    except OSError:
        return "missing"
