"""The seed's failing case, in Debian's chromium: examples/signals-web (a Leptos-style component
on a signals runtime kept in a `thread_local!`, rendering through web-sys) under `rust-hmr dev`.
Its component's rendering is edited while the page runs: the patch reads the live runtime, the
signals keep their values, and the effects' subscriptions still answer clicks and typing.

The server, the page and the patch check are test_browser's and test_dev_bindgen's; the tests
run in file order, on one page that never reloads.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import test_dev_bindgen
from bindgen_deps import BindgenDeps
from test_bindgen import DEBIAN_CRATES, DEBIAN_REGISTRY
from test_browser import DevServer
from test_dev_bindgen import patched

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

pytestmark = pytest.mark.slow

SIGNALS = 3  # count, name, renders
VIEW = 'format!("Hello, {}! count = {}", name, counter.count.get())'

page = test_dev_bindgen.page  # one page of the app, its marker set; no page errors at the end


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory,
        bindgen_deps: BindgenDeps) -> Iterator[DevServer]:  # fmt: skip
    from conftest import EXAMPLES, copy_crate

    missing = [name for name in DEBIAN_CRATES if not (DEBIAN_REGISTRY / name).is_dir()]
    if missing:
        pytest.skip(f"Debian's packaged crates are not installed ({', '.join(missing)})")
    crate = copy_crate(EXAMPLES / "signals-web",
                       tmp_path_factory.mktemp("signals-web") / "signals-web")
    bindgen_deps.seed(crate, "dev")  # the registry crates, compiled once per session
    server = DevServer(crate)
    yield server
    server.stop()


def runtime(page: Any) -> dict[str, int]:
    """The runtime's own counts, through the app's exports."""
    return page.evaluate(
        "({signals: __hmr.glue.api.signal_count(), runs: __hmr.glue.api.effect_runs()})")


def edit_view(dev: DevServer, old: str, new: str) -> int:
    source = dev.read("app.rs")
    assert source.count(old) == 1, old
    mark = dev.mark()
    dev.write("app.rs", source.replace(old, new))
    return mark


def test_the_component_renders_and_its_signals_change(dev: DevServer, page: Any) -> None:
    greeting, renders = page.locator("#greeting"), page.locator("#renders")
    expect(greeting).to_have_text("Hello, world! count = 0")
    expect(renders).to_have_text("1 renders")
    for _ in range(3):
        page.click("#increment")
    page.fill("#name", "Ada")
    expect(greeting).to_have_text("Hello, Ada! count = 3")
    expect(renders).to_have_text("5 renders")
    assert runtime(page)["signals"] == SIGNALS


def test_an_edit_of_the_rendering_is_patched_with_the_runtime_kept(
        dev: DevServer, page: Any) -> None:
    runs = runtime(page)["runs"]
    mark = edit_view(dev, VIEW, 'format!("Hi {}, you clicked {} times", name, '
                                'counter.count.get())')
    line = patched(dev, page, mark)
    assert "app.rs" in line and "view" in line, line
    greeting, renders = page.locator("#greeting"), page.locator("#renders")
    expect(greeting).to_have_text("Hi Ada, you clicked 3 times")  # the values kept
    expect(renders).to_have_text("6 renders")  # the after-patch render, counted on
    after = runtime(page)
    assert after["signals"] == SIGNALS  # the same runtime: nothing created again
    assert after["runs"] == runs + 2  # both effects ran again, once each

    page.click("#increment")  # the subscriptions still answer, into the new code
    expect(greeting).to_have_text("Hi Ada, you clicked 4 times")
    page.fill("#name", "Grace")
    expect(greeting).to_have_text("Hi Grace, you clicked 4 times")
    expect(renders).to_have_text("8 renders")


def test_a_patched_component_that_untracks_inside_the_runtime(dev: DevServer,
                                                               page: Any) -> None:
    """The seed's own failure: the patched component calls `untrack` (as Leptos does around a
    component's body), so patch code enters the runtime's thread-local itself."""
    mark = edit_view(dev, 'format!("Hi {}, you clicked {} times", name, counter.count.get())',
                     'format!("Hi {}, you clicked {} times (render {})", name, '
                     'counter.count.get(), untrack(|| counter.renders.get()) + 1)')
    patched(dev, page, mark)
    greeting = page.locator("#greeting")
    expect(greeting).to_have_text("Hi Grace, you clicked 4 times (render 9)")
    page.click("#increment")
    expect(greeting).to_have_text("Hi Grace, you clicked 5 times (render 10)")
    expect(page.locator("#renders")).to_have_text("10 renders")
    assert runtime(page)["signals"] == SIGNALS
