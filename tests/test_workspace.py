"""Every crate of a workspace is hot: examples/workspace (an `app` cdylib and its `model` and
`ui` member crates) in the headless Host and in Debian's chromium.

The cases run in file order on one private copy, each edit on top of the last, the cart
filled once at the start: an edit in `ui`; an edit in `model` to the generic `total` that `app`
instantiates; a function added to `model` and called from `app`; last, a registry crate added
to a member, whose code is cold (a full reload, with its reason).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import EXAMPLES
from test_bindgen import DEBIAN_REGISTRY
from test_browser import BUILD_TIMEOUT_MS, DevServer, browser  # noqa: F401 (a fixture)

from rust_hmr import FullReload, Patch, Project
from rust_hmr.host import Host

pytestmark = pytest.mark.slow

PRICE = 'format!("${}.{:02}", cents / 100, cents % 100)'
EURO = 'format!("{}.{:02} EUR", cents / 100, cents % 100)'
TOTAL = "things.iter().map(Priced::cents).sum()"
TOTAL_LESS_50 = "things.iter().map(Priced::cents).sum::<i64>() - 50"
TAX = "/// Tax on a price, in cents.\npub fn tax(cents: i64) -> i64 {\n    cents / 10\n}\n\n"
SHOW_TOTAL = 'ui::show("total", &format!("total {}", ui::price(model::total(&cart))));'
SHOW_TAX = ('let total = model::total(&cart);\n        ui::show("total", &format!('
            '"total {} tax {}", ui::price(total), ui::price(model::tax(total))));')


def edit(workspace: Path, file: str, old: str, new: str) -> None:
    path = workspace / file
    text = path.read_text()
    assert text.count(old) == 1, f"{file}: {old!r} occurs {text.count(old)} times"
    path.write_text(text.replace(old, new))


class Shop:
    """The workspace copy, built once and running in a Host with four items added."""

    def __init__(self, root: Path) -> None:
        self.root = shutil.copytree(EXAMPLES / "workspace", root,
                                    ignore=shutil.ignore_patterns("target"))
        self.project = Project(self.root / "app")
        self.host = Host(self.project.build())
        for kind in (0, 1, 0, 2):  # tea, cake, tea, water
            self.host.call("add_item", kind)

    def patch(self, *edits: tuple[str, str, str]) -> Patch:
        for file, old, new in edits:
            edit(self.root, file, old, new)
        result = self.project.rebuild()
        assert isinstance(result, Patch), getattr(result, "reason", result)
        self.host.apply(result)
        return result

    def shown(self) -> dict[str, str]:
        self.host.call("render")
        return self.host.page

    def kept_its_state(self) -> bool:
        return self.host.call("added") == 4 and self.host.call("lines") == 3


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Shop:
    return Shop(tmp_path_factory.mktemp("workspace") / "workspace")


def test_the_workspace_is_read_from_cargo(shop: Shop) -> None:
    workspace = shop.project.workspace
    assert workspace.root == shop.root
    assert workspace.crate_names == {"app", "model", "ui"}
    members = {Path(o.path).name.split("-")[0] for o in shop.project.build().manifest.members}
    assert members == {"libmodel", "libui"}  # the codegen units of the other two crates


def test_an_edit_in_ui_patches_with_the_state_kept(shop: Shop) -> None:
    assert shop.shown()["total"] == "total $10.00"
    patch = shop.patch(("ui/src/lib.rs", PRICE, EURO))
    assert patch.changed == ("ui::price",)
    assert all(name.startswith("libui-") for name in patch.objects), patch.objects
    assert shop.kept_its_state()
    assert shop.shown() == {"lines": "tea x2 5.00 EUR, cake x1 4.00 EUR, water x1 1.00 EUR",
                            "total": "total 10.00 EUR"}


def test_an_edit_to_a_generic_of_model_patches_the_app_that_instantiates_it(shop: Shop) -> None:
    patch = shop.patch(("model/src/lib.rs", TOTAL, TOTAL_LESS_50))
    assert "model::total" in patch.changed
    assert any(name.startswith("app.") for name in patch.objects), patch.objects
    assert shop.host.call("total_cents") == 950
    assert shop.shown()["total"] == "total 9.50 EUR"
    assert shop.kept_its_state()


def test_a_function_added_to_model_and_called_from_app_patches(shop: Shop) -> None:
    patch = shop.patch(("model/src/lib.rs", "/// The catalogue", TAX + "/// The catalogue"),
                       ("app/src/lib.rs", SHOW_TOTAL, SHOW_TAX))
    assert "model::tax" in patch.changed
    assert shop.shown()["total"] == "total 9.50 EUR tax 0.95 EUR"
    assert shop.kept_its_state()


def test_a_registry_crate_added_to_a_member_is_a_full_reload(shop: Shop) -> None:
    """Registry crates stay cold: one that joins the link can't be patched in."""
    if not (DEBIAN_REGISTRY / "cfg-if-1.0.0").is_dir():
        pytest.skip(f"no cfg-if in {DEBIAN_REGISTRY} (apt-get install librust-cfg-if-dev)")
    config = shop.root / ".cargo" / "config.toml"
    config.parent.mkdir()
    config.write_text(f'[source.crates-io]\nreplace-with = "debian"\n\n[source.debian]\n'
                      f'directory = "{DEBIAN_REGISTRY}"\n\n[net]\noffline = true\n')
    edit(shop.root, "model/Cargo.toml", "[dependencies]\n", '[dependencies]\ncfg-if = "1"\n')
    edit(shop.root, "model/src/lib.rs", "pub trait Priced", "pub use cfg_if;\n\npub trait Priced")
    result = shop.project.rebuild()
    assert isinstance(result, FullReload), result
    assert "`cfg_if`" in result.reason and "only the workspace's own crates are hot" in \
        result.reason, result.reason


# In the browser


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    root = shutil.copytree(EXAMPLES / "workspace", tmp_path_factory.mktemp("ws-dev") / "ws",
                           ignore=shutil.ignore_patterns("target"))
    server = DevServer(root / "app")
    yield server
    server.stop()


def test_in_the_browser_edits_in_member_crates_patch_the_page(
        dev: DevServer, browser: object) -> None:  # noqa: F811 (the fixture)
    expect = pytest.importorskip("playwright.sync_api").expect
    context = browser.new_context()  # type: ignore[attr-defined]
    try:
        page = context.new_page()
        page.goto(dev.url)
        page.wait_for_function("globalThis.app && document.getElementById('total')"
                               ".textContent.startsWith('total')", timeout=BUILD_TIMEOUT_MS)
        page.evaluate("window.__marker = 'still here'")
        for button in ("tea", "tea", "cake"):
            page.click(f"#{button}")
        expect(page.locator("#lines")).to_have_text("tea x2 $5.00, cake x1 $4.00")
        mark = dev.mark()
        edit(dev.crate.parent, "ui/src/lib.rs", PRICE, EURO)
        expect(page.locator("#lines")).to_have_text("tea x2 5.00 EUR, cake x1 4.00 EUR",
                                                    timeout=BUILD_TIMEOUT_MS)
        expect(page.locator("#total")).to_have_text("total 9.00 EUR")
        assert page.evaluate("window.__marker") == "still here"  # patched, not reloaded
        line = dev.wait_line(r"patch 1, ", mark)
        assert re.search(r"ui/src/lib\.rs.*ui::price", line), line
        edit(dev.crate.parent, "model/src/lib.rs", TOTAL, TOTAL_LESS_50)  # the app's generic
        expect(page.locator("#total")).to_have_text("total 8.50 EUR", timeout=BUILD_TIMEOUT_MS)
        edit(dev.crate.parent, "model/src/lib.rs", "/// The catalogue", TAX + "/// The catalogue")
        edit(dev.crate.parent, "app/src/lib.rs", SHOW_TOTAL, SHOW_TAX)  # a new model function
        expect(page.locator("#total")).to_have_text("total 8.50 EUR tax 0.85 EUR",
                                                    timeout=BUILD_TIMEOUT_MS)
        page.click("#water")  # the cart kept its lines through all three patches
        expect(page.locator("#lines")).to_have_text(
            "tea x2 5.00 EUR, cake x1 4.00 EUR, water x1 1.00 EUR")
        assert page.evaluate("window.__marker") == "still here"
    finally:
        context.close()
