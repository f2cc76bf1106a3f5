"""Source-modifier plugins: how they are found, the transformed tree cargo builds, the shipped
`hot-hook` plugin in the headless Host and in the browser (with a plugin of the test's own
hooking the dev loop), and a compile error in transformed code pointing at the user's line."""

from __future__ import annotations

import os
import re
import shutil
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import EXAMPLES, copy_crate, text_hash

from rust_hmr import CompileError, Patch, Project
from rust_hmr.host import Host
from rust_hmr.plugins import PluginError, load_plugins
from rust_hmr.plugins.hot_hook import HotHook
from rust_hmr.plugins.tree import plug, transformed

HAND_WRITTEN_HOOK = '#[no_mangle]\npub extern "C" fn rust_hmr_after_patch() {\n    render();\n}'
HOT_HOOK = "#[hot_hook]\nfn refresh() {\n    render();\n}"
LABEL = re.compile(r'n => format!\("\{\} [^"]*"')

# A plugin of the test's own, named as module:attribute: it records the dev loop's moments
# into the file RECORD_TO names.
RECORDER = '''
import os


class Recorder:
    name = "recorder"

    def _write(self, line):
        with open(os.environ["RECORD_TO"], "a") as out:
            out.write(line + "\\n")

    def after_patch(self, event):
        self._write(f"after_patch {event.patch}")

    def after_reload(self, event):
        self._write(f"after_reload {event.reason}")

    def on_compile_error(self, event):
        self._write(f"on_compile_error {event.summary}")
'''


class Uppercase:
    """Turns every `// shout:` comment's text into capitals (keeps the lines)."""

    name = "uppercase"

    def transform(self, file: str, text: str) -> str:
        return re.sub(r"// shout: (.*)", lambda m: "// shout: " + m[1].upper(), text)


class AddsALine:
    name = "adds-a-line"

    def transform(self, file: str, text: str) -> str:
        return "// generated\n" + text


def hooked_counter(tmp_path: Path, *plugins: str) -> Path:
    """examples/counter with its after-patch export written as `#[hot_hook]`."""
    crate = copy_crate(EXAMPLES / "counter", tmp_path / "counter")
    lib = crate / "src" / "lib.rs"
    assert HAND_WRITTEN_HOOK in lib.read_text()
    lib.write_text(lib.read_text().replace(HAND_WRITTEN_HOOK, HOT_HOOK))
    names = ", ".join(f'"{name}"' for name in ("hot-hook", *plugins))
    toml = crate / "Cargo.toml"
    toml.write_text(toml.read_text().replace(
        "[lib]", f"[package.metadata.rust-hmr]\nplugins = [{names}]\n\n[lib]"))
    return crate


def set_label(crate: Path, text: str) -> None:
    label = crate / "src" / "label.rs"
    source, count = LABEL.subn(f'n => format!("{{}} {text}"', label.read_text())
    assert count == 1
    label.write_text(source)


# Finding plugins


def test_plugins_are_found_by_entry_point_or_as_module_attribute() -> None:
    hook, upper = load_plugins(["hot-hook", "test_plugins:Uppercase"])
    assert isinstance(hook, HotHook) and isinstance(upper, Uppercase)
    with pytest.raises(PluginError, match=r"no plugin named 'hot_hooks' \(installed: .*hot-hook"):
        load_plugins(["hot_hooks"])
    with pytest.raises(PluginError, match=r"cannot load plugin 'no_such_module:X': "
                                          r"ModuleNotFoundError"):
        load_plugins(["no_such_module:X"])


def test_a_transform_must_keep_every_line_in_place() -> None:
    assert transformed("src/a.rs", "// shout: hi\n", [Uppercase()]) == "// shout: HI\n"
    with pytest.raises(PluginError, match=r"plugin adds-a-line changed the number of lines of "
                                          r"src/a.rs \(1 -> 2\)"):
        transformed("src/a.rs", "fn a() {}\n", [AddsALine()])


def test_hot_hook_refuses_what_it_cannot_call() -> None:
    hook = HotHook()
    with pytest.raises(PluginError, match=r"src/lib.rs:2: the #\[hot_hook\] function `r` "
                                          r"takes arguments"):
        hook.transform("src/lib.rs", "#[hot_hook]\nfn r(n: u32) {}\n")
    with pytest.raises(PluginError, match=r"src/lib.rs:3: a second #\[hot_hook\]"):
        hook.transform("src/lib.rs", "#[hot_hook]\nfn a() {}\n#[hot_hook]\nfn b() {}\n")
    with pytest.raises(PluginError, match=r"src/lib.rs:1: #\[hot_hook\] must stand"):
        hook.transform("src/lib.rs", "#[hot_hook]\nstatic X: u8 = 0;\n")


# The transformed tree


def test_the_tree_rewrites_only_what_changed_and_follows_deletions(tmp_path: Path) -> None:
    crate = tmp_path / "app"
    (crate / "src").mkdir(parents=True)
    (crate / "Cargo.toml").write_text('[package]\nname = "app"\nversion = "0.1.0"\n')
    (crate / "src" / "lib.rs").write_text("// shout: loud\nmod quiet;\n")
    (crate / "src" / "quiet.rs").write_text("// nothing to do\n")
    (crate / "src" / "gone.rs").write_text("\n")
    target = crate / "target" / "rust-hmr"
    tree = plug(crate, target, [Uppercase()])
    lib, quiet = tree.mirror / "src" / "lib.rs", tree.mirror / "src" / "quiet.rs"
    assert lib.read_text() == "// shout: LOUD\nmod quiet;\n"
    assert quiet.samefile(crate / "src" / "quiet.rs")  # untouched files are the user's own
    before = lib.stat().st_mtime_ns
    (crate / "src" / "gone.rs").unlink()
    tree = plug(crate, target, [Uppercase()])
    assert lib.stat().st_mtime_ns == before  # same text: not written again
    assert not (tree.mirror / "src" / "gone.rs").exists()
    assert tree.original(tree.mirror / "src" / "lib.rs") == crate / "src" / "lib.rs"


def test_a_path_dependency_outside_the_workspace_is_refused(tmp_path: Path) -> None:
    crate = tmp_path / "app"
    (crate / "src").mkdir(parents=True)
    (crate / "Cargo.toml").write_text('[package]\nname = "app"\nversion = "0.1.0"\n\n'
                                      '[dependencies]\nhelper = { path = "../helper" }\n')
    with pytest.raises(PluginError, match=r"the path dependency helper \(../helper\) lies "
                                          r"outside the workspace"):
        plug(crate, crate / "target", [Uppercase()])


# hot-hook end to end


@pytest.mark.slow
def test_hot_hook_renders_after_each_patch_headless(tmp_path: Path) -> None:
    crate = hooked_counter(tmp_path)
    project = Project(crate)
    host = Host(project.build())
    host.call("increment")
    host.call("increment")
    set_label(crate, "taps")
    patch = project.rebuild()
    assert isinstance(patch, Patch), patch
    host.apply(patch)  # calls rust_hmr_after_patch, which #[hot_hook] made: it renders
    assert host.page["count"] == "2 taps"
    assert host.call("label_hash") == text_hash("2 taps")
    assert "#[hot_hook]" in (crate / "src" / "lib.rs").read_text()  # the user's file as it was
    assert all("plugged" not in str(path) for path in project.inputs.files)


@pytest.mark.slow
def test_a_compile_error_in_transformed_code_points_at_the_users_line(tmp_path: Path) -> None:
    crate = hooked_counter(tmp_path)
    lib = crate / "src" / "lib.rs"
    lib.write_text(lib.read_text().replace("fn refresh() {\n    render();\n}",
                                           "fn refresh() -> u32 {\n    render();\n    1\n}"))
    line = lib.read_text().splitlines().index("#[hot_hook]") + 1
    with pytest.raises(CompileError) as raised:
        Project(crate).build()
    stderr = raised.value.stderr
    assert re.search(rf"--> src/lib\.rs:{line}:\d+", stderr), stderr
    assert "plugged" not in stderr and f"({crate})" in stderr, stderr  # cargo's path: the user's


# In the browser, with a plugin hooking the dev loop


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[object, Path]]:
    from test_browser import DevServer

    work = tmp_path_factory.mktemp("plugins-dev")
    (work / "recorder.py").write_text(textwrap.dedent(RECORDER))
    record = work / "record.txt"
    crate = hooked_counter(work, "recorder:Recorder")
    saved = {name: os.environ.get(name) for name in ("PYTHONPATH", "RECORD_TO")}
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(work), saved["PYTHONPATH"]]))
    os.environ["RECORD_TO"] = str(record)
    try:
        server = DevServer(crate)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    yield server, record
    server.stop()
    shutil.rmtree(crate / "target", ignore_errors=True)


@pytest.mark.slow
def test_hot_hook_in_the_browser_and_the_dev_loop_hooks(dev: tuple[object, Path]) -> None:
    playwright_api = pytest.importorskip("playwright.sync_api")
    from test_browser import BUILD_TIMEOUT_MS, CHROMIUM, CHROMIUM_ARGS

    server, record = dev
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(server.url)  # type: ignore[attr-defined]
        count = page.locator("#count")
        playwright_api.expect(count).to_have_text("nothing yet", timeout=BUILD_TIMEOUT_MS)
        page.evaluate("window.__marker = 'still here'")
        page.click("#increment")
        page.click("#increment")
        set_label(server.crate, "taps so far")  # type: ignore[attr-defined]
        playwright_api.expect(count).to_have_text("2 taps so far", timeout=BUILD_TIMEOUT_MS)
        assert page.evaluate("window.__marker") == "still here"
        lib = server.crate / "src" / "lib.rs"  # type: ignore[attr-defined]
        good = lib.read_text()
        mark = server.mark()  # type: ignore[attr-defined]
        lib.write_text(good.replace("    render();\n}", "    render()\n}", 1).replace(
            "fn refresh() {", 'fn refresh() {\n    let broken: u32 = "text";', 1))
        server.wait_line(r"error", mark, timeout=60)  # type: ignore[attr-defined]
        browser.close()
    lines = record.read_text().splitlines()
    assert "after_patch 1" in lines, lines
    assert lines[-1].startswith("on_compile_error "), lines
