"""Soak of the remote cache: concurrent bundles against a real nginx that is throttled,
frozen, stopped and restarted under them.

    .venv/bin/python bench/remote_soak.py [--seconds 150] [--workers 3]

Each worker bundles copies of examples/counter, one after another, each with an empty local
cache (so every stage asks the remote), through `rust-hmr bundle` with the remote cache set
(workers after the first alternate read-write and read-only). A comment that varies with
the build changes the compile stage's key but not its output, so some builds compile and
then hit the remote for the later stages, and all must give the same dist/. Meanwhile the
server goes through its phases, over and over:

    healthy   full speed
    throttled nginx limit_rate 8k: every answer trickles (a blob takes minutes)
    frozen    SIGSTOP: connections are accepted and never answered
    down      stopped: connection refused
    (back)    started again on the same port, with what it had stored

Printed: builds done and failed, wrong outputs (dist/ that differs from a reference bundle
made without any remote: must be 0), warnings, and the time lost to the remote: a build's
time beyond the median build of the healthy phases, summed and at worst, by the phase the
server was in when the build started. With the default deadlines (5 s a request plus 1 s per
MiB, 15 s a run), no build should lose much more than 15 s. (On a loaded machine the times
spread; the yardstick moves with them.)
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from nginx_server import NginxServer, start_nginx  # noqa: E402

CACHE_ENV = ("RUST_HMR_REMOTE_CACHE", "RUST_HMR_CACHE_TOKEN", "RUST_HMR_CACHE_READ_ONLY",
             "RUST_HMR_REMOTE_TIMEOUT", "RUST_HMR_REMOTE_DEADLINE")
PHASES = (("healthy", 12.0), ("throttled", 20.0), ("healthy", 8.0), ("frozen", 12.0),
          ("down", 8.0))


@dataclass(frozen=True)
class Build:
    phase: str  # the server's phase when the build started
    seconds: float
    code: int
    wrong: bool
    warnings: int


def dist_of(crate: Path) -> dict[str, bytes]:
    root = crate / "dist"
    if not root.is_dir():
        return {}
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def bundle(crate: Path, env: dict[str, str]) -> tuple[int, str, float]:
    clean = {k: v for k, v in os.environ.items() if k not in CACHE_ENV}
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "rust_hmr", "bundle", str(crate)],
                          env={**clean, **env}, capture_output=True, text=True,
                          timeout=600, check=False)
    return done.returncode, done.stderr, time.monotonic() - start


def fresh_copy(source: Path, where: Path, variant: int) -> Path:
    """A copy of the example; `variant` changes a comment, so the compile stage's key."""
    if where.exists():
        shutil.rmtree(where)
    shutil.copytree(source, where, ignore=shutil.ignore_patterns("target", "dist"))
    with (where / "src" / "lib.rs").open("a") as source:
        source.write(f"// soak variant {variant}\n")
    return where


class Chaos:
    """The server, driven through `PHASES` until stopped; `phase` is the current one."""

    def __init__(self, server: NginxServer) -> None:
        self.server = server
        self.phase = "healthy"
        self.changes = 0
        self._stop = threading.Event()

    def run(self) -> None:
        for name, seconds in itertools.cycle(PHASES):
            self._enter(name)
            if self._stop.wait(seconds):
                break
            self._leave(name)
        self._enter("healthy")

    def stop(self) -> None:
        self._stop.set()

    def _enter(self, name: str) -> None:
        if name == "throttled":
            self.server.throttle("8k")
        elif name == "frozen":
            self.server.pause()
        elif name == "down":
            self.server.stop()
        self.phase = name
        self.changes += 1

    def _leave(self, name: str) -> None:
        if name == "throttled":
            self.server.throttle("")
        elif name == "frozen":
            self.server.resume()
        elif name == "down":
            self.server = self.server.restart()
        self.phase = "healthy"


def worker(index: int, place: Path, env: dict[str, str], reference: dict[str, bytes],
           chaos: Chaos, until: float, builds: list[Build]) -> None:
    """Bundles fresh copies of `place/source` until `until`, each checked against
    `reference`."""
    variants: Iterator[int] = itertools.cycle(range(3))
    mode = {"RUST_HMR_CACHE_READ_ONLY": "1"} if index % 2 else {}
    for count in itertools.count():
        if time.monotonic() >= until:
            return
        crate = fresh_copy(place / "source", place / f"w{index}", next(variants))
        phase = chaos.phase
        code, stderr, seconds = bundle(crate, {**env, **mode})
        wrong = code == 0 and dist_of(crate) != reference
        warnings = sum("warning" in line for line in stderr.splitlines())
        builds.append(Build(phase, seconds, code, wrong, warnings))
        if code != 0 or wrong:
            print(f"worker {index}, build {count}: exit {code}, wrong={wrong}\n{stderr}",
                  file=sys.stderr)


def report(builds: list[Build], changes: int, seconds: float) -> None:
    healthy = [b.seconds for b in builds if b.phase == "healthy" and b.warnings == 0]
    yardstick = statistics.median(healthy) if healthy else 0.0
    lost = [max(0.0, b.seconds - yardstick) for b in builds]
    print(f"soak: {seconds:.0f} s, {changes} server phase changes")
    print(f"builds done       {sum(b.code == 0 for b in builds)} of {len(builds)} "
          f"({sum(b.code != 0 for b in builds)} failed)")
    print(f"wrong outputs     {sum(b.wrong for b in builds)}")
    print(f"healthy build     median {yardstick:.2f} s (the yardstick), slowest "
          f"{max(healthy, default=0):.2f} s")
    print(f"time lost         {sum(lost):.1f} s in all, {max(lost, default=0):.1f} s at worst "
          f"in one build")
    for phase in sorted({b.phase for b in builds}):
        mine = [(b, loss) for b, loss in zip(builds, lost, strict=True) if b.phase == phase]
        print(f"  {phase:<9} {len(mine):>3} builds, lost {sum(x for _, x in mine):6.1f} s, "
              f"worst {max(x for _, x in mine):5.1f} s, "
              f"{sum(b.warnings for b, _ in mine)} warnings")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=150.0, help="how long builds start")
    parser.add_argument("--workers", type=int, default=3, help="bundles at once")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rust-hmr-soak-") as tmp:
        place = Path(tmp)
        # The example as it is now: the soak's builds all start from this snapshot.
        shutil.copytree(ROOT / "examples" / "counter", place / "source",
                        ignore=shutil.ignore_patterns("target", "dist"))
        code, stderr, _ = bundle(fresh_copy(place / "source", place / "reference", 0), {})
        if code != 0:
            raise SystemExit(f"the reference bundle failed:\n{stderr}")
        reference = dist_of(place / "reference")
        server = start_nginx(place / "nginx")
        chaos = Chaos(server)
        env = {"RUST_HMR_REMOTE_CACHE": f"{server.url}/soak",
               "RUST_HMR_CACHE_TOKEN": server.token}
        builds: list[Build] = []
        start = time.monotonic()
        driver = threading.Thread(target=chaos.run, daemon=True)
        threads = [threading.Thread(target=worker, args=(i, place, env, reference, chaos,
                                                         start + args.seconds, builds),
                                    daemon=True)
                   for i in range(args.workers)]
        try:
            driver.start()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        finally:
            chaos.stop()
            driver.join()
            chaos.server.stop()
        report(builds, chaos.changes, time.monotonic() - start)


if __name__ == "__main__":
    main()
