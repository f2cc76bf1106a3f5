"""The glue's entry module: one template (rust_hmr/runtime/entry.js) for the dev server, the
written glue and the bundle, its slots filled with data only. Every slot is filled, the module
runs (the written glue's under node, a bundle's in Chromium, where the runtime imports the
snippets under the import map's integrity), and no JavaScript is left in rust_hmr's Python
strings. A small hand-written module stands in for a crate: no cargo runs here.
"""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import wasmtime
from test_browser import StaticServer

import rust_hmr
from rust_hmr.bindgen import BindgenError
from rust_hmr.bindgen._entry import ENTRY_TEMPLATE, OWN_NAMES, check_export_names, fill
from rust_hmr.bindgen._modules import JsModules
from rust_hmr.bindgen.glue import entry_module
from rust_hmr.bindgen.served import GlueParts
from rust_hmr.rules.dist import DistGlue, build_dist
from rust_hmr.runtime import RUNTIME_DIR

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update"]  # fmt: skip
SNIPPET_KEY = "crate-1/inline0.js"
SNIPPET = f"snippets/{SNIPPET_KEY}"
# `answer` is 42 once `start` has run: 2 from the snippet, 39, and the 1 `start` stores.
APP_WAT = """(module
  (import "__wbindgen_placeholder__" "__wbg_two_1" (func $two (result i32)))
  (memory (export "memory") 1)
  (table (export "__indirect_function_table") 1 funcref)
  (global $started (mut i32) (i32.const 0))
  (func (export "start") (global.set $started (i32.const 1)))
  (func (export "answer") (result i32)
    (i32.add (call $two) (i32.add (i32.const 39) (global.get $started)))))"""
DESCRIPTIONS: dict[str, Any] = {
    "version": "0.2.83",
    "imports": [{"shim": "__wbg_two_1", "op": "call", "path": ["two"], "module": SNIPPET_KEY,
                 "catch": False, "final": False, "args": [], "ret": "i32"}],
    "types": [], "closures": [],
    "exports": [{"name": "answer", "wasm": "answer", "class": None, "op": "function",
                 "args": [], "ret": "i32"}],
    "classes": [], "enums": {"Color": {"Red": 0, "Blue": 1}}, "start": "start",
    "table": "__indirect_function_table",
    "note": 'data that looks like a slot: "@wasm@" /* @names@ */ </script> \u2028',
}  # fmt: skip
SNIPPET_JS = "export const two = () => 2;\n"


def test_the_template_has_each_slot_once_and_fill_refuses_a_missing_value() -> None:
    template = ENTRY_TEMPLATE.read_text()
    assert sorted(re.findall(r'"@(\w+)@"', template)) == [
        "descriptions", "modules", "runtime", "wasm"]
    assert re.findall(r"/\* @(\w+)@ \*/", template) == ["names"]
    with pytest.raises(ValueError, match="slots"):
        fill(template, {"runtime": "./bindgen.js"}, [])


def test_export_names_are_identifiers_the_entry_can_bind() -> None:
    assert check_export_names(["b", "a", "$x"]) == ["$x", "a", "b"]
    for name in ["new", "delete", "class", "eval", "a-b", "1a", "", *OWN_NAMES]:
        with pytest.raises(BindgenError, match="cannot be an ES module export name"):
            check_export_names([name])
    with pytest.raises(BindgenError, match="share a JS name"):
        check_export_names(["a", "a"])


def _glue_entry(runtime: str) -> str:
    modules = JsModules(())
    modules.specifiers[SNIPPET_KEY] = f"./{SNIPPET}"
    return entry_module(DESCRIPTIONS, modules, runtime, "app_bg.wasm")


def test_the_written_entry_is_the_template_with_data_only() -> None:
    entry = _glue_entry("./bindgen.js")
    code = [line for line in ENTRY_TEMPLATE.read_text().splitlines() if not line.startswith("//")]
    assert len(entry.splitlines()) == len(code)
    assert json.dumps(DESCRIPTIONS) in entry  # as JSON, its slot-like text left as it is
    assert not re.search(r'"@\w+@"|/\* @\w+@ \*/', entry.replace(json.dumps(DESCRIPTIONS), ""))
    assert 'from "./bindgen.js";' in entry
    assert "export const { Color, answer } = glue.api;" in entry


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_written_entry_runs_under_node(tmp_path: Path) -> None:
    """What `generate_glue` writes: the default export instantiates the module, whose import
    comes from the snippet that the runtime imported relative to the entry."""
    (tmp_path / "app.js").write_text(_glue_entry("./bindgen.js"))
    shutil.copy(RUNTIME_DIR / "bindgen.js", tmp_path / "bindgen.js")
    (tmp_path / SNIPPET).parent.mkdir(parents=True)
    (tmp_path / SNIPPET).write_text(SNIPPET_JS)
    (tmp_path / "app_bg.wasm").write_bytes(wasmtime.wat2wasm(APP_WAT))
    (tmp_path / "main.mjs").write_text(
        'import init, { answer, Color, glue } from "./app.js";\n'
        'import { readFile } from "node:fs/promises";\n'
        'const api = await init(readFile(new URL("./app_bg.wasm", import.meta.url)));\n'
        "console.log(JSON.stringify([answer(), Color.Blue, api === glue.api,\n"
        "  glue.modules[" + json.dumps(SNIPPET_KEY) + "].two()]));\n")
    run = subprocess.run(["node", "main.mjs"], cwd=tmp_path, capture_output=True, text=True,
                         timeout=60, check=False)  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == [42, 1, True, 2]


# --- a bundle in Chromium -----------------------------------------------------------------------


def _bundle(out: Path) -> dict[str, str]:
    """A bundle of the hand-written module in `out`; returns the manifest's files by name."""
    parts = GlueParts(DESCRIPTIONS, {SNIPPET_KEY: f"./{SNIPPET}"}, {SNIPPET: SNIPPET_JS})
    glue = DistGlue(parts, (RUNTIME_DIR / "bindgen.js").read_bytes())
    files = build_dist("app", bytes(wasmtime.wat2wasm(APP_WAT)), {}, glue=glue)
    for name, data in files.items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_bytes(data)
    return {e["name"]: e["file"] for e in json.loads(files["manifest.json"])["files"]}


@pytest.fixture
def chromium() -> Iterator[Any]:
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=CHROMIUM_ARGS)  # fmt: skip
        yield browser
        browser.close()


def _open(browser: Any, root: Path) -> tuple[Any, list[str], StaticServer]:
    server = StaticServer(root)
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.add_init_script("addEventListener('app-ready', (e) => { window.readyDetail = e.detail; })")
    page.goto(server.url)
    return page, errors, server


def test_the_bundle_entry_starts_the_app_and_announces_it(chromium: Any, tmp_path: Path) -> None:
    names = _bundle(tmp_path)
    page, errors, server = _open(chromium, tmp_path)
    try:
        page.wait_for_function("window.readyDetail !== undefined", timeout=20_000)
        found = page.evaluate("""async (entry) => {
            const module = await import(entry);
            return [app.answer(), readyDetail === app, module.default() === app,
                    module.answer === app.answer, module.Color.Red];
        }""", f"./{names['app.js']}")  # fmt: skip
    finally:
        server.stop()
    assert found == [42, True, True, True, 0]
    assert errors == []


def test_a_snippet_that_fails_its_integrity_stops_the_bundle(chromium: Any,
                                                             tmp_path: Path) -> None:  # fmt: skip
    """The runtime imports the snippets with `import()`: the import map's integrity holds."""
    names = _bundle(tmp_path)
    (tmp_path / names[SNIPPET]).write_text("export const two = () => 3;\n")
    page, errors, server = _open(chromium, tmp_path)
    try:
        for _ in range(200):
            if any("Failed to fetch dynamically imported module" in e for e in errors):
                break
            page.wait_for_timeout(100)
        ready = page.evaluate("window.readyDetail !== undefined")
    finally:
        server.stop()
    assert not ready
    assert [e for e in errors if "integrity" in e and names[SNIPPET] in e], errors


# --- no JavaScript in rust_hmr's Python --------------------------------------------------------

# What JavaScript code looks like, and English prose (messages, docstrings) does not.
_JAVASCRIPT = re.compile(
    r"\bimport\s*[{*]|\bimport\s*\(\s*[\"'`]|\bimport\.meta\b|=>|\bglobalThis\b|\bdispatchEvent\b"
    r"|\bexport\s+(?:const|let|default|function|class|async)\b|\bnew URL\("
    r"|\bfunction\s*\w*\s*\([^)]*\)\s*\{|\b(?:const|let)\s+\w+\s*=")


def _docstrings(tree: ast.Module) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            first = node.body[0] if node.body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def javascript_in_strings(source: str) -> list[str]:
    """The string literals (f-string parts included, docstrings not) of a Python source that
    read as JavaScript code."""
    tree = ast.parse(source)
    docstrings = _docstrings(tree)
    return [node.value for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and id(node) not in docstrings and _JAVASCRIPT.search(node.value)]  # fmt: skip


def test_the_scan_finds_an_entry_written_as_strings() -> None:
    old = ('def entry(runtime):\n    """Writes `import x from "y"` (prose)."""\n'
           '    return f"import {{ entry }} from {runtime};\\nexport default () => glue.api;"\n')
    assert javascript_in_strings(old) == ["import { entry } from ", ";\nexport default () => "
                                          "glue.api;"]


def test_no_javascript_is_inside_a_python_file() -> None:
    package = Path(rust_hmr.__file__).parent
    found = {str(path.relative_to(package)): hits for path in sorted(package.rglob("*.py"))
             if (hits := javascript_in_strings(path.read_text()))}  # fmt: skip
    assert found == {}, "JavaScript belongs in rust_hmr/runtime/: " + repr(found)
