"""Prepare alone on a generated app: each step, medians of several runs.

    .venv/bin/python bench/prepare_large.py [--modules 150] [--runs 5] [--keep DIR] [--profile]

Builds the bench/gen_app.py crate of N modules once (`Project.build()`, in a temporary
directory, or in DIR with --keep, where a later run finds it built), then times what
`Project.build()` does after the link, on its linked module: the hot set (the hot objects'
function names), `prepare_module`'s steps, and writing the symbol map. Prints the medians, the
blake3 of the prepared module and of the symbol map's bytes (equal before and after a change
that must not change the output), and with --profile the functions cProfile finds the most
time in. Goal: the whole of it under 1 s for 150 modules.
"""

import argparse
import cProfile
import pstats
import statistics
import tempfile
import time
from pathlib import Path

import blake3
from gen_app import generate

from rust_hmr import Project
from rust_hmr.prepare import PreparedModule, hot_names, prepare_module
from rust_hmr.shim import LinkManifest


def built(root: Path, modules: int) -> Project:
    crate = root / f"gen{modules}"
    project = Project(crate if crate.exists() else generate(root, modules))
    project.build()
    return project


def prepare_once(project: Project, data: bytes, manifest: LinkManifest,
                 dump_to: Path) -> tuple[PreparedModule, dict[str, float]]:
    start = time.perf_counter()
    hot = hot_names(Path(o.stored) for o in manifest.hot_objects)
    hot_s = time.perf_counter() - start
    prepared = prepare_module(data, hot, reserve_pages=project.reserve_pages,
                              spare_slots=project.spare_slots, app_exports=manifest.exported)
    start = time.perf_counter()
    prepared.symbols.dump(dump_to)
    steps = {"hot set": hot_s, **prepared.timings, "dump": time.perf_counter() - start}
    steps["total"] = sum(steps.values())
    return prepared, steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modules", type=int, default=150)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="build the crate here, or reuse it")
    parser.add_argument("--profile", action="store_true", help="print cProfile's top functions")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        project = built(args.keep or Path(tmp), args.modules)
        manifest = LinkManifest.load(project.manifest_path)
        data = Path(manifest.output).read_bytes()
        profile = cProfile.Profile() if args.profile else None
        parts: dict[str, list[float]] = {}
        for _ in range(args.runs):
            if profile is not None:
                profile.enable()
            prepared, steps = prepare_once(project, data, manifest, Path(tmp) / "symbols")
            if profile is not None:
                profile.disable()
            for step, seconds in steps.items():
                parts.setdefault(step, []).append(seconds)
        symbols = (Path(tmp) / "symbols").read_bytes()
    print(f"gen{args.modules}: {len(data) / 1e6:.1f} MB linked, "
          f"{len(prepared.symbols.functions)} functions, {len(prepared.symbols.hot)} hot; "
          f"median of {args.runs}")
    for step, values in parts.items():
        print(f"  {step:<12} {statistics.median(values) * 1000:8.1f} ms")
    verdict = "met" if statistics.median(parts["total"]) < 1.0 else "NOT met"
    print(f"  goal < 1000 ms: {verdict}")
    print(f"  module blake3  {blake3.blake3(prepared.data).hexdigest()}")
    print(f"  symbols blake3 {blake3.blake3(symbols).hexdigest()}")
    if profile is not None:
        pstats.Stats(profile).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
