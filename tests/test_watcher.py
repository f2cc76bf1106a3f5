"""The dev loop's change stream (`rust_hmr.watcher`): what a batch holds and when it ends.

Real files in a temporary folder, the real inotify watch. A batch must never end while a
write in it is still open (the build would read half a file), and must end once the writes
are whole, without waiting the step: the step is set far longer than any wait here, so a
batch that comes at all came from the close.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from watchfiles import Change

from rust_hmr.watch import SourceFilter, settled
from rust_hmr.watcher import DEBOUNCE_MS, watch_changes

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify")

LONG_STEP_MS = 60_000  # a batch that waited for the step would never come within a test
WAIT_S = 1.0  # how long a test waits for a batch: less than the cap on a batch's length
Batch = set[tuple[Change, str]]
assert WAIT_S * 1000 < DEBOUNCE_MS


class Watch:
    """`watch_changes` over `roots` on its own event loop; `then(action)` runs the action
    with the watch in place and gives the batches that came within `wait` seconds."""

    def __init__(self, *roots: Path, recursive: bool = True, step: int = LONG_STEP_MS,
                 root: Path | None = None) -> None:
        self.loop = asyncio.new_event_loop()
        self.stop = asyncio.Event()
        self.batches: list[Batch] = []
        self.stream = watch_changes(*roots, watch_filter=SourceFilter(root or roots[0]),
                                    step=step, stop_event=self.stop, recursive=recursive)
        self.task = self.loop.create_task(self._collect())

    async def _collect(self) -> None:
        async for batch in self.stream:
            self.batches.append(batch)

    def then(self, action: Callable[[], object], wait: float = WAIT_S,
             until: int = 1) -> list[Batch]:
        """`action` may be a coroutine function: its pauses let the watch see the events
        it made so far."""
        async def run() -> None:
            await asyncio.sleep(0)
            done = action()
            if asyncio.iscoroutine(done):
                await done
            for _ in range(int(wait / 0.01)):
                if len(self.batches) >= until:
                    await asyncio.sleep(0.05)  # a batch too many would come now
                    return
                await asyncio.sleep(0.01)

        self.loop.run_until_complete(run())
        return list(self.batches)

    def close(self) -> None:
        self.stop.set()
        self.loop.run_until_complete(self.task)
        self.loop.close()


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "lib.rs").write_text("pub fn f() {}\n")
    (tmp_path / "Cargo.toml").write_text("")
    return tmp_path


def test_a_file_written_whole_is_one_batch_at_its_close(tree: Path) -> None:
    lib = tree / "src" / "lib.rs"
    watch = Watch(tree / "src")
    try:
        batches = watch.then(lambda: lib.write_text("pub fn f() -> u8 { 1 }\n"))
    finally:
        watch.close()
    assert batches == [{(Change.modified, str(lib))}]


def test_no_batch_ends_while_a_write_is_open(tree: Path) -> None:
    lib = tree / "src" / "lib.rs"
    watch = Watch(tree / "src")
    handle = open(lib, "w")  # noqa: SIM115 - kept open across the watch on purpose
    try:
        def half() -> None:
            handle.write("pub fn f() -> u8 {")
            handle.flush()

        assert watch.then(half, wait=0.3) == []
        def rest() -> None:
            handle.write(" 1 }\n")
            handle.close()

        batches = watch.then(rest)
    finally:
        handle.close()
        watch.close()
    assert batches == [{(Change.modified, str(lib))}]
    assert lib.read_text() == "pub fn f() -> u8 { 1 }\n"


def test_a_write_no_close_completes_ends_after_the_step(tree: Path) -> None:
    lib = tree / "src" / "lib.rs"
    watch = Watch(tree / "src", step=50)
    try:
        batches = watch.then(lambda: os.truncate(lib, 3))
    finally:
        watch.close()
    assert batches == [{(Change.modified, str(lib))}]


def test_a_temporary_file_renamed_over_the_source_is_one_change_to_the_source(
        tree: Path) -> None:
    lib = tree / "src" / "lib.rs"
    temp = tree / "src" / ".lib.rs.new"

    def save() -> None:  # how many editors save: a new file, renamed over the old one
        temp.write_text("pub fn f() -> u8 { 2 }\n")
        temp.rename(lib)

    watch = Watch(tree / "src")
    try:
        batches = watch.then(save)
    finally:
        watch.close()
    assert len(batches) == 1
    assert settled(batches[0]) == [str(lib)]


def test_a_new_folder_is_watched_and_what_it_already_holds_is_a_change(tree: Path) -> None:
    folder = tree / "src" / "ui"

    def make() -> None:  # written before the watcher can have seen the folder
        folder.mkdir()
        (folder / "mod.rs").write_text("pub fn g() {}\n")

    watch = Watch(tree / "src")
    try:
        first = watch.then(make)
        later = watch.then(lambda: (folder / "mod.rs").write_text("pub fn g() -> u8 { 0 }\n"),
                           until=len(first) + 1)[len(first):]
    finally:
        watch.close()
    seen = set().union(*first)
    assert (Change.added, str(folder)) in seen
    assert str(folder / "mod.rs") in {path for _, path in seen}
    assert later == [{(Change.modified, str(folder / "mod.rs"))}]


def test_without_recursion_only_the_folders_own_entries(tree: Path) -> None:
    watch = Watch(tree, recursive=False)
    try:
        batches = watch.then(lambda: ((tree / "src" / "lib.rs").write_text("// in src\n"),
                                      (tree / "Cargo.toml").write_text("[package]\n")))
    finally:
        watch.close()
    assert batches == [{(Change.modified, str(tree / "Cargo.toml"))}]


def test_filtered_folders_are_neither_watched_nor_reported(tree: Path) -> None:
    (tree / "src" / "target").mkdir()  # under the crate: SourceFilter's target/
    watch = Watch(tree / "src", root=tree)
    try:
        batches = watch.then(lambda: ((tree / "src" / "target" / "x.o").write_bytes(b"\0"),
                                      (tree / "src" / "lib.rs").write_text("// real\n")))
    finally:
        watch.close()
    assert batches == [{(Change.modified, str(tree / "src" / "lib.rs"))}]


def test_a_folder_seen_through_a_symlink_reports_each_change_once(tree: Path) -> None:
    static = tree / "static"
    static.mkdir()
    (static / "src").symlink_to(tree / "src")
    watch = Watch(tree / "src", static)
    try:
        batches = watch.then(lambda: (tree / "src" / "lib.rs").write_text("// once\n"))
    finally:
        watch.close()
    assert batches == [{(Change.modified, str(tree / "src" / "lib.rs"))}]


def test_a_source_renamed_away_then_written_anew_is_one_batch(tree: Path) -> None:
    lib = tree / "src" / "lib.rs"

    async def save() -> None:  # vim's way, with a backup: the old file renamed, a new one
        lib.rename(tree / "src" / "lib.rs~")
        await asyncio.sleep(0.05)  # ten times QUIET_MS: the batch must wait for the file
        lib.write_text("pub fn f() -> u8 { 3 }\n")
        (tree / "src" / "lib.rs~").unlink()

    watch = Watch(tree / "src")
    try:
        batches = watch.then(save)
    finally:
        watch.close()
    assert len(batches) == 1, batches
    assert settled(batches[0]) == [str(lib)]


def test_a_deleted_file_and_a_deleted_folder(tree: Path) -> None:
    folder = tree / "src" / "old"
    folder.mkdir()
    (folder / "a.rs").write_text("\n")
    watch = Watch(tree / "src", step=50)  # a file gone for good ends the batch after the step
    try:
        def remove() -> None:
            (folder / "a.rs").unlink()
            folder.rmdir()
            (tree / "src" / "lib.rs").unlink()

        batches = watch.then(remove)
    finally:
        watch.close()
    seen = set().union(*batches)
    assert {(Change.deleted, str(folder / "a.rs")), (Change.deleted, str(folder)),
            (Change.deleted, str(tree / "src" / "lib.rs"))} <= seen
