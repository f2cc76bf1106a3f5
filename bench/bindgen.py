"""The describe step of wasm-bindgen apps: the main module's glue and a patch's new bindings.

    .venv/bin/python bench/bindgen.py [--runs 7] [--work DIR]

Builds tests/data/bindgen_dev in a copy (kept in `--work` when given, so a second run reuses
the builds): the prepared dev main module A, two patches on it (a new `#[wasm_bindgen] extern`
block, a new closure type), a second full build B after those edits (same dependencies, other
code), and release modules before and after the edits. Then, median of N, interleaved round by
round (each round runs every case once):
  read_bindings cold   an empty describe cache, module A (release: the release module A), in
                       a process that has read nothing before (`forget_process_caches`)
  read_bindings warm   the cache dir as reading A left it, module B (a second full build), in
                       a new process
  main glue            `LiveBindings` (what `rust-hmr dev` does per full build): cold; warm in
                       a new process (a restarted `rust-hmr dev`); warm in the same session
                       (the dev server's second full build: A's glue made in this process)
  bundle glue          `bundle_glue` on the release module, in a new process (no cache dir:
                       the bundle's action)
  patch glue           `LiveBindings.patch` of each patch, on a live session of A
  --reference          read_bindings with every describe function run in wasmtime, warm
Wall and CPU (process) time: CPU time shows the work when other jobs share the cores.
Goals: the main glue warm under 150 ms; a patch's new-import glue under 10 ms.
"""

from __future__ import annotations

import argparse
import gc
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rust_hmr import Patch, Project
from rust_hmr.bindgen import read_bindings
from rust_hmr.bindgen._bindings import forget_process_caches
from rust_hmr.bindgen.live import LiveBindings
from rust_hmr.bindgen.served import bundle_glue
from rust_hmr.cargo_build import build_wasm

ROOT = Path(__file__).resolve().parent.parent
CRATE = ROOT / "tests" / "data" / "bindgen_dev"
EXTRA = "    // EXTRA"
EXTERN_EDIT = """
#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = Math)]
    fn hypot(a: f64, b: f64) -> f64;
}
"""
EXTERN_CALL = ('    element("title").set_attribute("data-h", &hypot(3.0, 4.0).to_string())'
               '.unwrap();\n')
CLOSURE_CALL = """    let on_key = Closure::<dyn FnMut(web_sys::KeyboardEvent)>::new(
        |event: web_sys::KeyboardEvent| element("title").set_text_content(Some(&event.key())));
    web_sys::window().unwrap().document().unwrap()
        .add_event_listener_with_callback("keydown", on_key.as_ref().unchecked_ref()).unwrap();
    on_key.forget();
"""
PRELUDE = "use wasm_bindgen::prelude::*;"
NAMES = ("main_a", "main_b", "release_a", "release_b", "patch_extern", "patch_closure")


def build_all(work: Path) -> dict[str, bytes]:
    """The modules, built once into `work` (reused when all are there)."""
    if all((work / f"{n}.wasm").is_file() for n in NAMES):
        return {n: (work / f"{n}.wasm").read_bytes() for n in NAMES}
    crate = work / "bindgen_dev"
    shutil.copytree(CRATE, crate, ignore=shutil.ignore_patterns("target", "Cargo.lock"),
                    dirs_exist_ok=True)  # an earlier run's target dir is reused
    view = crate / "src" / "view.rs"
    project = Project(crate)
    out = {"main_a": project.build().module_path.read_bytes(),
           "release_a": build_wasm(crate, "release").path.read_bytes()}  # type: ignore[union-attr]
    for name, edit in (("patch_extern", lambda s: s.replace(EXTRA, EXTERN_CALL + EXTRA)
                        + EXTERN_EDIT),
                       ("patch_closure", lambda s: s.replace(
                           PRELUDE, PRELUDE + "\nuse wasm_bindgen::JsCast;").replace(
                           EXTRA, CLOSURE_CALL + EXTRA))):
        view.write_text(edit(view.read_text()))
        time.sleep(0.01)
        patch = project.rebuild()
        assert isinstance(patch, Patch) and not patch.empty, patch
        out[name] = patch.module
    out["main_b"] = project.build().module_path.read_bytes()
    out["release_b"] = build_wasm(crate, "release").path.read_bytes()  # type: ignore[union-attr]
    for name, data in out.items():
        (work / f"{name}.wasm").write_bytes(data)
    return out


@dataclass
class Case:
    """One measured thing: `prepare` runs untimed before each call of `run`."""

    label: str
    run: Callable[[Any], object]
    prepare: Callable[[], object] = lambda: None
    goal_ms: float | None = None
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def once(self) -> None:
        state = self.prepare()
        gc.collect()
        start, start_cpu = time.perf_counter(), time.process_time()
        self.run(state)
        self.wall.append(time.perf_counter() - start)
        self.cpu.append(time.process_time() - start_cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--work", type=Path, help="keep the builds here (reused next time)")
    parser.add_argument("--reference", action="store_true",
                        help="also time the describe step all in wasmtime (quick=False)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        m = build_all(work)
        caches = Path(tmp) / "caches"
        counter = iter(range(1_000_000))

        def fresh(seed: Path | None = None) -> Callable[[], Path]:
            def make() -> Path:
                where = caches / str(next(counter))
                if seed is None:
                    where.mkdir(parents=True)
                else:
                    shutil.copytree(seed, where)
                return where
            return make

        seeds: dict[str, Path] = {}
        for kind, module in (("dev", m["main_a"]), ("release", m["release_a"])):
            seeds[kind] = caches / f"seed-{kind}"
            seeds[kind].mkdir(parents=True)
            read_bindings(module, seeds[kind])
        seeds["live"] = caches / "seed-live"
        LiveBindings(m["main_a"], cache_dir=seeds["live"])

        def new_process(make: Callable[[], Any]) -> Callable[[], Any]:
            """`make`, after this process forgets what it read before: a new process."""
            def prepare() -> Any:
                forget_process_caches()
                return make()
            return prepare

        def same_session() -> Path:
            """The dev server's second full build: module A's glue made in this process."""
            forget_process_caches()
            where = fresh()()
            LiveBindings(m["main_a"], cache_dir=where)
            return where

        def patched(name: str) -> Callable[[], LiveBindings]:
            def make() -> LiveBindings:
                live = LiveBindings(m["main_a"], cache_dir=seeds["live"])
                if name == "patch_closure":
                    live.patch(m["patch_extern"])
                return live
            return make

        def reading(name: str, **options: Any) -> Callable[[Path], object]:
            return lambda where: read_bindings(m[name], where, **options)

        cold, warm = new_process(fresh()), {k: new_process(fresh(v)) for k, v in seeds.items()}
        cases = [
            Case("read_bindings release, cold", reading("release_a"), cold),
            Case("read_bindings release, warm", reading("release_b"), warm["release"]),
            Case("read_bindings dev, cold", reading("main_a"), cold),
            Case("read_bindings dev, warm", reading("main_b"), warm["dev"]),
            Case("main glue (dev), cold", lambda c: LiveBindings(m["main_a"], cache_dir=c),
                 cold),
            Case("main glue (dev), warm, new process",
                 lambda c: LiveBindings(m["main_b"], cache_dir=c), warm["live"], 150.0),
            Case("main glue (dev), warm, same session",
                 lambda c: LiveBindings(m["main_b"], cache_dir=c), same_session, 150.0),
            Case("bundle glue (release), new process", lambda _: bundle_glue(m["release_a"]),
                 new_process(lambda: None)),
            Case("patch glue, new extern import", lambda live: live.patch(m["patch_extern"]),
                 patched("patch_extern"), 10.0),
            Case("patch glue, new closure type", lambda live: live.patch(m["patch_closure"]),
                 patched("patch_closure"), 10.0),
        ]
        if args.reference:
            cases += [
                Case("read_bindings release, wasmtime only, warm",
                     reading("release_b", quick=False), warm["release"]),
                Case("read_bindings dev, wasmtime only, warm", reading("main_b", quick=False),
                     warm["dev"]),
            ]
        for round_ in range(args.runs):
            shift = round_ % len(cases)
            for case in cases[shift:] + cases[:shift]:
                case.once()
        sizes = ", ".join(f"{n} {len(m[n]) / 1e6:.1f} MB" for n in ("main_a", "release_a"))
        print(f"tests/data/bindgen_dev ({sizes}); median of {args.runs}, interleaved")
        print(f"  {'':<42} {'wall':>8}    {'cpu':>8}")
        for case in cases:
            ms = statistics.median(case.wall) * 1000
            cpu = statistics.median(case.cpu) * 1000
            verdict = "" if case.goal_ms is None else (
                f"  goal < {case.goal_ms:.0f} ms: " + ("met" if ms < case.goal_ms else "NOT met"))
            print(f"  {case.label:<42} {ms:8.1f} ms {cpu:8.1f} ms{verdict}")

if __name__ == "__main__":
    main()
