"""A panic in the browser: the trap view of the overlay names the panicking function and its
file:line, in the main module and in a patch, with the panic hook's message.

Its own dev server (test_browser's helpers) on a copy of examples/counter that installs a
panic hook in a `start` export, which the runtime calls once the app has loaded: the hook logs
through `env.log`, as apps do on wasm32, where a panic is only an `unreachable` trap.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_browser import (
    BUILD_TIMEOUT_MS,
    CHROMIUM,
    CHROMIUM_ARGS,
    DevServer,
    Page,
    expect,
    screenshot,
)

playwright_api = pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.slow

PANIC_HOOK = """

#[link(wasm_import_module = "env")]
extern "C" {
    #[link_name = "log"]
    fn host_log(ptr: *const u8, len: usize);
}

/// The runtime calls this once the app has loaded: a panic's message goes to the console.
#[no_mangle]
pub extern "C" fn start() {
    std::panic::set_hook(Box::new(|info| {
        let text = info.to_string();
        unsafe { host_log(text.as_ptr(), text.len()) }
    }));
}
"""


def line_of(path: Path, text: str) -> int:
    """The 1-based line of the one line of `path` that contains `text`."""
    found = [n for n, line in enumerate(path.read_text().splitlines(), 1) if text in line]
    assert len(found) == 1, (text, found)
    return found[0]


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    from conftest import EXAMPLES, copy_crate

    crate = copy_crate(EXAMPLES / "counter", tmp_path_factory.mktemp("traps") / "counter")
    lib = crate / "src" / "lib.rs"
    lib.write_text(lib.read_text() + PANIC_HOOK)
    server = DevServer(crate)
    yield server
    server.stop()
    shutil.rmtree(crate / "target", ignore_errors=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class ReadyPage(Page):
    """A Page that waits for `app-ready` too: the page's click handlers are in place then (the
    app's after-patch hook may render the count before, while the page loads its patches)."""

    def __init__(self, browser: object, dev: DevServer) -> None:
        self.context = browser.new_context()  # type: ignore[attr-defined]
        self.context.add_init_script(
            "addEventListener('app-ready', () => { window.__appReady = true; })")
        self.page = self.context.new_page()
        self.console: list[str] = []
        self.errors: list[str] = []
        self.page.on("console", lambda message: self.console.append(message.text))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.goto(dev.url)
        self.page.wait_for_function("window.__appReady === true", timeout=BUILD_TIMEOUT_MS)
        self.wait_ready()


@pytest.fixture
def page(browser: object, dev: DevServer) -> Iterator[Page]:
    opened = ReadyPage(browser, dev)
    yield opened
    opened.errors = [e for e in opened.errors if "unreachable" not in e]  # the traps we made
    opened.close()


def trap_frames(page: Page) -> list[str]:
    return page.page.locator("rust-hmr-trap li.frame.app").all_inner_texts()


def test_a_panic_in_the_main_module_shows_the_trap_view(dev: DevServer, page: Page) -> None:
    trap = page.page.locator("rust-hmr-trap")
    expect(trap).to_have_count(0)
    page.page.evaluate("app.add(2147483646)")  # through globalThis.app: no trap yet
    page.click()  # on_click -> increment -> add: 2147483647
    expect(page.count).to_have_text("2147483647 clicks")
    mark = dev.mark()
    page.click()  # overflows: `+ n` panics in a debug build
    expect(trap).to_be_visible()
    add_line = line_of(dev.crate / "src" / "lib.rs", "COUNT.fetch_add(n, Ordering::SeqCst) + n")
    header = page.page.locator("rust-hmr-trap strong")
    expect(header).to_contain_text("attempt to add with overflow", timeout=10_000)
    expect(header).to_contain_text(f"src/lib.rs:{add_line}")
    expect(page.page.locator("rust-hmr-trap li.frame.app").first).to_have_text(
        re.compile(rf"^add at src/lib\.rs:{add_line}:\d+$"))
    frames = trap_frames(page)
    assert [f.split(" at ")[0] for f in frames[:3]] == ["add", "increment", "on_click"], frames
    step_line = line_of(dev.crate / "src" / "lib.rs", "add(STEP)")
    assert re.fullmatch(rf"increment at src/lib\.rs:{step_line}:\d+", frames[1]), frames
    std = page.page.locator("rust-hmr-trap li.frame:not(.app)").all_inner_texts()
    assert any(re.match(r"core::panicking::\S+ at \S*panicking\.rs:\d+", f) for f in std), std
    assert not any("hmr_trampoline" in f for f in frames + std)
    line = dev.wait_line(r"a page trapped \(symbolicated in \d+ ms\)", mark)
    dev.wait_line(rf"> +\d+: add at src/lib\.rs:{add_line}", mark)
    assert any("[hmr] the app trapped in on_click()" in text for text in page.console)
    print(f"\nfirst trap: {line}")

    # The same trap again: the server has the tables now.
    page.page.locator("rust-hmr-trap button", has_text="close").click()
    expect(trap).to_have_count(0)
    mark = dev.mark()
    with pytest.raises(playwright_api.Error, match="unreachable"):
        page.page.evaluate("app.add(-1)")  # i32::MIN - 1; the guarded export reports, rethrows
    expect(page.page.locator("rust-hmr-trap li.frame.app").first).to_have_text(
        re.compile(rf"^add at src/lib\.rs:{add_line}:\d+$"))
    again = dev.wait_line(r"a page trapped \(symbolicated in \d+ ms\)", mark)
    print(f"next trap: {again}")


def test_a_panic_in_a_patch_names_the_patched_function(dev: DevServer, page: Page) -> None:
    label = dev.crate / "src" / "label.rs"
    source = label.read_text()
    arm = '        1 => String::from("one click"),\n'
    assert arm in source
    mark = dev.mark()
    label.write_text(source.replace(arm, arm + '        3 => panic!("three is too many"),\n'))
    dev.wait_line(r"src/label\.rs: patch \d+", mark, timeout=BUILD_TIMEOUT_MS / 1000)
    page.page.wait_for_function("__hmr.patch >= 1", timeout=BUILD_TIMEOUT_MS)
    page.click(2)
    expect(page.count).to_have_text("2 clicks")
    page.click()  # render(3) panics, in the code the patch brought
    panic_line = line_of(label, "three is too many")
    header = page.page.locator("rust-hmr-trap strong")
    expect(header).to_contain_text("three is too many", timeout=10_000)
    expect(header).to_contain_text(f"src/label.rs:{panic_line}")
    first = page.page.locator("rust-hmr-trap li.frame.app").first
    expect(first).to_have_text(re.compile(
        rf"^counter::label::render at src/label\.rs:{panic_line}:\d+ \[patch \d+\]$"))
    frames = trap_frames(page)
    screenshot(page.page, "overlay-trap")
    assert frames[1].startswith("render at src/lib.rs:"), frames  # the main module's caller
    assert "[patch" not in frames[1]
    label.write_text(source)
    dev.wait_line(r"src/label\.rs: patch \d+", dev.mark(), timeout=BUILD_TIMEOUT_MS / 1000)


def test_a_panic_in_the_after_patch_hook_shows_the_trap_and_keeps_the_page(
        dev: DevServer, page: Page) -> None:
    """The app's `rust_hmr_after_patch` renders with the new code: when that panics, the patch
    is in all the same, and the page stays (no reload, its state kept)."""
    page.click(2)
    expect(page.count).to_have_text("2 clicks")
    applied = page.page.evaluate("__hmr.patch")
    label = dev.crate / "src" / "label.rs"
    source = label.read_text()
    arm = '        1 => String::from("one click"),\n'
    label.write_text(source.replace(arm, arm + '        2 => panic!("two, after the patch"),\n'))
    try:
        header = page.page.locator("rust-hmr-trap strong")
        expect(header).to_contain_text("two, after the patch", timeout=BUILD_TIMEOUT_MS)
        expect(page.page.locator("rust-hmr-trap li.frame.app").first).to_have_text(
            re.compile(r"^counter::label::render at src/label\.rs:\d+:\d+ \[patch \d+\]$"))
        frames = trap_frames(page)
        assert any(f.startswith("rust_hmr_after_patch at src/lib.rs:") for f in frames), frames
        assert page.page.evaluate("__hmr.patch") == applied + 1
        assert page.marker() == "still here"
    finally:
        label.write_text(source)
    page.page.wait_for_function(f"__hmr.patch === {applied + 2}", timeout=BUILD_TIMEOUT_MS)
    expect(page.count).to_have_text("2 clicks")  # the hook renders again, the count kept
    assert page.marker() == "still here"
