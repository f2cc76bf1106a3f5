"""The JS glue in a real browser: tests/data/bindgen_crate (src/kinds.rs: one round trip per kind
of value and import) built offline, its glue generated and served over HTTP, and every answer
read from Debian's chromium, driven by Playwright. The glue's error cases run on the real module
with one thing changed, and need no browser.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_bindgen import (  # noqa: F401  (the build fixtures, shared through a fixed crate copy)
    fixture_bindgen_crate,
    fixture_dev_wasm,
    fixture_release_bindings,
    fixture_release_wasm,
)
from test_browser import StaticServer

from rust_hmr.bindgen import (
    BindgenError,
    Bindings,
    UnsupportedError,
    generate_glue,
    write_glue,
)
from rust_hmr.bindgen._abi import lower
from rust_hmr.bindgen._intrinsics import INTRINSICS
from rust_hmr.bindgen.descriptors import (
    Function,
    Number,
    NumberKind,
    Option,
    Result,
    String,
    Vector,
)
from rust_hmr.runtime import RUNTIME_DIR
from rust_hmr.wasm import WasmFile, parse
from rust_hmr.wasm.sections.imports import Import

playwright_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update"]  # fmt: skip
WASM_TOOLS = shutil.which("wasm-tools", path=str(Path(sys.executable).parent)) or "wasm-tools"
TEXT = "héllo wörld 🎉🦀 日本"

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>glue ✓ test</title></head>
<body><ul id="list"></ul>
<script>
  window.pageTitle = () => document.title;
  window.app = { risky(flag) { if (flag) throw new Error("risky ✗ failed"); return 42; } };
</script>
<script type="module">
  import init, * as wasm from "./app.js";
  import * as runtime from "./bindgen.js";
  window.wasm = wasm;
  window.runtime = runtime;
  await init();
  window.ready = true;
</script>
</body></html>
"""


def serve_glue(wasm: Path, out: Path) -> StaticServer:
    write_glue(generate_glue(wasm.read_bytes(), name="app"), out)
    (out / "index.html").write_text(PAGE, encoding="utf-8")
    return StaticServer(out)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=CHROMIUM_ARGS)  # fmt: skip
        yield browser
        browser.close()


class AppPage:
    """The test page with the app loaded; its console and errors kept."""

    def __init__(self, browser: Any, url: str) -> None:
        self.context = browser.new_context()
        self.page = self.context.new_page()
        self.console: list[str] = []
        self.errors: list[str] = []
        self.page.on("console", lambda message: self.console.append(message.text))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.goto(url)
        try:
            self.page.wait_for_function("window.ready === true", timeout=20_000)
        except playwright_api.TimeoutError:
            raise AssertionError(f"the app did not start: {self.errors} {self.console}") from None

    def run(self, script: str, arg: Any = None) -> Any:
        """`script` is the body of an async function of (wasm, glue, arg)."""
        return self.page.evaluate(
            f"async (arg) => {{ const wasm = window.wasm, glue = wasm.glue; {script} }}", arg)

    def close(self) -> None:
        self.context.close()


@pytest.fixture(scope="module")
def release_site(release_wasm: Path, tmp_path_factory: pytest.TempPathFactory
                 ) -> Iterator[StaticServer]:  # fmt: skip
    served = serve_glue(release_wasm, tmp_path_factory.mktemp("glue-release"))
    yield served
    served.stop()


@pytest.fixture(scope="module")
def app(browser: Any, release_site: StaticServer) -> Iterator[AppPage]:
    page = AppPage(browser, release_site.url)
    yield page
    page.close()



# --- values both ways -------------------------------------------------------------------------


@pytest.mark.slow
def test_start_ran_and_its_imports_answered(app: AppPage) -> None:
    assert "started" in app.console  # web_sys::console::log_1 from #[wasm_bindgen(start)]
    assert "glue ✓ test" in app.console  # console.log(pageTitle()): a namespaced import
    assert app.errors == []


@pytest.mark.slow
def test_strings_both_ways(app: AppPage) -> None:
    assert app.run("return wasm.text_round_trip(arg);", TEXT) == f"«{TEXT}→{len(TEXT)}» ✓"
    assert app.run("return wasm.greet(arg);", "Zoë 🦀") == "Hello, Zoë 🦀!"
    assert app.run("return [wasm.name_or(true), wasm.name_or(false)];") == ["Zoë 🦀", "nobody"]


@pytest.mark.slow
def test_numbers_bool_and_char(app: AppPage) -> None:
    found = app.run("""return [wasm.numbers(1, -2, 3, -4, 0.5, -6n, 7n),
        String(wasm.u64_max_minus(1n)), wasm.u32_sum(4000000000, 294967295),
        wasm.add(2147483647, 1), wasm.isEven(4), wasm.isEven(7), wasm.next_char("🦀"),
        wasm.next_color(wasm.Color.Blue), wasm.Color.Green, wasm.inline_twice(21)];""")
    assert found == [-0.5, str(2**64 - 2), 2**32 - 1, -(2**31), True, False, "🦁", 0, 1, 42]


@pytest.mark.slow
def test_option_as_none_and_as_some(app: AppPage) -> None:
    found = app.run("""return [wasm.initial(undefined) ?? "none", wasm.initial("éa"),
        wasm.half(null) ?? "none", wasm.half(3), wasm.opt_u32(undefined) ?? "none",
        wasm.opt_u32(4294967294), wasm.opt_bool(null) ?? "none", wasm.opt_bool(true)];""")
    assert found == ["none", "é", "none", 1.5, "none", 2**32 - 1, "none", False]


@pytest.mark.slow
def test_err_becomes_an_exception_and_an_exception_an_err(app: AppPage) -> None:
    found = app.run("""const caught = (f) => { try { return ["returned", f()]; }
                                          catch (e) { return ["threw", String(e)]; } };
        return [caught(() => wasm.parse_count("x")), caught(() => wasm.parse_count("12")),
                caught(() => wasm.fail_with("bad ✗")), wasm.try_risky(true),
                wasm.try_risky(false)];""")
    assert found == [["threw", "not a number"], ["returned", 12], ["threw", "Error: bad ✗"],
                     "err risky ✗ failed", "ok 42"]  # fmt: skip


@pytest.mark.slow
def test_vec_u8_and_f64_slices(app: AppPage) -> None:
    found = app.run("""const v = wasm.bytes(5); const buffer = new Uint8Array(4);
        wasm.fill(buffer, 7);
        const scaled = wasm.scaled(new Float64Array([1, 2.5]), 2);
        return [v.constructor.name, [...v], wasm.byte_sum([1, 2, 250]), wasm.js_byte_total(10),
                wasm.sum(new Float64Array([0.5, 1.25, 2])), wasm.sum([]), [...buffer],
                scaled.constructor.name, [...scaled], [...wasm.squares(4)]];""")
    assert found == ["Uint8Array", [0, 1, 2, 3, 4], 253, 45, 3.75, 0, [7, 7, 7, 7],
                     "Float64Array", [2, 5], [0, 1, 4, 9]]  # fmt: skip


@pytest.mark.slow
def test_closure_called_1000_times_then_dropped(app: AppPage) -> None:
    found = app.run("""const before = glue.liveCount();
        wasm.closure_start();
        const during = glue.liveCount();
        let last;
        for (let i = 1; i <= 1000; i++) last = globalThis.kindsCallback(i);
        wasm.closures_drop();
        let error;
        try { globalThis.kindsCallback(1); } catch (e) { error = String(e); }
        return { before, during, last, after: glue.liveCount(), error };""")
    assert found["last"] == 500_500
    assert found["during"] == found["before"] + 1  # the closure's JS function
    assert found["after"] == found["before"]
    assert "closure invoked recursively or destroyed already" in found["error"]


@pytest.mark.slow
def test_closure_once(app: AppPage) -> None:
    found = app.run("""const before = glue.liveCount();
        wasm.once_start("pré-");
        const first = globalThis.kindsCallback("🦀");
        let error;
        try { globalThis.kindsCallback("again"); } catch (e) { error = String(e); }
        wasm.closures_drop();
        return { first, error, leaked: glue.liveCount() - before };""")
    assert found["first"] == "pré-🦀"
    assert "more than once" in found["error"]
    assert found["leaked"] == 0


@pytest.mark.slow
def test_dyn_into_succeeds_and_fails(app: AppPage) -> None:
    found = app.run("""const div = document.createElement("div");
        let error;
        try { wasm.tag_of(5); } catch (e) { error = e; }
        return [wasm.is_html_element(div), wasm.is_html_element({}),
                wasm.is_html_element("div"), wasm.tag_of(div), error];""")
    assert found == [True, False, False, "DIV", 5]  # a failed dyn_into gives the value back


@pytest.mark.slow
def test_web_sys_dom_edit_is_visible(app: AppPage) -> None:
    assert app.run("return [wasm.add_item(arg), wasm.add_item('second')];", "Erste ✓") == [1, 2]
    items = app.page.locator("#list li")
    playwright_api.expect(items).to_have_text(["Erste ✓", "second"])
    app.run("wasm.mount('Click ✓');")
    button = app.page.locator("button")
    playwright_api.expect(button).to_have_text("Click ✓")
    button.click()
    button.click()  # the Event closure, twice
    playwright_api.expect(button).to_have_text("clicked 2")


@pytest.mark.slow
def test_exported_class_methods_and_free(app: AppPage) -> None:
    found = app.run("""const t = new wasm.Tally(5);
        const steps = [t.add(3), t.total()];
        const z = wasm.Tally.zero();
        z.add(2);
        t.absorb(z);
        steps.push(t.total(), t instanceof wasm.Tally, new wasm.Counter().bump(4));
        z.free();
        t.free();
        let error;
        try { t.total(); } catch (e) { error = String(e); }
        return [...steps, t.ptr, error];""")
    assert found[:6] == [8, 8, 10, True, 4, 0]
    assert "null pointer passed to rust" in found[6]


@pytest.mark.slow
def test_imports_of_every_kind(app: AppPage) -> None:
    found = app.run("""const bag = { old: "x" };
        const edited = wasm.bag_edit(bag);
        const o = {};
        return [wasm.greeter_round_trip("Ann"), wasm.settings().theme, edited, bag,
                wasm.same(o, o), wasm.same(o, {}), wasm.echo(o) === o,
                wasm.debug_text([1, "a", null]), wasm.now_plus(0) > 0];""")
    # constructor, final method, final setter and getter, static method (module snippet)
    assert found[0] == "hello, Ann / Bob / 1"
    assert found[1] == "dark ☾"  # an imported static
    assert found[2:4] == [True, {"added": "yes", "copied": "x"}]  # structural, indexing
    assert found[4:] == [True, False, True, 'JsValue([1, "a", null])', True]


@pytest.mark.slow
def test_heap_is_back_where_it_started(app: AppPage) -> None:
    found = app.run("""const before = glue.liveCount();
        for (let i = 0; i < 100; i++) { wasm.echo({ i }); wasm.tag_of(document.body);
                                         wasm.settings(); wasm.try_risky(true); }
        return glue.liveCount() - before;""")
    assert found == 0


# --- the runtime takes more descriptions later: what a patch does -----------------------------


def wat_module(text: str) -> bytes:
    return subprocess.run([WASM_TOOLS, "parse", "-"], input=text.encode(), check=True,
                          capture_output=True).stdout  # fmt: skip


PATCH_WAT = """(module
  (import "__wbindgen_placeholder__" "__wbg_max_patch" (func $max (param f64 f64) (result f64)))
  (import "__wbindgen_placeholder__" "__wbindgen_object_drop_ref" (func (param i32)))
  (func (export "run") (result f64) (call $max (f64.const 2) (f64.const 5))))"""
UNKNOWN_WAT = """(module
  (import "__wbindgen_placeholder__" "__wbg_nobody_knows" (func))
  (import "__wbindgen_placeholder__" "__wbindgen_frobnicate" (func)))"""


@pytest.mark.slow
def test_a_module_with_new_imports_runs_on_the_live_glue(app: AppPage) -> None:
    description = {"version": "0.2.83", "imports": [{
        "shim": "__wbg_max_patch", "op": "static-method", "path": ["Math", "max"],
        "module": None, "catch": False, "final": False, "variadic": False, "vendor": [],
        "args": ["f64", "f64"], "ret": "f64"}]}  # fmt: skip
    found = app.run("""const [bytes, unknownBytes, description] = arg;
        const patch = new WebAssembly.Module(new Uint8Array(bytes));
        let before;
        try { glue.importObject(patch); } catch (e) { before = String(e); }
        glue.add(description);
        const instance = new WebAssembly.Instance(patch, glue.importObject(patch));
        let unknown;
        try { glue.importObject(new WebAssembly.Module(new Uint8Array(unknownBytes))); }
        catch (e) { unknown = String(e); }
        return [before, instance.exports.run(), unknown];""",
                    [list(wat_module(PATCH_WAT)), list(wat_module(UNKNOWN_WAT)), description])
    assert "__wbg_max_patch" in found[0]
    assert found[1] == 5
    assert "__wbg_nobody_knows" in found[2] and "__wbindgen_frobnicate" in found[2]


# --- the dev build ----------------------------------------------------------------------------


@pytest.mark.slow
def test_dev_module_runs(browser: Any, dev_wasm: Path, tmp_path: Path) -> None:
    served = serve_glue(dev_wasm, tmp_path / "glue-dev")
    try:
        page = AppPage(browser, served.url)
        found = page.run("""wasm.closure_start();
            let last; for (let i = 1; i <= 10; i++) last = globalThis.kindsCallback(i);
            wasm.closures_drop();
            return [wasm.text_round_trip(arg), last, wasm.try_risky(true)];""", TEXT)
        assert found == [f"«{TEXT}→{len(TEXT)}» ✓", 55, "err risky ✗ failed"]
        assert "started" in page.console and page.errors == []
        page.close()
    finally:
        served.stop()


# --- the files, and what the glue refuses, on the real module (no browser) --------------------


@pytest.mark.slow
def test_served_module_and_files(release_wasm: Path) -> None:
    glue = generate_glue(release_wasm.read_bytes(), name="app")
    served = parse(glue.wasm)
    exports = {e.name: e.kind for e in served.decoded("export")}
    assert served.get("__wasm_bindgen_unstable") is None
    assert not [name for name in exports if name.startswith("__wbindgen_describe")]
    assert str(exports["__indirect_function_table"]) == "table"  # closures call through it
    assert {"greet", "__wbindgen_malloc", "__wbindgen_free", "memory"} <= set(exports)
    files = glue.files()
    crate = next(p for p in files if p.endswith("/snippets/kinds.js")).split("/")[1]
    assert set(files) == {"app.js", "app_bg.wasm", "bindgen.js",
                          f"snippets/{crate}/snippets/clock.js",
                          f"snippets/{crate}/snippets/kinds.js", f"snippets/{crate}/inline0.js"}
    assert "export function twice" in files[f"snippets/{crate}/inline0.js"].decode()
    # The entry module holds no adapter code: the runtime's import, the descriptions, re-exports.
    assert len(glue.entry.splitlines()) == 5
    assert glue.timings.plan + glue.timings.output < 1.0



def _with_import_renamed(wasm: WasmFile, old: str, new: str) -> WasmFile:
    imports: list[Import] = [dataclasses.replace(i, field=new) if i.field == old else i
                             for i in wasm.decoded("import")]  # fmt: skip
    out = WasmFile([dataclasses.replace(s) for s in wasm.sections])
    out.set("import", imports)
    return out


@pytest.mark.slow
def test_unknown_intrinsic_is_one_error_and_nothing_is_written(
    release_wasm: Path, release_bindings: Bindings, tmp_path: Path
) -> None:
    wasm = _with_import_renamed(parse(release_wasm.read_bytes()), "__wbindgen_jsval_eq",
                                "__wbindgen_jsval_eqq")  # fmt: skip
    out = tmp_path / "out"
    with pytest.raises(UnsupportedError, match=r"__wbindgen_placeholder__\.__wbindgen_jsval_eqq"
                       r".* not supported by rust-hmr's glue for wasm-bindgen 0\.2\.83"):
        write_glue(generate_glue(wasm, release_bindings), out)
    assert not out.exists()


def _with_export_type(bindings: Bindings, name: str, descriptor: Function) -> Bindings:
    exports = tuple(dataclasses.replace(e, descriptor=descriptor) if e.js_name == name else e
                    for e in bindings.exports)  # fmt: skip
    return dataclasses.replace(bindings, exports=exports)


@pytest.mark.slow
def test_a_descriptor_that_disagrees_with_the_wasm_type_is_refused(
    release_wasm: Path, release_bindings: Bindings
) -> None:
    f64 = Number(NumberKind.F64)
    wrong = _with_export_type(release_bindings, "sum", Function(0, (f64,), f64, f64))
    with pytest.raises(BindgenError, match=r"export sum has the wasm type \(i32, i32\) -> "
                       r"\(f64\), but its descriptor gives \(f64\) -> \(f64\)"):
        generate_glue(release_wasm.read_bytes(), wrong)


@pytest.mark.slow
def test_an_unsupported_type_names_itself_and_where(
    release_wasm: Path, release_bindings: Bindings
) -> None:
    clamped = Vector(Number(NumberKind.U8, clamped=True))
    wrong = _with_export_type(release_bindings, "bytes", Function(0, (), clamped, clamped))
    with pytest.raises(UnsupportedError, match=r"Clamped.* \(in export bytes\) is not supported"):
        generate_glue(release_wasm.read_bytes(), wrong)


@pytest.mark.parametrize(("descriptor", "message"), [
    (String(cached=True), "interned strings"),
    (Number(NumberKind.U8, clamped=True), "Clamped"),
    (Option(Option(String())), "Option<Option<String>>"),
    (Result(Result(Number(NumberKind.U32))), "nested Result"),
    (Vector(String()), "Vec<String>"),
])  # fmt: skip
def test_unsupported_types(descriptor: Any, message: str) -> None:
    with pytest.raises(UnsupportedError, match=re.escape(message)):
        lower(descriptor)


def test_runtime_implements_exactly_the_intrinsics() -> None:
    source = (RUNTIME_DIR / "bindgen.js").read_text()
    block = source.split("export const INTRINSICS = {")[1].split("\n};")[0]
    assert set(re.findall(r"^  (__wbindgen_\w+):", block, re.M)) == INTRINSICS
