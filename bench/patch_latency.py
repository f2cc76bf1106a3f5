"""Patch latency: from saving a file to the new code answering, against a full reload.

    .venv/bin/python bench/patch_latency.py [--runs 10] [--scale-runs 5] [--modules 10 200]

Part 1, on examples/counter and examples/signals (temporary copies, built once): an edit to one
function body, alternating between two variants so that every save is a real change, N times.
Medians of:
  patch path   write the file -> Project.rebuild() -> Host.apply(patch) -> the call answers
               with the new value. Split into cargo/rustc (patch.timings["cargo"]) and our own
               part (everything else: hashing, parsing, linking, validating, instantiating);
               "link" is rebuild()'s own share of our part, "apply" Host.apply's
  full path    the same kind of edit -> Project.build() -> a new Host (compiled afresh, as a
               page reload would) -> the same call, the app's state lost
  floor        the compiler's own floor: the same edit in a second copy of the crate, built by
               the same cargo with the same flags and a linker that only touches its output
               (interleaved with the patch path, save for save)
  in place     the same floor in the project's own target dir (InPlaceFloor): its launcher
               swapped for one that does nothing, the same cargo, flags and environment
  direct       the patch path's own steps called one after the other, without doit's engine
               (capture, then the patch link): interleaved with the patch path, save for
               save, so "graph cost" is what running the steps as doit stages adds
Part 2: generated std-only crates of 10 and 200 modules (each module a few functions and a
static), built once each; then one module's function is edited M times. Our own part's median
for both sizes and their ratio: a patch should cost what the edit touches, not the app's size.
Goals: our part < 30 ms median on counter; the patch path <= 1/3 of the full path; our part
grows < 1.5x from 10 to 200 modules.
"""

import argparse
import dataclasses
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from rust_hmr import CompileError, FullReload, Patch, Project
from rust_hmr.atomic import write_atomic
from rust_hmr.cargo_build import build_wasm
from rust_hmr.host import Host
from rust_hmr.rules.patch_link import link_changes
from rust_hmr.toolchain import find_toolchain

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Case:
    """An edit to one function body: `variants[0]` is the source's text, `variants[1]` the
    other one. `answer(host, fresh)` makes the call that shows which variant runs (`fresh`: a
    new Host whose app has not started yet); `expected[i]` is its answer under variant i."""

    example: str
    file: str
    variants: tuple[str, str]
    answer: Callable[[Host, bool], object]
    expected: tuple[object, object]
    setup: Callable[[Host], object] = lambda host: None
    shared: tuple[str, ...] = ()  # examples the crate depends on by path, copied beside it


def counter_answer(host: Host, fresh: bool) -> object:
    return host.call("preview_add", 5)


def signals_answer(host: Host, fresh: bool) -> object:
    if fresh:
        host.call("app_init")
    host.call("app_click")  # a render, with the current `view`
    text = host.read_str(host.call("app_render_ptr"), host.call("app_render_len"))
    return text.split(",")[0]


CASES = [
    Case("counter", "lib.rs", ("    get() + n\n", "    get() + n * 2\n"), counter_answer,
         (5, 10)),
    Case("signals", "app.rs", ('format!("Hello, {}! count = {}", name, count)',
                               'format!("Hi, {}! count = {}", name, count)'),
         signals_answer, ("Hello", "Hi"), setup=lambda host: host.call("app_init"),
         shared=("reactive",)),
]


@dataclass
class Samples:
    cargo: list[float] = field(default_factory=list)
    link: list[float] = field(default_factory=list)
    apply: list[float] = field(default_factory=list)
    ours: list[float] = field(default_factory=list)
    total: list[float] = field(default_factory=list)
    full: list[float] = field(default_factory=list)
    floor: list[float] = field(default_factory=list)
    floor_in_place: list[float] = field(default_factory=list)
    direct: list[float] = field(default_factory=list)
    # patch path minus cargo's own run, through the graph and direct, save by save
    graph_ours: list[float] = field(default_factory=list)
    direct_ours: list[float] = field(default_factory=list)
    patch_bytes: list[int] = field(default_factory=list)


def ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


def replace(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    if text.count(old) != 1:
        raise SystemExit(f"{path}: {old!r} occurs {text.count(old)} times")
    path.write_text(text.replace(old, new))


def describe(result: object) -> str:
    if isinstance(result, FullReload):
        return f"FullReload: {result.reason}"
    if isinstance(result, CompileError):
        return f"CompileError:\n{result.stderr}"
    return repr(result)[:200]


class Editor:
    """Saves one file, alternating between two variants of one piece of text."""

    def __init__(self, path: Path, variants: tuple[str, str]) -> None:
        self.path = path
        self.variants = variants
        self.current = 0

    def save_next(self) -> int:
        new = 1 - self.current
        replace(self.path, self.variants[self.current], self.variants[new])
        self.current = new
        return new


def direct_rebuild(project: Project) -> Patch | FullReload | CompileError:
    """`Project.rebuild()`'s steps without the stage graph: what it was before the hot path
    ran through doit (the sources, cargo through the shim, the patch link)."""
    symbols, ledger = project.live_state()
    sources = project.take_sources()
    start = time.perf_counter()
    try:
        manifest = project.capture()
    except CompileError as err:
        return err
    cargo = time.perf_counter() - start
    result = link_changes(project, manifest, symbols, ledger, sources)
    timings = {"cargo": cargo, "link": time.perf_counter() - start - cargo}
    return dataclasses.replace(result, timings=timings)


def patch_once(project: Project, host: Host, editor: Editor,
               answer: Callable[[], object], expected: tuple[object, object],
               samples: Samples, rebuild: Callable[[], object] | None = None) -> float:
    """One save through the patch path, timed from the write to the new answer (seconds;
    with `rebuild`, that one instead of `project.rebuild`, and nothing recorded)."""
    start = time.perf_counter()
    variant = editor.save_next()
    result = project.rebuild() if rebuild is None else rebuild()
    if not isinstance(result, Patch) or not result.functions:
        raise SystemExit(f"{editor.path.name}: expected a patch, got {describe(result)}")
    applied = time.perf_counter()
    host.apply(result)
    apply = time.perf_counter() - applied
    got = answer()
    total = time.perf_counter() - start
    if got != expected[variant]:
        raise SystemExit(f"{editor.path.name}: after patch {result.id} the app answers "
                         f"{got!r}, expected {expected[variant]!r}")
    if rebuild is not None:
        return total
    samples.cargo.append(result.timings["cargo"])
    samples.link.append(result.timings.get("link", 0.0))
    samples.apply.append(apply)
    samples.ours.append(total - result.timings["cargo"])
    samples.total.append(total)
    samples.patch_bytes.append(len(result.module))
    return total


NULL_LINKER = """#!/bin/sh
# A linker that links nothing: it only makes the output file cargo expects.
while [ $# -gt 0 ]; do
    if [ "$1" = -o ]; then : > "$2"; fi
    shift
done
"""


class NullLinkedCopy:
    """A copy of the crate in `tmp` (its target dir left out), built once, then again on each
    `build()`, by the same cargo with a linker that does nothing: the compiler's floor."""

    def __init__(self, source: Path, tmp: Path) -> None:
        self.crate = Path(shutil.copytree(source, tmp / f"{source.name}-floor",
                                          ignore=shutil.ignore_patterns("target")))
        self.linker = tmp / "null-linker"
        self.linker.write_text(NULL_LINKER)
        self.linker.chmod(0o755)
        self.toolchain = find_toolchain()
        self.build()

    def build(self) -> float:
        return build_wasm(self.crate, "dev", self.toolchain, linker=self.linker).seconds


class Floor(NullLinkedCopy):
    """The same edits in a copy of the crate, built with a linker that does nothing."""

    def __init__(self, source: Path, tmp: Path, case: Case) -> None:
        super().__init__(source, tmp)
        self.editor = Editor(self.crate / "src" / case.file, case.variants)

    def save_and_build(self) -> float:
        start = time.perf_counter()
        self.editor.save_next()
        self.build()
        return time.perf_counter() - start


class InPlaceFloor:
    """The floor in the project's own target dir: the launcher at the same `-C linker` path
    swapped for one that does nothing, then the same cargo with the same flags and
    environment, so cargo's fingerprints and rustc's incremental state are the project's
    own (a second copy's target dir never had the dev build's history). Each sample saves
    the next variant and builds; a second build puts the project's variant back, so the patch
    path's next save recompiles for real. The launcher is restored whatever happens."""

    NOTHING = "#!/bin/sh\nexit 0\n"  # not even the output: capture mode writes none either

    def __init__(self, project: Project, editor: Editor) -> None:
        self.project = project
        self.editor = editor
        self.launcher = project.target_dir / "rust-hmr-linker"

    def _build(self) -> None:
        project = self.project
        build_wasm(project.path, project.profile, project.toolchain,
                   target_dir=project.target_dir, linker=self.launcher,
                   extra_env={**project.cargo_env, **project.shim_env("capture")})

    def save_and_build(self) -> float:
        real = self.launcher.read_text()
        write_atomic(self.launcher, self.NOTHING, executable=True)
        try:
            start = time.perf_counter()
            self.editor.save_next()
            self._build()
            seconds = time.perf_counter() - start
            self.editor.save_next()
            self._build()
        finally:
            write_atomic(self.launcher, real, executable=True)
        return seconds


def run_case(case: Case, tmp: Path, runs: int) -> Samples:
    crate = Path(shutil.copytree(ROOT / "examples" / case.example, tmp / case.example,
                                 ignore=shutil.ignore_patterns("target")))
    for name in case.shared:  # `../<name>` from the crate and from its floor copy alike
        shutil.copytree(ROOT / "examples" / name, tmp / name,
                        ignore=shutil.ignore_patterns("target"), dirs_exist_ok=True)
    project = Project(crate)
    host = Host(project.build())
    case.setup(host)
    editor = Editor(crate / "src" / case.file, case.variants)
    floor = Floor(crate, tmp, case)
    in_place = InPlaceFloor(project, editor)
    samples = Samples()
    answer = lambda: case.answer(host, False)  # noqa: E731
    for _ in range(runs):
        total = patch_once(project, host, editor, answer, case.expected, samples)
        samples.graph_ours.append(total - project.cargo_seconds)
        samples.floor.append(floor.save_and_build())
        samples.floor_in_place.append(in_place.save_and_build())
        total = patch_once(project, host, editor, answer, case.expected, samples,
                           lambda: direct_rebuild(project))
        samples.direct.append(total)
        samples.direct_ours.append(total - project.cargo_seconds)
    for _ in range(runs):
        start = time.perf_counter()
        variant = editor.save_next()
        fresh = Host(project.build(), use_cache=False)
        got = case.answer(fresh, True)
        samples.full.append(time.perf_counter() - start)
        if got != case.expected[variant]:
            raise SystemExit(f"{case.example}: after a full build the app answers {got!r}, "
                             f"expected {case.expected[variant]!r}")
    return samples


# Part 2: generated crates

CARGO_TOML = """[package]
name = "{name}"
version = "0.1.0"
edition = "2021"
publish = false

[lib]
crate-type = ["cdylib"]

[dependencies]
"""

MODULE_RS = """//! Generated module {i}: a few functions and a static.

use std::sync::atomic::{{AtomicI32, Ordering}};

static TOTAL: AtomicI32 = AtomicI32::new({i});

pub fn step(n: i32) -> i32 {{
    n + 1
}}

pub fn bump(n: i32) -> i32 {{
    TOTAL.fetch_add(step(n), Ordering::SeqCst) + step(n)
}}

pub fn describe(n: i32) -> String {{
    format!("module {i}: {{}}", bump(n))
}}

pub fn run(n: i32) -> i32 {{
    describe(n).len() as i32 + TOTAL.load(Ordering::SeqCst)
}}
"""

LIB_RS = """//! Generated crate of {count} modules.

{mods}

/// `step(n)` of module `module`.
#[no_mangle]
pub extern "C" fn probe(module: i32, n: i32) -> i32 {{
    match module {{
{probe_arms}
        _ => -1,
    }}
}}

/// `run(n)` of module `module`.
#[no_mangle]
pub extern "C" fn run(module: i32, n: i32) -> i32 {{
    match module {{
{run_arms}
        _ => -1,
    }}
}}
"""

STEP_VARIANTS = ("    n + 1\n", "    n + 2\n")


def generate_crate(root: Path, modules: int) -> Path:
    crate = root / f"gen{modules}"
    (crate / "src").mkdir(parents=True)
    (crate / "Cargo.toml").write_text(CARGO_TOML.format(name=f"gen{modules}"))
    for i in range(modules):
        (crate / "src" / f"m{i:03}.rs").write_text(MODULE_RS.format(i=i))
    (crate / "src" / "lib.rs").write_text(LIB_RS.format(
        count=modules,
        mods="\n".join(f"mod m{i:03};" for i in range(modules)),
        probe_arms="\n".join(f"        {i} => m{i:03}::step(n)," for i in range(modules)),
        run_arms="\n".join(f"        {i} => m{i:03}::run(n)," for i in range(modules)),
    ))
    return crate


def run_scale(modules: int, tmp: Path, runs: int) -> tuple[Samples, float]:
    crate = generate_crate(tmp, modules)
    start = time.perf_counter()
    project = Project(crate)
    host = Host(project.build())
    built = time.perf_counter() - start
    target = modules // 2
    for k in range(modules):  # the app runs: every module's static moves
        host.call("run", k, 1)
    editor = Editor(crate / "src" / f"m{target:03}.rs", STEP_VARIANTS)
    samples = Samples()
    for _ in range(runs):
        patch_once(project, host, editor, lambda: host.call("probe", target, 10), (11, 12),
                   samples)
    if host.call("probe", 0, 10) != 11 or host.call("run", 0, 1) <= 0:
        raise SystemExit(f"gen{modules}: the untouched modules changed")
    return samples, built


def graph_cost(s: Samples) -> float:
    """What running the steps as doit stages adds, ms: the median of the paired differences
    of the patch path and the direct path, cargo's own run taken out of each."""
    return statistics.median(g - d for g, d in zip(s.graph_ours, s.direct_ours,
                                                   strict=True)) * 1000


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="saves per example and path")
    parser.add_argument("--scale-runs", type=int, default=5, help="saves per generated crate")
    parser.add_argument("--modules", type=int, nargs=2, default=[10, 200],
                        metavar=("SMALL", "LARGE"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        results = {case.example: run_case(case, Path(tmp), args.runs) for case in CASES}
        print(f"Part 1: one function body edited, median of {args.runs} saves (ms)")
        print(f"  {'example':<9} {'floor':>7} {'in place':>9} {'cargo':>7} {'link':>7} "
              f"{'apply':>7} {'ours':>7} {'patch path':>11} {'- floor':>8} {'- in place':>11} "
              f"{'full path':>10} {'patch/full':>11} {'patch size':>11}")
        for name, s in results.items():
            ratio = ms(s.total) / ms(s.full)
            print(f"  {name:<9} {ms(s.floor):7.1f} {ms(s.floor_in_place):9.1f} "
                  f"{ms(s.cargo):7.1f} {ms(s.link):7.1f} {ms(s.apply):7.1f} {ms(s.ours):7.1f} "
                  f"{ms(s.total):11.1f} {ms(s.total) - ms(s.floor):+8.1f} "
                  f"{ms(s.total) - ms(s.floor_in_place):+11.1f} {ms(s.full):10.1f} "
                  f"{ratio:11.2f} {statistics.median(s.patch_bytes) / 1000:9.1f} KB")
        print("  (floor: a copy of the crate built with a linker that does nothing; in place:"
              " the project's own\n  target dir, its launcher swapped for one that does "
              "nothing)")
        print(f"\n  {'example':<9} {'direct':>7} {'patch path':>11} {'direct, no cargo':>17} "
              f"{'graph, no cargo':>16} {'graph cost':>11}")
        for name, s in results.items():
            print(f"  {name:<9} {ms(s.direct):7.1f} {ms(s.total):11.1f} "
                  f"{ms(s.direct_ours):17.1f} {ms(s.graph_ours):16.1f} "
                  f"{graph_cost(s):+11.1f}")
        print("  (direct: the same steps without doit's engine, save for save with the patch "
              "path; graph cost: the\n  median of the paired differences with cargo's own "
              "run taken out of both)")

        small, large = args.modules
        scale = {n: run_scale(n, Path(tmp), args.scale_runs) for n in (small, large)}
        print(f"\nPart 2: generated crates, one module's function edited, median of "
              f"{args.scale_runs} saves (ms)")
        print(f"  {'modules':>7} {'first build':>12} {'cargo':>7} {'link':>7} {'apply':>7} "
              f"{'ours':>7} {'patch size':>11}")
        for n, (s, built) in scale.items():
            print(f"  {n:>7} {built * 1000:12.0f} {ms(s.cargo):7.1f} {ms(s.link):7.1f} "
                  f"{ms(s.apply):7.1f} {ms(s.ours):7.1f} "
                  f"{statistics.median(s.patch_bytes) / 1000:9.1f} KB")
        growth = ms(scale[large][0].ours) / ms(scale[small][0].ours)
        print(f"  our part, {large} vs {small} modules: {growth:.2f}x")

        counter = results["counter"]
        print("\nGoals")
        for label, floor_samples in (("floor", counter.floor),
                                     ("floor in place", counter.floor_in_place)):
            over = ms(counter.total) - ms(floor_samples)
            print(f"  patch path <= {label} + 10 ms on counter: {label} {over:+.1f} ms, "
                  f"{verdict(over <= 10)}")
        graph = graph_cost(counter)
        print(f"  the stage graph costs at most 5 ms on counter (paired): {graph:+.1f} ms, "
              f"{verdict(graph <= 5)}")
        print(f"  our part < 30 ms median on counter: {ms(counter.ours):.1f} ms, "
              f"{verdict(ms(counter.ours) < 30)}")
        for name, s in results.items():
            ratio = ms(s.total) / ms(s.full)
            print(f"  patch path <= 1/3 of the full path ({name}): {ratio:.2f}, "
                  f"{verdict(ratio <= 1 / 3)}")
        print(f"  our part grows < 1.5x from {small} to {large} modules: {growth:.2f}x, "
              f"{verdict(growth < 1.5)}")


if __name__ == "__main__":
    main()
