"""Differential run: a long seeded sequence of edits to examples/interp, each patched into the
running interpreter and compared with a fresh build (the method: tests/differential.py).

    .venv/bin/python bench/differential.py [--edits 60] [--seed 1] [--parallel] [--quiet]

Prints one line per edit as it goes, then the tally: patched correctly, full reloads (counted by
reason), compile errors, WRONG (each with its call and both answers), and the median patch
latency (write the file -> Project.rebuild() -> Host.apply()). The reference's cargo build runs
after the patch unless --parallel, so the latencies are the live path's alone.
Goal: 0 WRONG.
"""

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from differential import Differential, tally  # noqa: E402
from interp_edits import CATALOGUE, WORKLOAD  # noqa: E402

from rust_hmr.toolchain import find_toolchain  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=60, help="edits in the sequence")
    parser.add_argument("--seed", type=int, default=1, help="seed of the random sequence")
    parser.add_argument("--parallel", action="store_true",
                        help="build the reference while the live copy rebuilds (faster)")
    parser.add_argument("--quiet", action="store_true", help="only the tally")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        log = None if args.quiet else print
        run = Differential(ROOT / "examples" / "interp", Path(tmp), find_toolchain(), WORKLOAD,
                           parallel=args.parallel, log=log)
        outcomes = run.random_walk(CATALOGUE, args.edits, random.Random(args.seed))
        seconds = time.perf_counter() - start
    print(f"\nDifferential run on interp, seed {args.seed}, {seconds:.0f} s")
    print(tally(outcomes))
    if any(o.wrong for o in outcomes):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
