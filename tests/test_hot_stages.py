"""The hot path as doit stages (`rust_hmr.rules.hot`): a save runs only the stages whose
inputs changed, task by task, and what it runs gives the same patch as before.

Each test builds a private copy of the counter, runs it in a Host, then edits and saves it the
way a person does, and checks which stages ran (`Project.hot.ran`) beside the value the
patched app returns.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import EXAMPLES, copy_crate

from rust_hmr import FullReload, Patch, Project
from rust_hmr.cargo_build import CompileError
from rust_hmr.host import Host
from rust_hmr.rules.hot import COMPILE, PATCH, unit_task_name
from rust_hmr.shim import LinkManifest

pytestmark = pytest.mark.slow

OLD = "    get() + n\n"


class Counter:
    """The counter built, running in a Host; `save` edits src/lib.rs and rebuilds."""

    def __init__(self, tmp_path: Path, preamble: str = "") -> None:
        self.crate = copy_crate(EXAMPLES / "counter", tmp_path / "counter")
        self.lib = self.crate / "src" / "lib.rs"
        if preamble:
            self.lib.write_text(self.lib.read_text() + preamble)
        self.project = Project(self.crate)
        self.host = Host(self.project.build())

    def save(self, old: str, new: str) -> Patch | FullReload | CompileError:
        text = self.lib.read_text()
        assert text.count(old) == 1, old
        self.lib.write_text(text.replace(old, new))
        return self.project.rebuild()

    def resave(self) -> Patch | FullReload | CompileError:
        """The file written again with the same bytes (an editor's save without a change)."""
        self.lib.write_bytes(self.lib.read_bytes())
        return self.project.rebuild()

    @property
    def ran(self) -> list[str]:
        return self.project.hot.ran.executed


def applied(counter: Counter, result: object) -> Patch:
    assert isinstance(result, Patch), result
    counter.host.apply(result)
    return result


def test_a_one_line_edit_runs_only_its_unit_and_an_identical_save_runs_nothing(
        tmp_path: Path) -> None:
    c = Counter(tmp_path)
    assert c.host.call("add", 5) == 5
    patch = applied(c, c.save(OLD, "    get() + n * 10\n"))
    assert c.host.call("preview_add", 2) == 25 and c.host.call("get") == 5
    [unit] = [o for o in c.project.load_manifest().hot_objects
              if Path(o.path).name == patch.objects[0]]
    assert c.ran == [COMPILE, unit_task_name(unit), PATCH]
    assert set(c.project.hot.ran.up_to_date) == {
        unit_task_name(o) for o in c.project.load_manifest().hot_objects} - {
        unit_task_name(unit)}

    again = applied(c, c.resave())
    assert again.empty and c.ran == []
    assert c.host.call("preview_add", 2) == 25

    # The next edit of the same function: the same three stages, the new code live
    applied(c, c.save("    get() + n * 10\n", "    get() + n * 100\n"))
    assert c.ran == [COMPILE, unit_task_name(unit), PATCH]
    assert c.host.call("preview_add", 1) == 105 and c.host.call("get") == 5


def test_a_save_during_the_compile_is_compiled_by_the_next_save(tmp_path: Path) -> None:
    """The sources are read before cargo starts: a save while cargo runs is not recorded as
    compiled, so the next rebuild compiles it rather than finding the stage up to date."""
    c = Counter(tmp_path)
    capture = c.project.capture

    def capture_then_save() -> LinkManifest:
        manifest = capture()
        c.lib.write_text(c.lib.read_text().replace("    get() + n * 2\n", "    get() + n * 3\n"))
        return manifest

    c.project.capture = capture_then_save  # type: ignore[method-assign]
    applied(c, c.save(OLD, "    get() + n * 2\n"))
    assert c.host.call("preview_add", 1) == 2  # what cargo compiled
    c.project.capture = capture  # type: ignore[method-assign]
    applied(c, c.project.rebuild())
    assert COMPILE in c.ran
    assert c.host.call("preview_add", 1) == 3


def test_a_build_in_between_makes_the_compile_run_again(tmp_path: Path) -> None:
    """An edit patched, then undone and built afresh (what the dev loop does after a full
    reload), then redone: the sources are those `hot:compile` last compiled, but the build
    rewrote its output since, so it compiles again and the redo patches the new build."""
    c = Counter(tmp_path)
    applied(c, c.save(OLD, "    get() + n * 4\n"))
    assert c.host.call("preview_add", 1) == 4
    c.lib.write_text(c.lib.read_text().replace("    get() + n * 4\n", OLD))
    c.host = Host(c.project.build())
    assert c.host.call("preview_add", 1) == 1
    redo = applied(c, c.save(OLD, "    get() + n * 4\n"))
    assert not redo.empty and COMPILE in c.ran
    assert c.host.call("preview_add", 1) == 4


def test_after_a_compile_error_the_live_text_again_is_an_empty_patch(tmp_path: Path) -> None:
    c = Counter(tmp_path)
    assert c.host.call("add", 2) == 2
    error = c.save(OLD, "    get() + n +\n")
    assert isinstance(error, CompileError) and c.ran == [COMPILE]
    back = applied(c, c.save("    get() + n +\n", OLD))
    assert back.empty
    assert c.host.call("preview_add", 1) == 3 and c.host.call("get") == 2


def test_a_patch_that_cant_be_made_is_asked_again_until_the_build(tmp_path: Path) -> None:
    """A FullReload fails `hot:patch`, so it is not up to date: asking again gives the same
    reason, not an empty patch over code that never changed."""
    c = Counter(tmp_path, preamble=(
        "\nstatic mut CELLS: [u8; 4] = [0; 4];\n"
        "#[no_mangle]\npub extern \"C\" fn cells() -> i32 { unsafe { CELLS.len() as i32 } }\n"))
    first = c.save("[u8; 4] = [0; 4]", "[u8; 8] = [0; 8]")
    assert isinstance(first, FullReload), first
    second = c.project.rebuild()
    assert isinstance(second, FullReload) and second.reason == first.reason
    assert c.ran == [PATCH]  # the compile is up to date; the patch is asked again
    host = Host(c.project.build())
    assert host.call("cells") == 8
    assert applied(c, c.project.rebuild()).empty


def doit(crate: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "doit", *args], cwd=crate,
                          capture_output=True, text=True, timeout=600)


def test_doit_lists_the_hot_stages_and_links_a_patch_from_the_command_line(
        tmp_path: Path) -> None:
    c = Counter(tmp_path)
    units = [unit_task_name(o) for o in c.project.load_manifest().hot_objects]
    listed = doit(c.crate, "list", "--all")
    assert listed.returncode == 0, listed.stderr
    names = [line.split()[0] for line in listed.stdout.splitlines() if line.strip()]
    assert [n for n in names if n.startswith("hot:")] == [COMPILE, *units, PATCH]
    info = doit(c.crate, "info", PATCH)
    assert "ledger.msgpack" in info.stdout and units[0] in info.stdout

    c.lib.write_text(c.lib.read_text().replace(OLD, "    get() + n * 7\n"))
    made = doit(c.crate, "hot")
    assert made.returncode == 0, made.stderr
    assert "patch-1.wasm" in made.stderr and "preview_add" in made.stderr
    patch = (c.crate / "target" / "rust-hmr" / "stages" / "hot" / "patch-1.wasm").read_bytes()
    c.host.apply(Patch(1, patch))
    assert c.host.call("preview_add", 1) == 7
    second = doit(c.crate, "hot")
    assert second.returncode == 0 and "patch-2" not in second.stderr
