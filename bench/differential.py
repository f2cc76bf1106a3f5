"""Differential run: a long seeded sequence of edits to an example (examples/interp, or the
three crates of examples/workspace), each patched into the running app and compared with a
fresh build (the method: tests/differential.py).

    .venv/bin/python bench/differential.py [--example interp|workspace] [--edits 60] [--seed 1]
        [--parallel] [--quiet]

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

import interp_edits  # noqa: E402
import workspace_edits  # noqa: E402
from differential import Differential, tally  # noqa: E402

from rust_hmr.toolchain import find_toolchain  # noqa: E402

EXAMPLES = {"interp": interp_edits, "workspace": workspace_edits}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--example", choices=sorted(EXAMPLES), default="interp",
                        help="the example and its catalogue of edits")
    parser.add_argument("--edits", type=int, default=60, help="edits in the sequence")
    parser.add_argument("--seed", type=int, default=1, help="seed of the random sequence")
    parser.add_argument("--parallel", action="store_true",
                        help="build the reference while the live copy rebuilds (faster)")
    parser.add_argument("--quiet", action="store_true", help="only the tally")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        log = None if args.quiet else print
        edits = EXAMPLES[args.example]
        run = Differential(ROOT / "examples" / args.example, Path(tmp), find_toolchain(),
                           edits.WORKLOAD, parallel=args.parallel, log=log)
        outcomes = run.random_walk(edits.CATALOGUE, args.edits, random.Random(args.seed))
        seconds = time.perf_counter() - start
    print(f"\nDifferential run on {args.example}, seed {args.seed}, {seconds:.0f} s")
    print(tally(outcomes))
    if any(o.wrong for o in outcomes):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
