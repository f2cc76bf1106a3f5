"""The README's own crate, as a newcomer makes it: `cargo new --lib`, its Cargo.toml lines, its
src/lib.rs. Every Rust snippet of the README builds; the crate runs headless and in the browser,
where its page shows each patch without any JavaScript of its own."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from rust_hmr import Project
from rust_hmr.cargo_build import build_wasm
from rust_hmr.host import Host
from rust_hmr.toolchain import Toolchain

README = Path(__file__).resolve().parent.parent / "README.md"
GREETING = "Hello from Rust! Patches applied: {}"


def snippets(language: str, text: str | None = None) -> list[str]:
    """The README's fenced code blocks in `language`."""
    text = README.read_text() if text is None else text
    return re.findall(rf"^```{language}\n(.*?)^```$", text, re.MULTILINE | re.DOTALL)


def section(title: str) -> str:
    return README.read_text().split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def own_crate_section() -> str:
    return section("Your own crate")


def new_crate(place: Path, toolchain: Toolchain, lib_rs: str) -> Path:
    """`cargo new --lib hello`, then the Cargo.toml lines and the lib.rs the README gives."""
    [command] = snippets("sh", own_crate_section())
    assert command.strip() == "cargo new --lib hello"
    subprocess.run(toolchain.cargo_command("new", "--lib", "--vcs", "none", "hello"), cwd=place,
                   env=toolchain.cargo_env(), check=True, capture_output=True)
    crate = place / "hello"
    [toml] = snippets("toml", own_crate_section())
    with (crate / "Cargo.toml").open("a") as manifest:
        manifest.write("\n" + toml)
        if "#[hot_hook]" in lib_rs:  # the Plugins section's snippet: its Cargo.toml lines too
            [plugins] = snippets("toml", section("Plugins"))
            manifest.write("\n" + plugins)
    (crate / "src" / "lib.rs").write_text(lib_rs)
    return crate


def test_the_readme_has_rust_snippets_and_the_own_crate_section_one() -> None:
    assert len(snippets("rust", own_crate_section())) == 1
    assert snippets("rust")  # and the test below builds each one


@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(snippets("rust"))))
def test_every_rust_snippet_of_the_readme_builds(tmp_path: Path, toolchain: Toolchain,
                                                   index: int) -> None:
    crate = new_crate(tmp_path, toolchain, snippets("rust")[index])
    for profile in ("dev", "release"):
        built = build_wasm(crate, profile, toolchain)
        assert built.path.stat().st_size > 0


@pytest.fixture
def hello(tmp_path: Path, toolchain: Toolchain) -> Path:
    return new_crate(tmp_path, toolchain, snippets("rust", own_crate_section())[0])


@pytest.mark.slow
def test_the_readme_crate_renders_after_each_patch_headless(hello: Path) -> None:
    project = Project(hello)
    host = Host(project.build())
    host.call("start")
    assert host.page["app"] == GREETING.format(0)
    assert host.logs == ["hello: started"]
    lib = hello / "src" / "lib.rs"
    lib.write_text(lib.read_text().replace("Hello from Rust!", "Bonjour from Rust!"))
    host.apply(project.rebuild())  # the app's rust_hmr_after_patch runs: no render call here
    assert host.page["app"] == "Bonjour from Rust! Patches applied: 1"


@pytest.fixture
def browser() -> Iterator[object]:
    from test_browser import CHROMIUM, CHROMIUM_ARGS, playwright_api

    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.mark.slow
def test_the_readme_crate_in_the_browser_shows_building_then_each_patch(
        hello: Path, browser: object) -> None:
    from test_browser import BUILD_TIMEOUT_MS, DevServer, expect, screenshot

    server = DevServer(hello, wait_built=False)  # the page opens while the first build runs
    context = browser.new_context()  # type: ignore[attr-defined]
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(server.url)
        app = page.locator("#app")
        if not server.built():
            expect(page.locator("#rust-hmr-building")).to_contain_text("building hello")
            screenshot(page, "building")
        expect(app).to_have_text(GREETING.format(0), timeout=BUILD_TIMEOUT_MS)
        scripts = page.evaluate("[...document.scripts].map(s => s.id || s.src)")
        assert all("rust-hmr" in s or "/_hmr/" in s for s in scripts), scripts  # none of its own
        page.evaluate("window.__marker = 'kept'")
        lib = hello / "src" / "lib.rs"
        for n, word in enumerate(("Bonjour", "Hallo"), start=1):
            lib.write_text(re.sub(r"\w+ from Rust!", f"{word} from Rust!", lib.read_text()))
            expect(app).to_have_text(f"{word} from Rust! Patches applied: {n}",
                                     timeout=BUILD_TIMEOUT_MS)
        assert page.evaluate("window.__marker") == "kept"  # patched, never reloaded
        assert not errors, errors
    finally:
        context.close()
        server.stop()
        shutil.rmtree(hello / "target", ignore_errors=True)


@pytest.mark.slow
def test_the_readme_plugin_crate_renders_after_each_patch_headless(tmp_path: Path,
                                                                   toolchain: Toolchain) -> None:
    [lib_rs] = snippets("rust", section("Plugins"))
    crate = new_crate(tmp_path, toolchain, lib_rs)
    project = Project(crate)
    host = Host(project.build())
    host.call("start")
    assert host.page["app"] == "Hello again! Patches applied: 0"
    lib = crate / "src" / "lib.rs"
    lib.write_text(lib.read_text().replace("Hello again!", "Hi again!"))
    host.apply(project.rebuild())  # the export #[hot_hook] made runs `refresh`
    assert host.page["app"] == "Hi again! Patches applied: 1"


def test_the_readme_plugin_of_your_own_runs_as_written(tmp_path: Path, monkeypatch,
                                                      capsys) -> None:
    from rust_hmr.plugins import PatchEvent, load_plugins

    [source] = snippets("python", section("Plugins"))
    (tmp_path / "readme_shout.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    [shout] = load_plugins(["readme_shout:Shout"])
    assert shout.transform("src/lib.rs", 'let s = shout!("hi there");\n') == (
        'let s = "HI THERE";\n')
    shout.after_patch(PatchEvent(tmp_path, 3, ("app::render",)))
    assert capsys.readouterr().out == "patch 3: app::render\n"
