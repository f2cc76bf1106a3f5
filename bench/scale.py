"""How the patch path, the full path, prepare and wasmtime's compile grow with the app's size.

    .venv/bin/python bench/scale.py [--sizes 10 50 150] [--runs 5] [--full-runs 3]
        [--memory-patches 20] [--plot docs/scale.png]

For each size, a crate from bench/gen_app.py (N modules of traits, generics, a static and two
thread-locals), built once; then, medians of interleaved runs:
  patch path    write -> Project.rebuild() -> Host.apply() -> the new answer
  floor         the same edit in a copy of the crate, built by the same cargo with a linker that
                does nothing (patch_latency.Floor), save for save with the patch path
  in place      the same floor in the project's own target dir, its launcher swapped for one
                that does nothing (patch_latency.InPlaceFloor)
  link+apply    the patch path minus cargo's share: our own part
  full path     the same edit -> Project.build() -> a new Host, compiled afresh
  prepare       Project.build()'s step after cargo: the hot set (the crate's objects' function
                names), prepare_module's steps, writing the symbol map
  compile       wasmtime compiling the prepared module and the plain cargo output, with
                Cranelift's default opt level ("speed") and "none" (the Host's fast mode)
  memory        the resident size of a dev process (Project.build(), prepare included, then
                Project.rebuild() only, as the dev server runs them) after M patches of the
                largest app, and its peak (prepare's)
Prints one table and, with matplotlib installed (the `bench` extra), writes the plot.
"""

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import wasmtime
from gen_app import STEP_VARIANTS, generate, module_file
from patch_latency import Case, Editor, Floor, InPlaceFloor, Samples, patch_once

from rust_hmr import Patch, Project
from rust_hmr.host import Host
from rust_hmr.prepare import hot_names, prepare_module
from rust_hmr.shim import LinkManifest

ROOT = Path(__file__).resolve().parent.parent
OPT_LEVELS = ("speed", "none")


@dataclass
class Row:
    """The figures of one size, in milliseconds (memory in MiB)."""

    modules: int
    functions: int = 0
    hot: int = 0
    patch: float = 0.0
    floor: float = 0.0
    floor_in_place: float = 0.0
    ours: float = 0.0
    full: float = 0.0
    prepare: dict[str, float] = field(default_factory=dict)
    compile: dict[str, float] = field(default_factory=dict)
    memory: list[tuple[int, float]] = field(default_factory=list)
    peak: float = 0.0


def ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


def probe_case(target: int) -> Case:
    """The edit of module `target`'s `step`, as patch_latency's Floor takes it."""
    return Case(f"gen-{target}", module_file(target), STEP_VARIANTS,
                lambda host, fresh: host.call("probe", target, 10), (11, 12))


def patch_and_floor(project: Project, host: Host, crate: Path, tmp: Path, runs: int,
                    full_runs: int, row: Row) -> None:
    target = row.modules // 2
    case = probe_case(target)
    editor = Editor(crate / "src" / case.file, case.variants)
    floor = Floor(crate, tmp, case)
    in_place = InPlaceFloor(project, editor)
    samples = Samples()
    for _ in range(runs):
        patch_once(project, host, editor, lambda: host.call("probe", target, 10),
                   case.expected, samples)
        samples.floor.append(floor.save_and_build())
        samples.floor_in_place.append(in_place.save_and_build())
    row.patch, row.floor, row.ours = ms(samples.total), ms(samples.floor), ms(samples.ours)
    row.floor_in_place = ms(samples.floor_in_place)
    for _ in range(full_runs):  # the full path, after the patches: the same edit, a new Host
        start = time.perf_counter()
        variant = editor.save_next()
        fresh = Host(project.build(), use_cache=False)
        got = fresh.call("probe", target, 10)
        samples.full.append(time.perf_counter() - start)
        if got != case.expected[variant]:
            raise SystemExit(f"gen{row.modules}: a full build answers {got}, expected "
                             f"{case.expected[variant]}")
    row.full = ms(samples.full)


def prepare_parts(project: Project, crate: Path, runs: int, row: Row) -> None:
    """prepare's steps on the linked module of the last build, median of `runs`."""
    manifest = LinkManifest.load(project.manifest_path)
    data = Path(manifest.output).read_bytes()
    objects = [Path(o.stored) for o in manifest.objects]
    parts: dict[str, list[float]] = {}
    for _ in range(runs):
        start = time.perf_counter()
        hot = hot_names(objects)
        hot_s = time.perf_counter() - start
        prepared = prepare_module(data, hot, reserve_pages=project.reserve_pages,
                                  spare_slots=project.spare_slots)
        start = time.perf_counter()
        prepared.symbols.dump(Path(tempfile.gettempdir()) / f"scale-{os.getpid()}.msgpack")
        dump_s = time.perf_counter() - start
        steps = {"hot set": hot_s, **prepared.timings, "dump": dump_s}
        steps["total"] = sum(steps.values())
        for step, seconds in steps.items():
            parts.setdefault(step, []).append(seconds)
    row.prepare = {step: ms(values) for step, values in parts.items()}
    row.functions = len(prepared.symbols.functions)
    row.hot = len(prepared.symbols.hot)


def compile_times(plain: bytes, prepared: bytes, runs: int, row: Row) -> None:
    """wasmtime compiling each module at each opt level, interleaved, median of `runs`."""
    engines = {}
    for level in OPT_LEVELS:
        config = wasmtime.Config()
        config.cranelift_opt_level = level
        engines[level] = wasmtime.Engine(config)
    samples: dict[str, list[float]] = {}
    for _ in range(runs):
        for what, data in (("plain", plain), ("prepared", prepared)):
            for level, engine in engines.items():
                start = time.perf_counter()
                wasmtime.Module(engine, data)
                samples.setdefault(f"{what} {level}", []).append(time.perf_counter() - start)
    row.compile = {key: ms(values) for key, values in samples.items()}


def rss_mib() -> tuple[float, float]:
    """(resident, peak resident) of this process, MiB."""
    status = Path("/proc/self/status").read_text()
    rss, hwm = (int(re.search(rf"{key}:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
                for key in ("VmRSS", "VmHWM"))
    return rss / 1024, hwm / 1024


def memory_child(crate: Path, patches: int) -> None:
    """In a process of its own: build (cargo finds nothing to do), then `patches` rebuilds of
    alternating edits; prints 'patches rss' lines and 'peak'."""
    project = Project(crate)
    # prepare again, not from the artifact cache: its peak counts
    shutil.rmtree(project.crate.settings.path(crate, "cache_dir"), ignore_errors=True)
    project.build()
    target = int(crate.name.removeprefix("gen")) // 2
    editor = Editor(crate / "src" / module_file(target), STEP_VARIANTS)
    editor.current = 0 if STEP_VARIANTS[0] in editor.path.read_text() else 1
    print(f"0 {rss_mib()[0]:.1f}", flush=True)
    for k in range(1, patches + 1):
        editor.save_next()
        result = project.rebuild()
        if not isinstance(result, Patch) or not result.functions:
            raise SystemExit(f"patch {k}: {result!r}"[:300])
        if k % 10 == 0 or k == patches or k == 1:
            print(f"{k} {rss_mib()[0]:.1f}", flush=True)
    print(f"peak {rss_mib()[1]:.1f}", flush=True)


def memory(crate: Path, patches: int, row: Row) -> None:
    proc = subprocess.run([sys.executable, __file__, "--memory-child", str(crate),
                           "--memory-patches", str(patches)], capture_output=True, text=True,
                          check=False)
    if proc.returncode != 0:
        raise SystemExit(f"memory run failed:\n{proc.stdout}\n{proc.stderr}")
    for line in proc.stdout.split("\n"):
        key, _, value = line.partition(" ")
        if key == "peak":
            row.peak = float(value)
        elif key.isdigit():
            row.memory.append((int(key), float(value)))


def measure(modules: int, tmp: Path, args: argparse.Namespace, last: bool) -> Row:
    row = Row(modules)
    crate = generate(tmp, modules)
    project = Project(crate)
    build = project.build()
    host = Host(build)
    for k in range(modules):  # the app runs: every module's static and thread-locals move
        host.call("run", k, 1)
    patch_and_floor(project, host, crate, tmp, args.runs, args.full_runs, row)
    prepare_parts(project, crate, args.prepare_runs, row)
    build = project.build()  # the last full build's files (cargo has nothing to do)
    compile_times(build.linked_path.read_bytes(), build.module_path.read_bytes(),
                  args.compile_runs, row)
    if last and args.memory_patches:
        memory(crate, args.memory_patches, row)
    return row


def print_table(rows: list[Row], args: argparse.Namespace) -> None:
    print(f"\nmedians: {args.runs} saves (patch path and floor interleaved), "
          f"{args.full_runs} full builds, {args.prepare_runs} prepares, {args.compile_runs} "
          "compiles of each module at each level (interleaved); ms unless noted")
    head = ["figure", *(f"{r.modules} modules" for r in rows)]
    lines: list[list[str]] = [
        ["functions (hot)", *(f"{r.functions:,} ({r.hot:,})" for r in rows)],
        ["patch path (rebuild + apply)", *(f"{r.patch:,.0f}" for r in rows)],
        ["floor (cargo, null linker)", *(f"{r.floor:,.0f}" for r in rows)],
        ["patch / floor", *(f"{r.patch / r.floor:.2f}" for r in rows)],
        ["floor in place (own target dir)", *(f"{r.floor_in_place:,.0f}" for r in rows)],
        ["patch / floor in place", *(f"{r.patch / r.floor_in_place:.2f}" for r in rows)],
        ["our link + apply", *(f"{r.ours:,.1f}" for r in rows)],
        ["full path (build + new Host)", *(f"{r.full:,.0f}" for r in rows)],
    ]
    for step in rows[0].prepare:
        lines.append([f"prepare: {step}", *(f"{r.prepare[step]:,.0f}" for r in rows)])
    for key in rows[0].compile:
        lines.append([f"wasmtime compile, {key}", *(f"{r.compile[key]:,.0f}" for r in rows)])
    for level in OPT_LEVELS:
        lines.append([f"compile prepared / plain ({level})", *(
            f"{r.compile[f'prepared {level}'] / r.compile[f'plain {level}']:.2f}x"
            for r in rows)])
    for r in rows:
        if r.memory:
            trail = ", ".join(f"{n}: {mib:.0f}" for n, mib in r.memory)
            lines.append([f"dev process RSS MiB after N patches ({r.modules} modules)",
                          *[""] * (len(rows) - 1), f"{trail}; peak {r.peak:.0f}"])
    widths = [max(len(x[i]) for x in [head, *lines]) for i in range(len(head))]
    for line in [head, ["-" * w for w in widths], *lines]:
        print("  ".join(cell.rjust(w) if i else cell.ljust(w)
                        for i, (cell, w) in enumerate(zip(line, widths, strict=True))))
    largest = rows[-1]
    for label, floor in (("floor", largest.floor), ("floor in place", largest.floor_in_place)):
        ratio = largest.patch / floor
        print(f"goal: patch path <= 1.02x the {label} ({largest.modules} modules): "
              f"{ratio:.3f}x, {'met' if ratio <= 1.02 else 'NOT met'}")


def plot(rows: list[Row], path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed (pip install -e '.[bench]'): no plot")
        return
    sizes = [r.modules for r in rows]
    series = {
        "patch path": [r.patch for r in rows],
        "floor (cargo, null linker)": [r.floor for r in rows],
        "our link + apply": [r.ours for r in rows],
        "full path": [r.full for r in rows],
        "prepare": [r.prepare["total"] for r in rows],
        "compile prepared (speed)": [r.compile["prepared speed"] for r in rows],
        "compile plain (speed)": [r.compile["plain speed"] for r in rows],
        "compile prepared (none)": [r.compile["prepared none"] for r in rows],
    }
    fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
    for label, values in series.items():
        ax.plot(sizes, values, marker="o", label=label)
    ax.set_xlabel("modules in the generated app")
    ax.set_ylabel("ms (median)")
    ax.set_yscale("log")
    ax.set_title("rust-hmr on generated apps (bench/scale.py)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    print(f"plot: {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 50, 150])
    parser.add_argument("--runs", type=int, default=5, help="saves per size")
    parser.add_argument("--full-runs", type=int, default=3)
    parser.add_argument("--prepare-runs", type=int, default=3)
    parser.add_argument("--compile-runs", type=int, default=3)
    parser.add_argument("--memory-patches", type=int, default=20,
                        help="patches of the largest app for the memory figure (0: skip)")
    parser.add_argument("--plot", type=Path, default=None, help="write the PNG plot here")
    parser.add_argument("--memory-child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.memory_child, args.memory_patches)
        return
    print(" ".join(["bench/scale.py", *sys.argv[1:]]))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for k, modules in enumerate(sorted(args.sizes)):
            start = time.perf_counter()
            rows.append(measure(modules, Path(tmp), args, k == len(args.sizes) - 1))
            print(f"  {modules} modules measured in {time.perf_counter() - start:.0f} s",
                  flush=True)
            shutil.rmtree(Path(tmp) / f"gen{modules}-floor", ignore_errors=True)
    print_table(rows, args)
    if args.plot:
        plot(rows, args.plot)


if __name__ == "__main__":
    main()
