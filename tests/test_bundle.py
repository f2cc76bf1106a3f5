"""`bundle`: what dist/ holds, and the artifact cache behind it (local, shared, remote).

Every test builds copies of examples/counter with real cargo. A recording toolchain (wrappers
for rustc and cargo that log each call, then run the real ones) shows when a build compiled
nothing.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import blake3
import pytest
from nginx_server import NginxServer, nginx_cache_fixture, nginx_server_fixture  # noqa: F401
from test_rules import BUNDLE_STAGES, base_env, dist_files, doit, make_crate

from rust_hmr.toolchain import Toolchain

pytestmark = pytest.mark.slow

PAGE = """<!doctype html>
<html>
<head>
<meta charset="utf-8">
<title>Counter</title>
<link rel="stylesheet" href="css/site.css">
</head>
<body>
<h1>Counter</h1>
<img src="./img/logo.svg" alt="logo">
<a href="https://example.org/">elsewhere</a>
</body>
</html>
"""
CSS = "h1 { background: url('../img/logo.svg') no-repeat; }\n"
SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>\n'
HASHED = re.compile(r"^(?P<stem>.+)\.(?P<hash>[0-9a-f]{16})(?P<ext>\.[a-z]+)$")


def add_static(crate: Path) -> None:
    static = crate / "static"
    (static / "css").mkdir(parents=True)
    (static / "img").mkdir()
    (static / "index.html").write_text(PAGE)
    (static / "css" / "site.css").write_text(CSS)
    (static / "img" / "logo.svg").write_text(SVG)


@pytest.fixture(scope="module")
def bundled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    crate = make_crate(tmp_path_factory.mktemp("bundle") / "counter")
    add_static(crate)
    doit(crate, "bundle")
    return crate


def manifest(crate: Path, dist: str = "dist") -> dict[str, dict[str, object]]:
    data = json.loads((crate / dist / "manifest.json").read_text())
    assert data["crate"] == "counter"
    return {str(entry["name"]): entry for entry in data["files"]}


def sri(data: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()


def test_dist_holds_hashed_files_and_a_manifest_that_describes_them(bundled: Path) -> None:
    files = manifest(bundled)
    assert set(files) == {"counter.wasm", "loader.js", "page.js", "index.html", "css/site.css",
                          "img/logo.svg"}
    on_disk = dist_files(bundled)
    assert set(on_disk) == {str(e["file"]) for e in files.values()} | {"manifest.json"}
    for name, entry in files.items():
        data = on_disk[str(entry["file"])]
        assert entry["size"] == len(data)
        assert entry["blake3"] == blake3.blake3(data).hexdigest()
        assert entry["integrity"] == sri(data)
        if name == "index.html":
            assert entry["file"] == "index.html"
            continue
        match = HASHED.match(str(entry["file"]))
        assert match, entry["file"]
        assert match["hash"] == str(entry["blake3"])[:16]
        assert f"{match['stem']}{match['ext']}" == name


def test_the_page_loads_everything_by_hashed_name_with_integrity(bundled: Path) -> None:
    files = manifest(bundled)
    page = (bundled / "dist" / "index.html").read_text()
    wasm, loader, css, logo = (files[n] for n in ("counter.wasm", "loader.js", "css/site.css",
                                                  "img/logo.svg"))
    assert (f'<script type="module" src="./{loader["file"]}" '
            f'integrity="{loader["integrity"]}" data-wasm="./{wasm["file"]}" '
            f'data-wasm-integrity="{wasm["integrity"]}"></script>') in page
    page_js = files["page.js"]  # the loader imports it by its hashed name, integrity checked
    assert f'"./{page_js["file"]}"' in (bundled / "dist" / str(loader["file"])).read_text()
    imports = json.loads(page.split('<script type="importmap">')[1].split("</script>")[0])
    assert imports == {"integrity": {f'./{page_js["file"]}': page_js["integrity"]}}
    assert "preload" not in page  # browsers ignore integrity on a preload, and warn
    assert (f'<link rel="stylesheet" href="./{css["file"]}" integrity="{css["integrity"]}">'
            in page)
    assert f'<img src="./{logo["file"]}" alt="logo">' in page
    assert '<a href="https://example.org/">elsewhere</a>' in page  # the template's own text
    assert "<h1>Counter</h1>" in page
    style = (bundled / "dist" / str(css["file"])).read_text()
    assert f"url('../img/{Path(str(logo['file'])).name}')" in style


def test_the_wasm_is_the_release_build_without_debug_sections(bundled: Path) -> None:
    from rust_hmr.host import Host
    from rust_hmr.wasm.module import parse

    entry = manifest(bundled)["counter.wasm"]
    data = (bundled / "dist" / str(entry["file"])).read_bytes()
    module = parse(data)
    custom = [s.name for s in module.sections if s.is_custom]
    assert not [name for name in custom if name.startswith(".debug")]
    assert "name" in custom  # strip = "debug" keeps the names, for stack traces
    exports = {e.name for e in module.decoded("export")}
    assert "__stack_pointer" not in exports  # no HMR link arguments
    assert not any(name.startswith("_ZN") for name in exports)
    host = Host(data)
    assert [host.call("increment"), host.call("increment"), host.call("label_len")] == [1, 2, 8]
    assert len(data) < 200_000  # the cargo output carries about 5 MB of DWARF


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_loader_fetches_with_integrity_and_instantiates(bundled: Path, tmp_path: Path) -> None:
    files = manifest(bundled)
    dist = bundled / "dist"
    wasm = files["counter.wasm"]
    harness = tmp_path / "harness.mjs"
    harness.write_text(f"""
import {{ readFileSync }} from "node:fs";
import {{ createHash }} from "node:crypto";
const wasmPath = {json.dumps(str(dist / str(wasm["file"])))};
globalThis.document = {{ querySelector: () => ({{ dataset: {{ wasm: wasmPath,
    wasmIntegrity: {json.dumps(wasm["integrity"])} }} }}) }};
globalThis.location = {{ href: "file:///" }};
globalThis.dispatchEvent = () => true;
globalThis.fetch = async (url, options) => {{
  const bytes = readFileSync(url);
  const digest = "sha384-" + createHash("sha384").update(bytes).digest("base64");
  if (options.integrity !== digest) throw new TypeError("integrity mismatch");
  return new Response(bytes, {{ headers: {{ "content-type": "application/wasm" }} }});
}};
await import({json.dumps((dist / str(files["loader.js"]["file"])).as_uri())});
console.log(globalThis.app.increment(), globalThis.app.increment());
""")
    done = subprocess.run(["node", str(harness)], capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["1", "2"]


def test_dist_served_by_a_plain_static_server_runs_in_chromium(bundled: Path) -> None:
    """The page loads the loader and the wasm, integrity checked, without a console warning."""
    from test_browser import CHROMIUM, CHROMIUM_ARGS, StaticServer, playwright_api

    server = StaticServer(bundled / "dist")
    try:
        with playwright_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                                 args=CHROMIUM_ARGS)
            page = browser.new_page()
            console: list[str] = []
            page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
            page.goto(server.url)
            page.wait_for_function("globalThis.app !== undefined", timeout=30_000)
            assert page.evaluate("[app.increment(), app.increment()]") == [1, 2]
            page.wait_for_timeout(200)
            browser.close()
    finally:
        server.stop()
    assert not [line for line in console if line.startswith(("warning", "error"))], console


@pytest.mark.skipif(shutil.which("wasm-opt") is None, reason="binaryen's wasm-opt not installed")
def test_wasm_opt_is_used_when_installed_and_can_be_turned_off(bundled: Path) -> None:
    optimized = manifest(bundled)["counter.wasm"]
    run = doit(bundled, "bundle", "--wasm-opt", "false", "--dist-dir", "plain")
    assert run.ran == {"optimize", "bundle"}
    plain = manifest(bundled, "plain")["counter.wasm"]
    assert int(str(plain["size"])) > int(str(optimized["size"]))
    doit(bundled, "bundle")  # back to the default settings, from the cache


# --- the cache ---------------------------------------------------------------------------


def recording_toolchain(toolchain: Toolchain, where: Path) -> tuple[dict[str, str], Path]:
    """Environment that makes rust-hmr use rustc and cargo wrappers that log every call."""
    where.mkdir(parents=True, exist_ok=True)
    log = where / "calls.log"
    env = {}
    for tool, real in (("rustc", toolchain.rustc), ("cargo", toolchain.cargo)):
        wrapper = where / tool
        wrapper.write_text(f'#!/bin/sh\necho "{tool} $*" >> "{log}"\nexec "{real}" "$@"\n')
        wrapper.chmod(0o755)
        env[f"RUST_HMR_{tool.upper()}"] = str(wrapper)
    env["RUST_HMR_WASM_LD"] = str(toolchain.wasm_ld)
    return env, log


def compiler_calls(log: Path) -> list[str]:
    """The logged calls that built something (toolchain discovery only asks for versions)."""
    queries = {"rustc -vV", "rustc --print sysroot", "cargo -V"}
    lines = log.read_text().splitlines() if log.exists() else []
    return [line for line in lines if line.strip() not in queries]


def test_a_clean_checkout_with_a_warm_remote_cache_compiles_nothing(
    tmp_path: Path, toolchain: Toolchain, nginx_cache: tuple[str, str]
) -> None:
    base_url, token = nginx_cache
    remote = {"RUST_HMR_REMOTE_CACHE": base_url, "RUST_HMR_CACHE_TOKEN": token}
    warm = make_crate(tmp_path / "ci-run-1" / "counter")
    add_static(warm)
    assert doit(warm, "bundle", env=remote).ran == BUNDLE_STAGES

    clean = make_crate(tmp_path / "ci-run-2" / "counter")  # a fresh checkout, no target/
    add_static(clean)
    wrappers, log = recording_toolchain(toolchain, tmp_path / "bin")
    run = doit(clean, "bundle", env={**remote, **wrappers})
    assert run.ran == BUNDLE_STAGES  # each stage ran: as a cache hit
    assert compiler_calls(log) == []  # cargo never started, rustc compiled nothing
    assert not (clean / "target" / "rust-hmr" / toolchain.target).exists()
    assert dist_files(clean) == dist_files(warm)


def test_a_corrupted_remote_blob_is_detected_and_rebuilt(
    tmp_path: Path, toolchain: Toolchain, nginx_server: NginxServer
) -> None:
    base_url = nginx_server.new_prefix()
    remote = {"RUST_HMR_REMOTE_CACHE": base_url, "RUST_HMR_CACHE_TOKEN": nginx_server.token}
    warm = make_crate(tmp_path / "ci-run-1" / "counter")
    doit(warm, "bundle", env=remote)
    wasm = (warm / "target/rust-hmr/stages/compile-release/counter.wasm").read_bytes()
    digest = blake3.blake3(wasm).hexdigest()
    blob = nginx_server.file_of(base_url, "cas", digest)
    blob.write_bytes(wasm[:-1] + bytes([wasm[-1] ^ 1]))

    clean = make_crate(tmp_path / "ci-run-2" / "counter")
    wrappers, log = recording_toolchain(toolchain, tmp_path / "bin")
    run = doit(clean, "bundle", env={**remote, **wrappers})
    assert run.ran == BUNDLE_STAGES
    assert any(call.startswith("cargo build") for call in compiler_calls(log))  # rebuilt
    assert "corrupt" in run.stdout
    assert dist_files(clean) == dist_files(warm)
    assert blob.read_bytes() == wasm  # the rebuild pushed a good copy over the bad one


def test_a_corrupted_local_blob_is_detected_and_rebuilt(
    tmp_path: Path, toolchain: Toolchain
) -> None:
    from rust_hmr.cache import LocalStore

    cache_dir = tmp_path / "shared-cache"
    first = make_crate(tmp_path / "a" / "counter")
    doit(first, "bundle", f"cache-dir={cache_dir}")
    wasm = (first / "target/rust-hmr/stages/compile-release/counter.wasm").read_bytes()
    digest = blake3.blake3(wasm).hexdigest()
    blob = LocalStore(cache_dir).path("cas", digest)
    assert blob.read_bytes() == wasm
    blob.write_bytes(b"\0" * len(wasm))  # the same size, other bytes

    second = make_crate(tmp_path / "b" / "counter")
    wrappers, log = recording_toolchain(toolchain, tmp_path / "bin")
    run = doit(second, "bundle", f"cache-dir={cache_dir}", env=wrappers)
    assert "compile:release" in run.ran
    assert any(call.startswith("cargo build") for call in compiler_calls(log))  # rebuilt
    assert "corrupt" in run.stdout  # the warning, in doit's JSON report
    assert dist_files(second) == dist_files(first)
    assert blake3.blake3(blob.read_bytes()).hexdigest() == digest  # a good copy again


def test_two_builds_at_once_on_one_cache(tmp_path: Path, toolchain: Toolchain) -> None:
    from rust_hmr.cache import ArtifactCache, LocalStore
    from rust_hmr.host import Host

    cache_dir = tmp_path / "shared-cache"
    crates = [make_crate(tmp_path / name / "counter") for name in ("one", "two", "three")]
    lib = crates[2] / "src" / "lib.rs"
    lib.write_text(lib.read_text().replace("const STEP: i32 = 1;", "const STEP: i32 = 2;"))
    cmd = [sys.executable, "-m", "doit", "bundle", f"cache-dir={cache_dir}"]
    procs = [subprocess.Popen(cmd, cwd=crate, env=base_env(), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) for crate in crates]
    outputs = [proc.communicate(timeout=600)[0] for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0, 0], "\n".join(outputs)

    def first_click(crate: Path) -> int:
        entry = manifest(crate)["counter.wasm"]
        return int(Host((crate / "dist" / str(entry["file"])).read_bytes()).call("increment"))

    assert [first_click(crate) for crate in crates] == [1, 1, 2]
    assert dist_files(crates[0]) == dist_files(crates[1])
    assert ArtifactCache(LocalStore(cache_dir)).verify() == []

    # What they stored serves a fresh checkout, which compiles nothing.
    fresh = make_crate(tmp_path / "four" / "counter")
    wrappers, log = recording_toolchain(toolchain, tmp_path / "bin")
    doit(fresh, "bundle", f"cache-dir={cache_dir}", env=wrappers)
    assert compiler_calls(log) == []
    assert dist_files(fresh) == dist_files(crates[0])


# --- the files of a bundle, without a build ------------------------------------------------


def test_build_dist_rewrites_absolute_references_and_is_deterministic() -> None:
    from rust_hmr.rules.dist import build_dist

    page = b'<body><script src="/js/app.js"></script><img src="/img/a.png"></body>'
    assets = {"index.html": page, "js/app.js": b"console.log(1)\n", "img/a.png": b"\x89PNG",
              "css/x.css": b"a { background: url(/img/a.png) } b { background: url(#f) }"}
    files = build_dist("app", b"\0asm\1\0\0\0", assets)
    assert build_dist("app", b"\0asm\1\0\0\0", dict(reversed(assets.items()))) == files
    entries = {e["name"]: e for e in json.loads(files["manifest.json"])["files"]}
    js, png, css = entries["js/app.js"], entries["img/a.png"], entries["css/x.css"]
    text = files["index.html"].decode()
    # No </head>: the loader goes before <body>.
    assert text.index("data-wasm=") < text.index("<body>")
    assert f'<script src="/{js["file"]}" integrity="{js["integrity"]}"></script>' in text
    assert f'<img src="/{png["file"]}">' in text
    assert f"url(/{png['file']})" in files[css["file"]].decode()
    assert "url(#f)" in files[css["file"]].decode()
    assert set(files) == {e["file"] for e in entries.values()} | {"manifest.json"}


def test_write_dist_keeps_unchanged_files_and_removes_only_its_old_ones(tmp_path: Path) -> None:
    from rust_hmr.rules.dist import build_dist, write_dist

    dist = tmp_path / "dist"
    first = build_dist("app", b"\0asm\1\0\0\0", {"a.txt": b"one"})
    assert sorted(write_dist(dist, first).written) == sorted(first)
    (dist / "robots.txt").write_text("mine\n")
    mtimes = {p.name: p.stat().st_mtime_ns for p in dist.iterdir()}
    again = write_dist(dist, first)
    assert again.written == [] and again.removed == []
    assert {p.name: p.stat().st_mtime_ns for p in dist.iterdir()} == mtimes
    second = build_dist("app", b"\0asm\1\0\0\0", {"a.txt": b"two"})
    done = write_dist(dist, second)
    assert done.removed == [name for name in first if name.startswith("a.")]
    assert {p.name for p in dist.iterdir()} == set(second) | {"robots.txt"}
