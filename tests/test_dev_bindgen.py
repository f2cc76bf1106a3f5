"""`rust-hmr dev` on a wasm-bindgen app (tests/data/bindgen_dev: web-sys, a list in a
`thread_local!`, a click closure), in Debian's chromium: the page runs through the glue, edits
patch with the list kept, and patches that bring bindings the app never had (a new
`#[wasm_bindgen] extern` block, a new closure type) apply instead of reloading.

One server for the module; the tests run in file order, each edit on top of the last, on one
page whose marker shows it never reloaded (until the struct grows, last).
"""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bindgen_deps import BindgenDeps
from test_bindgen import DEBIAN_CRATES, DEBIAN_REGISTRY
from test_browser import BUILD_TIMEOUT_MS, CHROMIUM, CHROMIUM_ARGS, DevServer

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

pytestmark = pytest.mark.slow

CRATE = Path(__file__).resolve().parent / "data" / "bindgen_dev"
EXTRA = "    // EXTRA"
OVERLAY = "rust-hmr-overlay"
HYPOT_EXTERN = """
#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = Math)]
    fn hypot(a: f64, b: f64) -> f64;
}
"""
KEY_LISTENER = """    let on_key = Closure::<dyn FnMut(web_sys::KeyboardEvent)>::new(
        |event: web_sys::KeyboardEvent| {
            element("key").set_text_content(Some(&format!("key {}", event.key())));
        });
    web_sys::window().unwrap().document().unwrap()
        .add_event_listener_with_callback("keydown", on_key.as_ref().unchecked_ref()).unwrap();
    on_key.forget();
"""


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory,
        bindgen_deps: BindgenDeps) -> Iterator[DevServer]:  # fmt: skip
    from conftest import copy_crate

    missing = [name for name in DEBIAN_CRATES if not (DEBIAN_REGISTRY / name).is_dir()]
    if missing:
        pytest.skip(f"Debian's packaged crates are not installed ({', '.join(missing)})")
    crate = copy_crate(CRATE, tmp_path_factory.mktemp("dev-bindgen") / "bindgen_dev")
    bindgen_deps.seed(crate, "dev")  # the registry crates, compiled once per session
    server = DevServer(crate)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def page(dev: DevServer) -> Iterator[Any]:
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=CHROMIUM_ARGS)
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(dev.url)
        page.wait_for_function("globalThis.__hmr?.glue?.exports", timeout=BUILD_TIMEOUT_MS)
        page.evaluate("window.__marker = 'still here'")
        yield page
        browser.close()
        assert not errors, errors


def edit(dev: DevServer, change: Any) -> int:
    """Apply `change` to view.rs's text; returns the output mark before the save."""
    mark = dev.mark()
    dev.write("view.rs", change(dev.read("view.rs")))
    return mark


def add_extra(code: str) -> Any:
    return lambda text: text.replace(EXTRA, code + EXTRA)


def patched(dev: DevServer, page: Any, mark: int) -> str:
    line = dev.wait_line(r": patch \d+|full reload|error", after=mark, timeout=120)
    assert ": patch " in line, "\n".join(dev.lines[mark:])
    patch = int(re.search(r"patch (\d+)", line)[1])  # type: ignore[index]
    page.wait_for_function(f"globalThis.__hmr.patch >= {patch}", timeout=BUILD_TIMEOUT_MS)
    assert page.evaluate("window.__marker") == "still here"
    return line


def test_the_app_runs_through_the_glue(dev: DevServer, page: Any) -> None:
    assert any(re.search(r"glue for \d+ wasm-bindgen imports in \d+ ms", x) for x in dev.lines)
    expect(page.locator("#title")).to_have_text("Todo: 0 items")
    page.evaluate("for (const t of ['milk', 'eggs']) __hmr.glue.api.add_item(t)")
    page.click("#add")  # the main module's closure
    expect(page.locator("#list li")).to_have_text(["milk", "eggs", "clicked"])
    expect(page.locator("#title")).to_have_text("Todo: 3 items")


def test_a_text_edit_is_patched_with_the_list_kept(dev: DevServer, page: Any) -> None:
    times = []
    for k, text in enumerate(["Todo list", "My todo", "Todos"]):
        before = "Todo" if k == 0 else ["Todo list", "My todo"][k - 1]
        mark = edit(dev, lambda s, b=before, t=text: s.replace(f'"{b}: {{}} items"',
                                                               f'"{t}: {{}} items"'))
        saved = time.monotonic()
        expect(page.locator("#title")).to_have_text(f"{text}: 3 items", timeout=BUILD_TIMEOUT_MS)
        times.append((time.monotonic() - saved) * 1000)
        patched(dev, page, mark)
    expect(page.locator("#list li")).to_have_text(["milk", "eggs", "clicked"])
    print(f"\nwrite-to-new-text: median {statistics.median(times):.0f} ms of "
          f"{[round(t) for t in times]}")


def test_a_web_sys_method_used_for_the_first_time(dev: DevServer, page: Any) -> None:
    mark = edit(dev, add_extra('    element("title").set_attribute("data-state", "patched")'
                               '.unwrap();\n    element("title").class_list().add_1("done")'
                               '.unwrap();\n'))
    patched(dev, page, mark)
    expect(page.locator("#title")).to_have_attribute("data-state", "patched")
    expect(page.locator("#title")).to_have_class("done")
    expect(page.locator("#list li")).to_have_count(3)


def test_a_new_extern_block_brings_its_binding(dev: DevServer, page: Any) -> None:
    mark = edit(dev, lambda s: add_extra(
        '    element("extra").set_text_content(Some(&format!("hypot {}", hypot(3.0, 4.0))));\n'
    )(s) + HYPOT_EXTERN)
    line = patched(dev, page, mark)
    assert "1 new binding" in line, line
    expect(page.locator("#extra")).to_have_text("hypot 5")
    expect(page.locator("#list li")).to_have_count(3)


def test_a_new_closure_type_is_patched_and_works(dev: DevServer, page: Any) -> None:
    prelude = "use wasm_bindgen::prelude::*;"
    mark = edit(dev, lambda s: add_extra(KEY_LISTENER)(s).replace(
        prelude, f"{prelude}\nuse wasm_bindgen::JsCast;"))
    line = patched(dev, page, mark)
    assert "new binding" in line, line
    page.keyboard.press("q")
    expect(page.locator("#key")).to_have_text("key q")
    page.click("#add")  # the old closure still answers
    expect(page.locator("#list li")).to_have_count(4)


def test_a_compile_error_shows_the_overlay_and_the_app_keeps_working(
        dev: DevServer, page: Any) -> None:
    mark = edit(dev, add_extra("    let broken: u32 = \"text\";\n"))
    dev.wait_line(r"error", after=mark, timeout=120)
    expect(page.locator(OVERLAY)).to_be_visible(
        timeout=BUILD_TIMEOUT_MS)
    page.click("#add")
    expect(page.locator("#list li")).to_have_count(5)
    mark = edit(dev, lambda s: s.replace("    let broken: u32 = \"text\";\n", ""))
    dev.wait_line(r": patch \d+|no change", after=mark, timeout=120)
    assert page.evaluate("window.__marker") == "still here"


def test_a_struct_that_grows_is_a_full_reload_with_its_reason(dev: DevServer, page: Any) -> None:
    mark = dev.mark()
    lib = (dev.crate / "src" / "lib.rs").read_text()
    lib = lib.replace("    pub text: String,\n}", "    pub text: String,\n    pub done: bool,\n}")
    lib = lib.replace("Item { text: text.to_string() }",
                      "Item { text: text.to_string(), done: false }")
    (dev.crate / "src" / "lib.rs").write_text(lib)
    line = dev.wait_line(r"full reload|: patch|error", after=mark, timeout=300)
    assert "full reload" in line and "Item" in line, line
    page.wait_for_function("window.__marker === undefined && globalThis.__hmr?.glue?.exports",
                           timeout=BUILD_TIMEOUT_MS)
    expect(page.locator("#title")).to_have_text("Todos: 0 items")
    expect(page.locator("#extra")).to_have_text("hypot 5")
