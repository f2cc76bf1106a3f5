"""Prepare the counter example's debug main module, and start Hosts on it.

    .venv/bin/python bench/prepare.py [--runs 5]

Builds examples/counter through the linker shim in a temporary copy, then times, median of N:
  prepare           the main-module rewrite alone (parse, symbol map, trampolines, reserved
                    room, write), on the ~9 MB linked module
  host, first       a Host whose compiled module is not cached (wasmtime compiles it)
  host, cached      a Host from the compiled-module cache (wasmtime deserialize)
Goals: prepare under 1 s; a cached Host start under 50 ms.
"""

import argparse
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from _timing import median_seconds

from rust_hmr import Project
from rust_hmr._project import defined_function_names
from rust_hmr.host import Host
from rust_hmr.prepare import prepare_module

ROOT = Path(__file__).resolve().parent.parent


def median_ms(fn: Callable[[], object], runs: int) -> float:
    return median_seconds(fn, runs) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        crate = Path(shutil.copytree(ROOT / "examples" / "counter", Path(tmp) / "counter",
                                     ignore=shutil.ignore_patterns("target")))
        build = Project(crate).build()
        linked = build.linked_path.read_bytes()
        hot = {n for o in build.manifest.objects for n in defined_function_names(Path(o.stored))}
        prepare = median_ms(lambda: prepare_module(linked, hot), args.runs)
        caches = iter(range(1_000_000))

        def first_start() -> None:
            Host(build, cache_dir=Path(tmp) / f"cache-{next(caches)}").call("get")

        first = median_ms(first_start, args.runs)
        Host(build, cache_dir=Path(tmp) / "warm")
        cached = median_ms(lambda: Host(build, cache_dir=Path(tmp) / "warm").call("get"),
                           args.runs)
        print(f"counter debug main module: {len(linked) / 1e6:.1f} MB linked, "
              f"{len(build.symbols.hot)} hot functions; median of {args.runs}")
        rows = [("prepare", prepare, 1000.0), ("host start, first compile", first, None),
                ("host start, from cache", cached, 50.0)]
        for label, ms, goal in rows:
            verdict = "" if goal is None else f"  goal < {goal:.0f} ms: " + (
                "met" if ms < goal else "NOT met")
            print(f"  {label:<28} {ms:8.1f} ms{verdict}")


if __name__ == "__main__":
    main()
