"""`rust-hmr dev` on examples/todo (a private copy) in Debian's chromium: items added through
the page survive a text edit, an edit calling web-sys methods the app never used, a new
listener with a new closure type and a compile error, all on one page that never reloads; a
struct that grows is a full reload with its reason, last.

The server, the browser page and the patch check are test_browser's and test_dev_bindgen's;
the tests run in file order, each edit on top of the last.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import test_dev_bindgen
from bindgen_deps import BindgenDeps
from test_bindgen import DEBIAN_CRATES, DEBIAN_REGISTRY
from test_browser import BUILD_TIMEOUT_MS, DevServer
from test_dev_bindgen import OVERLAY, patched

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

pytestmark = pytest.mark.slow

ITEMS = ["milk", "eggs", "bread"]
LABEL = 'n => format!("{n} items left"),'
# Edits of view.rs's `render`, each put before its last line (`Ok(())`).
RENDER_END = "    element(\"count\")?.set_text_content(Some(&count_label(open)));\n    Ok(())\n}"
MARK_LATEST = """    if let Some(last) = list.last_element_child() {
        last.class_list().add_1("latest")?;
        last.scroll_into_view();
    }
"""
ENTER_ADDS = """    let input = element("new-todo")?;
    if input.get_attribute("data-enter").is_none() {
        input.set_attribute("data-enter", "adds")?;
        let on_key = Closure::wrap(Box::new(|event: web_sys::KeyboardEvent| {
            if event.key() == "Enter" {
                run(add_from_input());
            }
        }) as Box<dyn FnMut(web_sys::KeyboardEvent)>);
        input.add_event_listener_with_callback("keydown", on_key.as_ref().unchecked_ref())?;
        on_key.forget();
    }
"""
BROKEN = "    let broken: u32 = \"text\";\n"

page = test_dev_bindgen.page  # one page of the app, its marker set; no page errors at the end


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory,
        bindgen_deps: BindgenDeps) -> Iterator[DevServer]:  # fmt: skip
    from conftest import EXAMPLES, copy_crate

    missing = [name for name in DEBIAN_CRATES if not (DEBIAN_REGISTRY / name).is_dir()]
    if missing:
        pytest.skip(f"Debian's packaged crates are not installed ({', '.join(missing)})")
    crate = copy_crate(EXAMPLES / "todo", tmp_path_factory.mktemp("todo-dev") / "todo")
    bindgen_deps.seed(crate, "dev")  # the registry crates, compiled once per session
    server = DevServer(crate)
    yield server
    server.stop()


def edit_view(dev: DevServer, old: str, new: str) -> int:
    """Replaces `old` (there once) with `new` in view.rs; the output mark before the save."""
    source = dev.read("view.rs")
    assert source.count(old) == 1, old
    mark = dev.mark()
    dev.write("view.rs", source.replace(old, new))
    return mark


def in_render(code: str) -> tuple[str, str]:
    return RENDER_END, code + RENDER_END


def add(page: Any, text: str, key: str | None = None) -> None:
    """Types `text` into the input, then clicks "Add" (or presses `key`)."""
    page.fill("#new-todo", text)
    if key:
        page.press("#new-todo", key)
    else:
        page.click("#add")


def test_three_items_are_added(dev: DevServer, page: Any) -> None:
    expect(page.locator("#count")).to_have_text("0 items left")
    for text in ITEMS:
        add(page, text)
    expect(page.locator("#list li span")).to_have_text(ITEMS)
    expect(page.locator("#count")).to_have_text("3 items left")
    expect(page.locator("#new-todo")).to_have_value("")


def test_a_text_edit_is_patched_with_the_items_kept(dev: DevServer, page: Any) -> None:
    mark = edit_view(dev, LABEL, 'n => format!("{n} still to do"),')
    line = patched(dev, page, mark)
    assert "view.rs" in line, line
    expect(page.locator("#count")).to_have_text("3 still to do")
    expect(page.locator("#list li span")).to_have_text(ITEMS)
    page.click("#list li:nth-child(2) input")
    expect(page.locator("#count")).to_have_text("2 still to do")
    expect(page.locator("#list li:nth-child(2)")).to_have_class("done")


def test_web_sys_methods_the_app_never_used(dev: DevServer, page: Any) -> None:
    mark = edit_view(dev, *in_render(MARK_LATEST))
    patched(dev, page, mark)
    rows = page.locator("#list li")
    expect(rows.nth(2)).to_have_class("latest")
    expect(rows.nth(1)).to_have_class("done")  # the state kept, toggles and all
    expect(page.locator("#list li span")).to_have_text(ITEMS)
    add(page, "jam")  # every render marks the newest row
    expect(rows).to_have_count(4)
    expect(rows.nth(3)).to_have_class("latest")
    expect(rows.nth(2)).not_to_have_class("latest")


def test_a_listener_with_a_new_closure_type(dev: DevServer, page: Any) -> None:
    mark = edit_view(dev, *in_render(ENTER_ADDS))
    line = patched(dev, page, mark)
    assert "new binding" in line, line
    add(page, "tea", key="Enter")  # the patch's closure
    spans = page.locator("#list li span")
    expect(spans).to_have_text([*ITEMS, "jam", "tea"])
    expect(page.locator("#new-todo")).to_have_value("")
    add(page, "rice")  # the main module's closure still answers
    expect(spans).to_have_text([*ITEMS, "jam", "tea", "rice"])
    expect(page.locator("#count")).to_have_text("5 still to do")


def test_a_compile_error_shows_the_overlay_and_the_app_keeps_working(
        dev: DevServer, page: Any) -> None:
    mark = edit_view(dev, *in_render(BROKEN))
    line = dev.wait_line(r": patch \d+|full reload|error", after=mark, timeout=120)
    assert "error" in line, line
    overlay = page.locator(OVERLAY)
    expect(overlay).to_be_visible(timeout=BUILD_TIMEOUT_MS)
    expect(page.locator(f"{OVERLAY} pre")).to_contain_text("view.rs")
    add(page, "salt", key="Enter")  # the old code answers, the patch's closure too
    expect(page.locator("#list li")).to_have_count(7)
    mark = edit_view(dev, BROKEN, "")
    dev.wait_line(r": patch \d+|no change", after=mark, timeout=120)
    expect(overlay).to_have_count(0, timeout=BUILD_TIMEOUT_MS)
    assert page.evaluate("window.__marker") == "still here"
    expect(page.locator("#count")).to_have_text("6 still to do")


def test_a_struct_that_grows_is_a_full_reload_with_its_reason(
        dev: DevServer, page: Any) -> None:
    state = dev.read("state.rs")
    for old, new in [("    pub done: bool,\n}", "    pub done: bool,\n    pub starred: bool,\n}"),
                     ("done: false });", "done: false, starred: false });")]:
        assert state.count(old) == 1, old
        state = state.replace(old, new)
    mark = dev.mark()
    dev.write("state.rs", state)
    line = dev.wait_line(r"full reload|: patch \d+|error", after=mark, timeout=300)
    assert "full reload" in line and "Item" in line, line
    page.wait_for_function(
        "window.__marker === undefined && globalThis.__hmr?.glue?.exports",
        timeout=BUILD_TIMEOUT_MS)
    expect(page.locator("#count")).to_have_text("0 still to do")
    add(page, "a fresh start", key="Enter")  # the edits so far are in the new build
    expect(page.locator("#list li.latest span")).to_have_text(
        "a fresh start")
