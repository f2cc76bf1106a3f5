"""`bundle` on a wasm-bindgen crate: examples/todo (web-sys, closures, a `thread_local!` list),
built offline against Debian's packaged crates with real cargo, its dist/ served by a plain
static file server and run in Chromium; the glue's files hashed and integrity checked; a module
of another wasm-bindgen schema refused without touching dist/.

The unit tests at the end build dist/ from hand-made glue parts, without cargo.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import blake3
import pytest
from bindgen_deps import BindgenDeps
from conftest import EXAMPLES, copy_crate
from test_bindgen import DEBIAN_CRATES, DEBIAN_REGISTRY
from test_browser import StaticServer
from test_bundle import HASHED, sri
from test_rules import DODO, DOIT_CFG, dist_files, doit, snapshot

from rust_hmr.bindgen.served import GlueParts
from rust_hmr.rules.dist import DistGlue, build_dist
from rust_hmr.runtime import RUNTIME_DIR
from rust_hmr.wasm import parse

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update"]  # fmt: skip
RELEASE_MODULE = Path("target/rust-hmr/stages/compile-release/todo.wasm")
IMPORT_MAP = re.compile(r'<script type="importmap">(.*?)</script>')
ENTRY_TAG = re.compile(r'<script type="module" src="\./([^"]+)" integrity="([^"]+)"></script>')


@pytest.fixture(scope="module")
def todo(tmp_path_factory: pytest.TempPathFactory, bindgen_deps: BindgenDeps) -> Path:
    """A copy of examples/todo with a dodo.py, bundled once (cargo runs here, about a minute
    cold)."""
    missing = [name for name in DEBIAN_CRATES if not (DEBIAN_REGISTRY / name).is_dir()]
    if missing:
        pytest.skip(f"Debian's packaged crates are not installed ({', '.join(missing)}): "
                    "apt-get install librust-wasm-bindgen-dev librust-web-sys-dev "
                    "librust-js-sys-dev librust-console-error-panic-hook-dev")
    crate = copy_crate(EXAMPLES / "todo", tmp_path_factory.mktemp("bundle-bindgen") / "todo")
    (crate / "dodo.py").write_text(DODO)
    (crate / "doit.cfg").write_text(DOIT_CFG)
    bindgen_deps.seed(crate, "release")  # the registry crates, compiled once per session
    run = doit(crate, "bundle")
    assert {"optimize", "bundle"} <= run.ran
    return crate


def manifest(crate: Path) -> dict[str, dict[str, Any]]:
    data = json.loads((crate / "dist" / "manifest.json").read_text())
    return {str(entry["name"]): entry for entry in data["files"]}


@pytest.fixture
def served(todo: Path) -> Iterator[str]:
    server = StaticServer(todo / "dist")
    yield server.url
    server.stop()


@pytest.mark.slow
def test_the_todo_app_runs_from_a_plain_static_server(served: str) -> None:
    """Add three items by typing and clicking, toggle one, remove one: the list and the count
    follow, and the console stays quiet."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=CHROMIUM_ARGS)  # fmt: skip
        page = browser.new_page()
        console: list[str] = []
        page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
        page.on("pageerror", lambda error: console.append(f"error: {error}"))
        page.goto(served)
        page.wait_for_selector("#add", timeout=30_000)
        assert page.text_content("#count") == "0 items left"
        for text in ("milk", "  bread ", "tea ☕"):
            page.fill("#new-todo", text)
            page.click("#add")
        page.click("#add")  # the input is empty now: nothing is added
        assert page.eval_on_selector_all("#list li span", "s => s.map(e => e.textContent)") == [
            "milk", "bread", "tea ☕"]
        assert page.input_value("#new-todo") == ""
        assert page.text_content("#count") == "3 items left"
        page.click("#list li:nth-child(2) [data-action=toggle]")
        assert page.text_content("#count") == "2 items left"
        assert page.get_attribute("#list li:nth-child(2)", "class") == "done"
        assert page.is_checked("#list li:nth-child(2) [data-action=toggle]")
        page.click("#list li:nth-child(1) [data-action=remove]")
        assert page.text_content("#count") == "1 item left"
        assert page.eval_on_selector_all("#list li span", "s => s.map(e => e.textContent)") == [
            "bread", "tea ☕"]
        assert page.evaluate("typeof globalThis.app") == "object"  # as the plain loader does
        page.wait_for_timeout(200)
        browser.close()
    assert not [line for line in console if line.startswith(("warning", "error"))], console


@pytest.mark.slow
def test_every_file_carries_its_hash_and_the_page_its_integrity(todo: Path) -> None:
    files = manifest(todo)
    assert set(files) == {"index.html", "style.css", "todo.wasm", "todo.js", "bindgen.js"}
    on_disk = dist_files(todo)
    assert set(on_disk) == {str(e["file"]) for e in files.values()} | {"manifest.json"}
    for name, entry in files.items():
        data = on_disk[str(entry["file"])]
        assert (entry["size"], entry["blake3"], entry["integrity"]) == (
            len(data), blake3.blake3(data).hexdigest(), sri(data))
        if name != "index.html":
            match = HASHED.match(str(entry["file"]))
            assert match and match["hash"] == str(entry["blake3"])[:16], entry["file"]
    assert on_disk[files["bindgen.js"]["file"]] == (RUNTIME_DIR / "bindgen.js").read_bytes()

    page = on_disk["index.html"].decode()
    assert "loader" not in page and "data-wasm" not in page
    (entry_file, entry_integrity), = ENTRY_TAG.findall(page)
    assert [entry_file, entry_integrity] == [files["todo.js"][k] for k in ("file", "integrity")]
    import_map = json.loads(IMPORT_MAP.search(page)[1])  # type: ignore[index]
    runtime = files["bindgen.js"]
    assert import_map == {"integrity": {f"./{runtime['file']}": runtime["integrity"]}}
    style = files["style.css"]
    assert f'href="./{style["file"]}" integrity="{style["integrity"]}"' in page
    assert page.index('type="importmap"') < page.index('type="module"')

    entry_js = on_disk[entry_file].decode()
    wasm = files["todo.wasm"]
    assert f'from "./{runtime["file"]}";' in entry_js
    fetch = {"url": f"./{wasm['file']}", "integrity": wasm["integrity"], "start": True}
    assert json.dumps(fetch) in entry_js
    module = parse(on_disk[str(wasm["file"])])
    assert module.get("__wasm_bindgen_unstable") is None
    assert not [e.name for e in module.decoded("export") if e.name.startswith("__wbindgen_desc")]
    assert "__indirect_function_table" in {e.name for e in module.decoded("export")}


@pytest.mark.slow
def test_a_second_bundle_changes_nothing(todo: Path) -> None:
    before = snapshot(todo / "dist")
    run = doit(todo, "bundle")
    assert run.ran == set()
    assert snapshot(todo / "dist") == before
    # Forced, from the cache: the same bytes, no file written.
    run = doit(todo, "bundle", "--always-execute")
    assert run.ran >= {"optimize", "bundle"}
    assert snapshot(todo / "dist") == before


@pytest.mark.slow
def test_another_schema_version_fails_the_bundle_and_leaves_dist(todo: Path) -> None:
    before = snapshot(todo / "dist")
    module = todo / RELEASE_MODULE
    built = module.read_bytes()
    forged = built.replace(b'"schema_version":"0.2.83"', b'"schema_version":"0.2.99"', 1)
    assert forged != built and len(forged) == len(built)
    module.write_bytes(forged)  # as a crate built with another wasm-bindgen would give it
    try:
        run = doit(todo, "bundle", check=False, report=False)  # the stage reporter's own lines
        assert run.code != 0
        assert "bindgen" in run.stderr and "\nbundle " not in run.stderr
        errors = [line for line in run.stderr.splitlines() if "0.2.99" in line]
        assert errors == ["error in optimize: wasm-bindgen: the module was built with "
                          "wasm-bindgen schema version '0.2.99', but only '0.2.83' is "
                          'supported: depend on wasm-bindgen = "=0.2.83"'], run.stderr
        assert "Traceback" not in run.stderr
        assert snapshot(todo / "dist") == before
    finally:
        module.write_bytes(built)
    doit(todo, "bundle")
    assert snapshot(todo / "dist") == before


# --- the files of a glue bundle, without a build -----------------------------------------------


def glue_parts() -> GlueParts:
    descriptions: dict[str, Any] = {
        "version": "0.2.83", "imports": [], "types": [], "closures": [], "exports": [],
        "classes": [], "enums": {}, "start": None,
        "table": "__indirect_function_table"}  # fmt: skip
    return GlueParts(
        descriptions,
        {"crate-1/inline0.js": "./snippets/crate-1/inline0.js", "some-package": "some-package"},
        {"snippets/crate-1/inline0.js": "export const two = () => 2;\n"},
    )


def test_snippets_are_hashed_and_imported_by_their_hashed_names() -> None:
    glue = DistGlue(glue_parts(), b"export function entry() {}\n")
    files = build_dist("app", b"\0asm\1\0\0\0", {}, glue=glue)
    assert build_dist("app", b"\0asm\1\0\0\0", {}, glue=glue) == files  # deterministic
    entries = {e["name"]: e for e in json.loads(files["manifest.json"])["files"]}
    assert set(entries) == {"index.html", "app.wasm", "app.js", "bindgen.js",
                            "snippets/crate-1/inline0.js"}
    snippet = entries["snippets/crate-1/inline0.js"]
    assert re.fullmatch(r"snippets/crate-1/inline0\.[0-9a-f]{16}\.js", snippet["file"])
    entry = files[entries["app.js"]["file"]].decode()
    specifiers = {"crate-1/inline0.js": f"./{snippet['file']}",
                  "some-package": "some-package"}  # resolved by the page, as written
    assert json.dumps(specifiers) in entry
    page = files["index.html"].decode()
    import_map = json.loads(IMPORT_MAP.search(page)[1])  # type: ignore[index]
    assert import_map["integrity"][f"./{snippet['file']}"] == snippet["integrity"]
    assert set(files) == {e["file"] for e in entries.values()} | {"manifest.json"}


def test_glue_parts_survive_their_json() -> None:
    parts = glue_parts()
    assert GlueParts.from_json(parts.to_json()) == parts
    assert parts.snippet_of("crate-1/inline0.js") == "snippets/crate-1/inline0.js"
    assert parts.snippet_of("some-package") is None
