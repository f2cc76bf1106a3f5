"""Differential testing of hot patches: a patched app must answer what a fresh build answers.

The method. A private copy of an example crate (the *live* copy) is built once and runs in a
Host; a call history builds up its state. Then edits are applied to the copy, one at a time. After
each edit the live Host is patched (`Project.rebuild()` + `Host.apply()`) and asked a set of
*probes*; a *reference* answers the same probes: a second copy of the crate with the same
sources, built from scratch by `rust_hmr.cargo_build.build_wasm` (cargo's own output: none of the
patch machinery is involved) and run in a new Host that first replays the live Host's whole call
history. Any difference is WRONG. A trap is an answer too: "trap" in the live app where the
reference answered is WRONG, and so is the other way round.

The principle that makes the comparison fair: **what the history does to the state must not
depend on code the edits change.** The live state was built by older code, the reference's by
the newest; if the history's effect depended on the code they differ for a legitimate reason,
and the comparison would blame the patch. So the history and the probes use literal values
(`(def x 5)`, `(push xs 3)`), stores and reads happen in code no edit touches (the special forms,
the counters), and a program reads the same bindings whatever its builtins answer. What
initialisation code registered (the interpreter's builtins and hooks) belongs to the state too:
a builtin added by an edit exists only in the reference until the live app reloads, so a probe
is compared only where both sides agree that the names it calls exist (`Workload.comparable`),
and no edit changes a value that initialisation stores (a hook's captured suffix).

Outcomes, one per edit: a patch that answers right, a full reload (with its reason; the live
side then does what a page reload does: a new build, a new Host, the history replayed), a
compile error (the live app keeps its code and nothing is compared), or WRONG (the edits so far,
the call, both answers). After a WRONG the live side reloads too, so that one bad patch does not
make every later comparison fail.
"""

from __future__ import annotations

import random
import re
import shutil
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from rust_hmr import CompileError, FullReload, Patch, Project
from rust_hmr.cargo_build import CompileError as CargoCompileError
from rust_hmr.cargo_build import build_wasm
from rust_hmr.host import Host, HostError, HostTrap
from rust_hmr.toolchain import Toolchain

Sources = dict[str, str]  # file (under the workload's `files` folder) -> its text
Answer = str  # "ok: <text>", "error: <text>", "trap", or an integer export's value

MANGLED = re.compile(r"_ZN|_R[0-9A-Z]")


# Edits


@dataclass(frozen=True)
class Change:
    """One text replacement in `file`: `old` must occur exactly once (every time, with
    `every`: a rename)."""

    file: str
    old: str
    new: str
    every: bool = False

    def applies(self, text: str) -> bool:
        count = text.count(self.old)
        return count >= 1 if self.every else count == 1

    def apply(self, text: str) -> str:
        return text.replace(self.old, self.new)

    def inverse(self) -> Change:
        return Change(self.file, self.new, self.old, self.every)


@dataclass(frozen=True)
class Edit:
    """An edit as a person makes it: changes saved together (one file or several).

    `kind` names what the edit aims at (a class of patch bug, or plain "body"); `requires` are
    texts that must be in the sources first (a call needs its helper), `keep_while` texts that
    forbid reverting it (the helper stays while something calls it)."""

    name: str
    kind: str
    changes: tuple[Change, ...]
    requires: tuple[tuple[str, str], ...] = ()
    keep_while: tuple[tuple[str, str], ...] = ()
    forbids: tuple[tuple[str, str], ...] = ()

    @property
    def files(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(change.file for change in self.changes))

    def applies(self, sources: Sources) -> bool:
        if any(text not in sources.get(file, "") for file, text in self.requires):
            return False
        if any(text in sources.get(file, "") for file, text in self.forbids):
            return False
        work = dict(sources)
        for change in self.changes:
            if change.file not in work or not change.applies(work[change.file]):
                return False
            work[change.file] = change.apply(work[change.file])
        return True

    def apply(self, sources: Sources) -> Sources:
        if not self.applies(sources):
            raise ValueError(f"edit {self.name!r} does not apply to these sources")
        work = dict(sources)
        for change in self.changes:
            work[change.file] = change.apply(work[change.file])
        return work

    def reverted(self) -> Edit:
        """The edit that takes this one back (the editor's undo of it). Undoing a removal is
        refused while the removed text is there again, or it would be put in twice (the text
        alone: what followed it may have changed since, as when a builtin was added after it)."""
        restored = tuple((c.file, c.old.replace(c.new, "", 1)) for c in self.changes
                         if c.new in c.old and c.new != c.old)
        return Edit(f"revert {self.name}", "revert",
                    tuple(change.inverse() for change in reversed(self.changes)),
                    forbids=self.keep_while + restored)


@dataclass(frozen=True)
class RevertFile:
    """Puts `file` back to the example's original text (made into an Edit when it runs)."""

    file: str


def restore(name: str, current: Sources, wanted: Sources) -> Edit:
    """An edit that puts the files that differ back to `wanted` (a revert of a file to its
    original, or the undo of the last edit)."""
    changes = tuple(Change(file, current[file], wanted[file])
                    for file in sorted(wanted) if current[file] != wanted[file])
    return Edit(name, "revert", changes)


# The app's side


def always(call: str, live: Sources, reference: Sources) -> bool:
    """Every probe is comparable: the app's initialisation registers nothing an edit changes."""
    return True


class App:
    """An interpreter-shaped app in a Host: `alloc`, `free`, `eval`, `result_ptr/len`."""

    def __init__(self, host: Host) -> None:
        self.host = host

    def eval(self, program: str) -> Answer:
        host, data = self.host, program.encode()
        try:
            ptr = host.call("alloc", len(data))
            host.write_bytes(ptr, data)
            code = host.call("eval", ptr, len(data))
            host.call("free", ptr, len(data))
            text = host.read_str(host.call("result_ptr"), host.call("result_len"))
        except HostTrap:
            return "trap"
        except (HostError, UnicodeDecodeError) as err:
            return f"unreadable answer ({type(err).__name__})"
        return f"{'ok' if code == 0 else 'error'}: {text}"

    def counter(self, name: str) -> Answer:
        try:
            return str(self.host.call(name))
        except HostTrap:
            return "trap"


class ExportApp(App):
    """An app driven through its exports: a program is `export arg...` (integers), answered
    with the export's value, or `page:<id>`, the text the app's `render` gives element `id`."""

    def eval(self, program: str) -> Answer:
        name, *args = program.split()
        try:
            if name.startswith("page:"):
                self.host.call("render")
                return f"ok: {self.host.page.get(name.removeprefix('page:'), '(no text)')}"
            return f"ok: {self.host.call(name, *map(int, args))}"
        except HostTrap:
            return "trap"


@dataclass(frozen=True)
class Workload:
    """What the comparison asks an example. `setup`: literal programs that build the state
    before the first edit; `probes`: programs asked after every edit; `counters`: integer
    exports compared after the probes. `comparable(call, live_sources, reference_sources)`:
    whether a probe (or counter) means the same on both sides, given the sources whose
    initialisation made the live state and the reference's sources.

    `crate`: the folder of the example that is built (a workspace's app crate); `files`: the
    folder whose `.rs` files the edits name, relative to it; `app`: how programs are run."""

    setup: tuple[str, ...]
    probes: tuple[str, ...]
    counters: tuple[str, ...]
    comparable: Callable[[str, Sources, Sources], bool] = always
    crate: str = "."
    files: str = "src"
    app: type[App] = App


# Outcomes


Result = Literal["patch", "full-reload", "compile-error"]


@dataclass(frozen=True)
class Mismatch:
    """A WRONG answer: after `edits`, `call` answered `live` in the patched app and
    `reference` in a fresh build."""

    edits: tuple[str, ...]
    call: str
    live: Answer
    reference: Answer

    def __str__(self) -> str:
        shown = list(self.edits[-3:])
        if len(self.edits) > 3:
            shown.insert(0, f"{len(self.edits) - 3} earlier")
        return (f"after [{' ; '.join(shown)}]: {self.call} -> live {self.live!r}, "
                f"reference {self.reference!r}")


@dataclass
class Outcome:
    """What one edit gave. `seconds`: the patch latency (rebuild + apply), for patches."""

    step: int
    edit: str
    result: Result
    reason: str = ""
    seconds: float | None = None
    compared: int = 0
    wrong: list[Mismatch] = field(default_factory=list)

    @property
    def label(self) -> str:
        if self.wrong:
            return "WRONG"
        return {"patch": "patched", "full-reload": "full reload",
                "compile-error": "compile error"}[self.result]

    def __str__(self) -> str:
        text = f"{self.step:3} {self.edit}: {self.label}"
        if self.result == "full-reload":
            text += f" ({self.reason})"
        elif self.result == "patch" and self.wrong:
            text += " (a patch)"
        return text + _listed(self.wrong)


def wrong(outcomes: Iterable[Outcome]) -> list[Mismatch]:
    return [m for outcome in outcomes for m in outcome.wrong]


def tally(outcomes: Sequence[Outcome]) -> str:
    """The counts: patched correctly, full reloads by reason, compile errors, wrong; and the
    median patch latency."""
    labels = Counter(outcome.label for outcome in outcomes)
    reasons = Counter(o.reason for o in outcomes if o.result == "full-reload" and not o.wrong)
    latencies = [o.seconds for o in outcomes if o.seconds is not None]
    lines = [f"{len(outcomes)} edits: {labels['patched']} patched correctly, "
             f"{labels['full reload']} full reloads, {labels['compile error']} compile errors, "
             f"{labels['WRONG']} WRONG"]
    lines += [f"  full reload x{count}: {reason}" for reason, count in reasons.most_common()]
    if latencies:
        lines.append(f"  median patch latency {statistics.median(latencies) * 1000:.0f} ms "
                     f"({len(latencies)} patches)")
    lines += [f"  WRONG at {o.step} {o.edit}:{_listed(o.wrong)}" for o in outcomes if o.wrong]
    return "\n".join(lines)


def _listed(mismatches: Sequence[Mismatch], most: int = 4) -> str:
    text = "".join(f"\n      {m}" for m in mismatches[:most])
    if len(mismatches) > most:
        text += f"\n      ... and {len(mismatches) - most} more"
    return text


def readable(reason: str) -> bool:
    """A reason a user can read: no mangled symbol names."""
    return not MANGLED.search(reason)


# The harness


class Differential:
    """A live copy patched edit after edit, compared with fresh reference builds.

    `parallel`: the reference's cargo build runs while the live copy rebuilds (faster on two
    cores; the patch latencies then include the contention)."""

    def __init__(self, example: Path, work: Path, toolchain: Toolchain, workload: Workload,
                 *, parallel: bool = True, log: Callable[[str], None] | None = None) -> None:
        self.toolchain = toolchain
        self.workload = workload
        self.parallel = parallel
        self.log = log
        ignore = shutil.ignore_patterns("target")
        self.live_dir = Path(shutil.copytree(example, work / "live", ignore=ignore))
        self.ref_dir = Path(shutil.copytree(example, work / "reference", ignore=ignore))
        self.compiled = work / "compiled"  # the reference modules' compiled code, by blake3
        files = self.live_dir / workload.files
        self.original: Sources = {p.relative_to(files).as_posix(): p.read_text()
                                  for p in sorted(files.rglob("*.rs"))
                                  if "target" not in p.relative_to(files).parts}
        self.sources: Sources = dict(self.original)
        self.ref_sources: Sources = dict(self.original)
        self.project = Project(self.live_dir / workload.crate, toolchain=toolchain)
        self.history: list[str] = []  # every program the live app was given, in order
        self.edits: list[str] = []
        self.outcomes: list[Outcome] = []
        self._before_last: Sources = dict(self.original)
        self._reload()
        for program in workload.setup:
            self.app.eval(program)
            self.history.append(program)

    # Steps

    def run(self, edits: Iterable[Edit | RevertFile]) -> list[Outcome]:
        return [self.step(edit) for edit in edits]

    def step(self, edit: Edit | RevertFile) -> Outcome:
        """Applies `edit` to the live copy, patches the live app and compares it."""
        if isinstance(edit, RevertFile):
            edit = self.revert_file(edit.file)
        self.sources = edit.apply(self.sources)
        _write(self.live_dir / self.workload.files, self.sources)
        self.edits.append(edit.name)
        outcome = Outcome(len(self.outcomes) + 1, edit.name, "patch")
        reference = _Background(self._build_reference) if self.parallel else None
        start = time.perf_counter()
        result = self.project.rebuild()
        if isinstance(result, Patch):
            try:
                self.app.host.apply(result)
                outcome.seconds = time.perf_counter() - start
            except HostError as err:
                outcome.wrong.append(self._mismatch("Host.apply(patch)", str(err)[:300],
                                                    "(a fresh build)"))
        elif isinstance(result, FullReload):
            outcome.result, outcome.reason = "full-reload", result.reason
            self._reload()
        else:
            assert isinstance(result, CompileError)
            outcome.result, outcome.reason = "compile-error", _first_error(result.stderr)
            if reference is not None:
                reference.join()
            return self._record(outcome)
        if not outcome.wrong:
            built = reference.join() if reference is not None else self._build_reference()
            if isinstance(built, CargoCompileError):
                outcome.wrong.append(self._mismatch("build", "compiled",
                                                    "compile error: " + _first_error(built.stderr)))
            else:
                self._compare(built, outcome)
        if outcome.wrong:
            self._reload()  # start the next edit from a right app
        return self._record(outcome)

    def random_walk(self, catalogue: Sequence[Edit], count: int, rng: random.Random
                    ) -> list[Outcome]:
        """`count` edits drawn from the catalogue, their reverts and reverts of whole files;
        a compile error is followed by the undo of the edit that caused it."""
        outcomes = []
        for _ in range(count):
            last = self.outcomes[-1] if self.outcomes else None
            if last is not None and last.result == "compile-error":
                edit = restore(f"undo {last.edit}", self.sources, self._before_last)
            else:
                edit = rng.choice(self.candidates(catalogue))
            self._before_last = dict(self.sources)
            outcomes.append(self.step(edit))
        return outcomes

    def candidates(self, catalogue: Sequence[Edit]) -> list[Edit]:
        edits = [e for e in catalogue if e.applies(self.sources)]
        edits += [e.reverted() for e in catalogue if e.reverted().applies(self.sources)]
        edits += [self.revert_file(f) for f in self.sources if self.sources[f] != self.original[f]]
        return edits

    def revert_file(self, file: str) -> Edit:
        wanted = {**self.sources, file: self.original[file]}
        return restore(f"revert {file} to its original", self.sources, wanted)

    # Internals

    def _reload(self) -> None:
        """What a page reload does: a new build, a new Host, the history replayed."""
        self.app = self.workload.app(Host(self.project.build()))
        for program in self.history:
            self.app.eval(program)
        self.state_sources = dict(self.sources)  # whose initialisation made the live state

    def _build_reference(self) -> Path | CargoCompileError:
        sources = dict(self.sources)
        _write(self.ref_dir / self.workload.files, sources, self.ref_sources)
        self.ref_sources = sources
        try:
            return build_wasm(self.ref_dir / self.workload.crate, "dev", self.toolchain).path
        except CargoCompileError as err:
            return err

    def _compare(self, module: Path, outcome: Outcome) -> None:
        workload = self.workload
        probes = [p for p in workload.probes
                  if workload.comparable(p, self.state_sources, self.sources)]
        counters = [c for c in workload.counters
                    if workload.comparable(f"{c}()", self.state_sources, self.sources)]
        live = [self.app.eval(p) for p in probes] + [self.app.counter(c) for c in counters]
        ref = workload.app(Host(_without_custom_sections(module.read_bytes()),
                                cache_dir=self.compiled))
        for program in self.history:
            ref.eval(program)
        expected = [ref.eval(p) for p in probes] + [ref.counter(c) for c in counters]
        self.history += probes
        calls = probes + [f"{c}()" for c in counters]
        outcome.compared = len(calls)
        outcome.wrong += [self._mismatch(call, got, want)
                          for call, got, want in zip(calls, live, expected, strict=True)
                          if got != want]

    def _mismatch(self, call: str, live: Answer, reference: Answer) -> Mismatch:
        return Mismatch(tuple(self.edits), call, live, reference)

    def _record(self, outcome: Outcome) -> Outcome:
        self.outcomes.append(outcome)
        if self.log is not None:
            self.log(str(outcome))
        return outcome


class _Background:
    """A function running on a thread (cargo for the reference, while the live copy builds)."""

    def __init__(self, fn: Callable[[], Path | CargoCompileError]) -> None:
        self._result: Path | CargoCompileError | BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(fn,), daemon=True)
        self._thread.start()

    def _run(self, fn: Callable[[], Path | CargoCompileError]) -> None:
        try:
            self._result = fn()
        except BaseException as err:
            self._result = err

    def join(self) -> Path | CargoCompileError:
        self._thread.join()
        if isinstance(self._result, BaseException) and not isinstance(
                self._result, CargoCompileError):
            raise self._result
        assert self._result is not None
        return self._result


def _write(folder: Path, sources: Sources, previous: Sources | None = None) -> None:
    """Saves the files whose text changed (all that differ from the files on disk)."""
    for file, text in sources.items():
        path = folder / file
        old = previous.get(file) if previous is not None else path.read_text()
        if old != text:
            path.write_text(text)


def _first_error(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith("error")]
    return lines[0] if lines else stderr.strip().splitlines()[-1] if stderr.strip() else ""


def _without_custom_sections(wasm: bytes) -> bytes:
    """The module without its custom sections (DWARF, names): the same code, compiled in half
    the time. Read here with a few lines of our own, so the reference shares no wasm code with
    the patch machinery."""
    out, pos = bytearray(wasm[:8]), 8
    while pos < len(wasm):
        section_id, size, shift, body = wasm[pos], 0, 0, pos + 1
        while True:
            byte = wasm[body]
            body += 1
            size |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                break
        if section_id != 0:
            out += wasm[pos:body + size]
        pos = body + size
    return bytes(out)
