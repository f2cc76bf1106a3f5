"""The rule set and the artifact cache: `doit bundle` cold, no-op, and from a remote cache.

    .venv/bin/python bench/cache.py [--runs 5] [--crate counter] [--crate signals]

For each example crate, median of N, each build in a fresh copy of the crate:
  cold bundle        nothing cached anywhere: cargo compiles, every stage runs
  no-op bundle       `doit bundle` again, everything up to date
  cargo no-op        cargo's own `cargo build --release` when nothing changed (the yardstick)
  clean checkout     a fresh copy with an empty local cache, against a remote cache (a real
                     nginx on 127.0.0.1) that an earlier build filled: nothing compiles
Goals: no-op within 0.3 s of cargo's no-op; the clean checkout at least 5 times faster than
cold. Times are wall-clock times of the whole command, Python's start included (with bytecode
caches, as on a developer's machine).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from nginx_server import start_nginx  # noqa: E402

from rust_hmr.cargo_build import build_env  # noqa: E402
from rust_hmr.toolchain import find_toolchain  # noqa: E402

DODO = 'from rust_hmr.rules import crate_tasks\n\nglobals().update(crate_tasks("."))\n'
DOIT_CFG = ("[COMMAND]\nbundle = rust_hmr.rules.commands:BundleCommand\n"
            "dev = rust_hmr.rules.commands:DevCommand\n")
# The examples each crate depends on by path (`../<name>`), copied beside every fresh copy.
SHARED = {"signals": ("reactive",)}
CACHE_ENV = ("RUST_HMR_REMOTE_CACHE", "RUST_HMR_CACHE_TOKEN", "RUST_HMR_CACHE_READ_ONLY",
             "PYTHONDONTWRITEBYTECODE")


class Copies:
    """Fresh copies of one example crate, each with a dodo.py, under one directory."""

    def __init__(self, name: str, where: Path) -> None:
        self.source = ROOT / "examples" / name
        self.where = where
        self.count = 0

    def fresh(self) -> Path:
        self.count += 1
        crate = self.where / f"checkout-{self.count}" / self.source.name
        shutil.copytree(self.source, crate, ignore=shutil.ignore_patterns("target", "dist"))
        for name in SHARED.get(self.source.name, ()):
            shutil.copytree(ROOT / "examples" / name, crate.parent / name,
                            ignore=shutil.ignore_patterns("target"))
        (crate / "dodo.py").write_text(DODO)
        (crate / "doit.cfg").write_text(DOIT_CFG)
        return crate


def env_with(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in CACHE_ENV}
    env.update(extra or {})
    return env


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed in {cwd}:\n{done.stdout}{done.stderr}")
    return seconds


def median(fn: Callable[[], float], runs: int) -> float:
    return statistics.median(fn() for _ in range(runs))


def bench_crate(name: str, runs: int, tmp: Path, remote_url: str, token: str) -> dict[str, float]:
    """The medians for one example crate, by row name."""
    copies = Copies(name, tmp / name)
    doit = [sys.executable, "-m", "doit", "bundle"]
    local = env_with()
    remote = env_with({"RUST_HMR_REMOTE_CACHE": f"{remote_url}/{name}",
                       "RUST_HMR_CACHE_TOKEN": token})
    timed(doit, copies.fresh(), local)  # warm-up: bytecode caches, the OS's file cache

    cold = median(lambda: timed(doit, copies.fresh(), local), runs)

    crate = copies.fresh()
    timed(doit, crate, local)
    noop = median(lambda: timed(doit, crate, local), runs)
    toolchain = find_toolchain()
    cargo = toolchain.cargo_command(
        "build", "--release", "--target", toolchain.target, "--target-dir",
        str(crate / "target" / "rust-hmr"), "--manifest-path", str(crate / "Cargo.toml"))
    cargo_env = build_env(toolchain, "release")
    cargo_noop = median(lambda: timed(cargo, crate, cargo_env), runs)

    timed(doit, copies.fresh(), remote)  # fills the remote cache

    def clean_checkout() -> float:
        fresh = copies.fresh()
        seconds = timed(doit, fresh, remote)
        if (fresh / "target" / "rust-hmr" / toolchain.target).exists():
            raise SystemExit(f"cargo ran in {fresh}: the remote cache did not serve it")
        return seconds

    warm = median(clean_checkout, runs)
    return {"cold": cold, "noop": noop, "cargo_noop": cargo_noop, "gap": noop - cargo_noop,
            "warm": warm, "speedup": cold / warm}


ROWS = [
    ("cold bundle", "cold", "{:.2f} s", None),
    ("no-op bundle", "noop", "{:.2f} s", None),
    ("cargo's own no-op build", "cargo_noop", "{:.2f} s", None),
    ("  no-op gap (goal <= 0.30 s)", "gap", "{:.2f} s", lambda v: v <= 0.3),
    ("clean checkout, warm remote cache", "warm", "{:.2f} s", None),
    ("  faster than cold (goal >= 5x)", "speedup", "{:.1f} x", lambda v: v >= 5),
]


def table(results: dict[str, dict[str, float]], runs: int) -> str:
    names = list(results)
    lines = [f"{f'median of {runs}':<36}" + "".join(f"{n:>12}" for n in names)]
    for label, key, fmt, goal in ROWS:
        cells = []
        for name in names:
            value = results[name][key]
            mark = "" if goal is None else (" ok" if goal(value) else " !!")
            cells.append(f"{fmt.format(value) + mark:>12}")
        lines.append(f"{label:<36}" + "".join(cells))
    lines.append("(ok: goal met, !!: goal missed)")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--crate", action="append", choices=["counter", "signals"],
                        help="example crates to build (default: both)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rust-hmr-bench-") as tmp_dir:
        tmp = Path(tmp_dir)
        server = start_nginx(tmp / "nginx")
        try:
            results = {name: bench_crate(name, args.runs, tmp, server.url, server.token)
                       for name in args.crate or ["counter", "signals"]}
        finally:
            server.stop()
    print(table(results, args.runs))


if __name__ == "__main__":
    main()
