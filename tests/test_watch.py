"""What the dev loop takes a changed file to mean: a file the compiler read rebuilds wherever it
lies, static files reload the pages, and the build's own outputs and log are no change at all.

The first tests judge paths against a plan; the last runs the dev loop for real on a copy of
the counter whose static folder links into its sources.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import EXAMPLES, copy_crate
from watchfiles import Change

from rust_hmr.dev import DevLoop, Report
from rust_hmr.settings import load_settings
from rust_hmr.watch import Meaning, WatchPlan, settled


def plan_for(crate: Path, static: Path, inputs: tuple[Path, ...] = (),
             own: frozenset[tuple[int, int]] = frozenset()) -> WatchPlan:
    plan = WatchPlan(crate, static, (static / "index.html", crate / "index.html"),
                     (crate / "target" / "rust-hmr", crate / "dist"), own_files=own)
    return plan.with_inputs(inputs)


@pytest.fixture
def crate(tmp_path: Path) -> Path:
    crate = tmp_path / "app"
    for name in ("src/lib.rs", "assets/text.txt", "static/site.css", "dist/app.wasm",
                 "Cargo.toml", "README.md"):
        (crate / name).parent.mkdir(parents=True, exist_ok=True)
        (crate / name).write_text("x")
    return crate


def test_sources_rebuild_static_files_reload_outputs_are_ignored(crate: Path) -> None:
    plan = plan_for(crate, crate / "static", (crate / "src" / "lib.rs",))
    assert plan.meaning(crate / "src" / "lib.rs") is Meaning.REBUILD
    assert plan.meaning(crate / "src" / "new.rs") is Meaning.REBUILD  # not read yet
    assert plan.meaning(crate / "Cargo.toml") is Meaning.REBUILD
    assert plan.meaning(crate / "static" / "site.css") is Meaning.RELOAD
    assert plan.meaning(crate / "index.html") is Meaning.RELOAD
    assert plan.meaning(crate / "dist" / "app.wasm") is Meaning.IGNORE
    assert plan.meaning(crate / "target" / "rust-hmr" / "x.o") is Meaning.IGNORE
    assert plan.meaning(crate / "README.md") is Meaning.REBUILD  # perhaps about to be read
    assert plan.meaning(crate.parent / "elsewhere.txt") is Meaning.IGNORE


def test_a_file_the_compiler_read_is_a_source_even_in_the_static_folder(crate: Path) -> None:
    (crate / "static" / "src").symlink_to(crate / "src")
    text = crate / "static" / "notes.txt"
    text.write_text("included")
    plan = plan_for(crate, crate / "static", (crate / "src" / "lib.rs", text))
    assert plan.meaning(crate / "static" / "src" / "lib.rs") is Meaning.REBUILD
    assert plan.meaning(text) is Meaning.REBUILD
    assert plan.meaning(crate / "static" / "site.css") is Meaning.RELOAD
    whole = plan_for(crate, crate, (crate / "src" / "lib.rs",))  # static-dir = "."
    assert whole.meaning(crate / "src" / "lib.rs") is Meaning.REBUILD
    assert whole.meaning(crate / "static" / "site.css") is Meaning.RELOAD
    assert whole.meaning(crate / "dist" / "app.wasm") is Meaning.IGNORE


def test_the_processs_own_log_is_no_change_even_through_a_link(crate: Path) -> None:
    logs = crate.parent / "logs"
    logs.mkdir()
    log = logs / "dev.log"
    log.write_text("serving\n")
    (crate / "static" / "logs").symlink_to(logs)
    stat = log.stat()
    plan = plan_for(crate, crate / "static", own=frozenset({(stat.st_dev, stat.st_ino)}))
    assert plan.meaning(crate / "static" / "logs" / "dev.log") is Meaning.IGNORE
    assert plan.meaning(crate / "static" / "site.css") is Meaning.RELOAD


def test_watched_roots_follow_the_inputs_outside_the_crate(crate: Path) -> None:
    dep = crate.parent / "dep" / "src"
    dep.mkdir(parents=True)
    (dep / "lib.rs").write_text("x")
    plan = plan_for(crate, crate / "static", (crate / "src" / "lib.rs", dep / "lib.rs"))
    flat, deep = plan.roots()
    assert flat == ((crate, dep), False)
    assert deep == ((crate / "assets", crate / "src", crate / "static"), True)  # no dist/


def test_a_temporary_file_renamed_over_the_real_one_is_not_a_change(crate: Path) -> None:
    real = str(crate / "src" / "lib.rs")
    temp = str(crate / "src" / "tmp_edit")
    batch = {(Change.added, temp), (Change.modified, temp), (Change.deleted, temp),
             (Change.modified, real)}
    assert settled(batch) == [real]


@pytest.mark.slow
def test_the_dev_loop_patches_through_a_static_link_and_ignores_its_outputs(
        tmp_path: Path) -> None:
    crate = copy_crate(EXAMPLES / "counter", tmp_path / "counter")
    loop = DevLoop(crate, settings=load_settings(crate), echo=lambda line: None)
    runner = asyncio.new_event_loop()

    def step(action: Callable[[], object], count: int) -> Report:
        action()
        end = time.monotonic() + 120
        while len(loop.reports) < count and time.monotonic() < end:
            runner.run_until_complete(asyncio.sleep(0.05))
        assert len(loop.reports) == count, loop.reports
        return loop.reports[-1]

    static = crate / "static"

    def make_static() -> None:  # made after the start: watched from then on
        static.mkdir()
        (static / "src").symlink_to(crate / "src")

    label = crate / "src" / "label.rs"
    runner.run_until_complete(loop.start())
    try:
        make_static()
        runner.run_until_complete(asyncio.sleep(0.3))
        assert not loop.reports  # a folder is not a change
        report = step(lambda: label.write_text(
            label.read_text().replace("nothing yet", "no clicks")), 1)
        assert report.outcome == "patch", report
        report = step(lambda: (static / "site.css").write_text("body { color: red }\n"), 2)
        assert (report.outcome, report.changed) == ("css", ("static/site.css",))
        (crate / "dist").mkdir()
        (crate / "dist" / "counter.wasm").write_bytes(b"\0asm")  # a bundle during dev
        report = step(lambda: (static / "a.css").write_text("p {}\n"), 3)
        assert report.changed == ("static/a.css",), report
    finally:
        runner.run_until_complete(loop.close())
        runner.close()


def test_the_bundle_never_takes_the_builds_outputs_as_static_files(crate: Path) -> None:
    from rust_hmr.rules.bundle import static_files
    from rust_hmr.rules.crate import Crate
    from rust_hmr.settings import Settings

    (crate / "target" / "rust-hmr").mkdir(parents=True)
    (crate / "target" / "rust-hmr" / "big.o").write_text("x")
    (crate / ".git").mkdir()
    (crate / ".git" / "HEAD").write_text("x")
    assert static_files(Crate(crate, Settings())) == {"site.css": crate / "static" / "site.css"}
    (crate / "static" / "up").symlink_to(crate)  # a loop: walked once
    whole = static_files(Crate(crate, Settings(static_dir=".")))
    assert "static/site.css" in whole and "README.md" in whole
    assert not any(name.startswith(("target/", "dist/", ".git/")) for name in whole), whole
    assert not any(name.startswith("static/up/") for name in whole), whole
