"""End to end in a real browser: `rust-hmr dev` on a private copy of examples/counter, pages in
Debian's chromium driven by Playwright.

One dev server serves the whole module (its first build is the slow part); each test opens
its own pages, which load the build and every patch made so far, and sets the label text it
needs first. The full-reload test runs last: it gives the server a new build. Every wait is on
a condition of the page or of the server's output, never a fixed sleep.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

pytestmark = pytest.mark.slow

CHROMIUM = os.environ.get("RUST_HMR_CHROMIUM") or shutil.which("chromium") or ""
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
BUILD_TIMEOUT_MS = 30_000  # a rebuild, even a full one, takes a few seconds at most
LABEL = re.compile(r'n => format!\("\{\} [^"]*"[^\n]*')  # the label for n > 1, even broken
DEV = ("import sys; from rust_hmr.cli.cmd_dev import dev_command; "
       "dev_command(sys.argv[1:], prog_name='rust-hmr dev')")

# A folder to write the docs' pictures into, taken where the tests reach each state
# (RUST_HMR_SCREENSHOTS=docs .venv/bin/pytest tests/test_browser*.py tests/test_readme.py)
SCREENSHOTS = os.environ.get("RUST_HMR_SCREENSHOTS")


class StaticServer:
    """A directory over HTTP on 127.0.0.1 from python's own file server (no rust-hmr code
    serves it; ES modules need an http origin)."""

    def __init__(self, root: Path) -> None:
        handler = functools.partial(_QuietHandler, directory=str(root))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map,
                      ".wasm": "application/wasm", ".js": "text/javascript"}  # fmt: skip

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        if self.path == "/favicon.ico":  # the browser asks; the page has none
            self.send_response(204)
            self.end_headers()
            return
        super().do_GET()


def screenshot(page: object, name: str) -> None:
    if SCREENSHOTS:
        page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"))  # type: ignore[attr-defined]


if not CHROMIUM:  # ./run tests installs it; a missing browser is a failure, not a skip
    raise RuntimeError("no chromium on PATH (Debian: apt-get install chromium; or set "
                       "RUST_HMR_CHROMIUM)")


class DevServer:
    """`rust-hmr dev CRATE --port 0` in a subprocess, its output read line by line."""

    FIRST_BUILD = r"^built \S+ in|does not compile yet|the first build of"

    def __init__(self, crate: Path, wait_built: bool = True) -> None:
        self.crate = crate
        self.lines: list[str] = []
        self._new: queue.Queue[str] = queue.Queue()
        self.proc = subprocess.Popen(
            [sys.executable, "-c", DEV, str(crate), "--port", "0"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        serving = self.wait_line(r"serving \S+ at (http://\S+)", timeout=120)
        self.url = re.search(r"(http://\S+)", serving)[1]  # type: ignore[index]
        if wait_built:  # the server listens at once; its first build comes after
            self.wait_line(self.FIRST_BUILD, timeout=300)

    def built(self) -> bool:
        """Whether the first build has ended (well or not)."""
        self._drain()
        return any(re.search(self.FIRST_BUILD, line) for line in self.lines)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._new.put(line.rstrip("\n"))

    def mark(self) -> int:
        """Where the output is now: wait_line(after=mark) looks only at what comes later."""
        self._drain()
        return len(self.lines)

    def _drain(self) -> None:
        while True:
            try:
                self.lines.append(self._new.get_nowait())
            except queue.Empty:
                return

    def wait_line(self, pattern: str, after: int = 0, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while True:
            self._drain()
            for line in self.lines[after:]:
                if re.search(pattern, line):
                    return line
            if self.proc.poll() is not None:
                raise AssertionError(f"rust-hmr dev exited ({self.proc.returncode}):\n"
                                     + "\n".join(self.lines))
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no line like {pattern!r} in:\n" + "\n".join(self.lines))
            with contextlib.suppress(queue.Empty):
                self.lines.append(self._new.get(timeout=min(remaining, 0.5)))

    def write(self, file: str, text: str) -> None:
        (self.crate / "src" / file).write_text(text)

    def read(self, file: str) -> str:
        return (self.crate / "src" / file).read_text()

    def set_label(self, text: str) -> None:
        """The label for n > 1 becomes `<n> <text>`; one save of label.rs."""
        source, count = LABEL.subn(f'n => format!("{{}} {text}", n),', self.read("label.rs"))
        assert count == 1, source
        self.write("label.rs", source)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(timeout=5)
        assert self.proc.stdout is not None
        self.proc.stdout.close()


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    from conftest import EXAMPLES, copy_crate

    crate = copy_crate(EXAMPLES / "counter", tmp_path_factory.mktemp("browser") / "counter")
    server = DevServer(crate)
    yield server
    server.stop()
    shutil.rmtree(crate / "target", ignore_errors=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Debian's chromium (Playwright never downloads a browser here), with a fresh profile
    that Playwright makes and removes."""
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Page:
    """A page of the app in a fresh browser context, its console kept."""

    def __init__(self, browser: object, dev: DevServer) -> None:
        self.context = browser.new_context()  # type: ignore[attr-defined]
        self.page = self.context.new_page()
        self.console: list[str] = []
        self.errors: list[str] = []
        self.requests: list[str] = []  # the URLs it asked the server for
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on("console", lambda message: self.console.append(message.text))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.goto(dev.url)
        self.wait_ready()

    def wait_ready(self) -> None:
        """Until the app has rendered, then mark this document: a reload loses the mark."""
        self.page.wait_for_function(
            "globalThis.app && document.getElementById('count').textContent !== 'loading…'",
            timeout=BUILD_TIMEOUT_MS)
        self.page.evaluate("window.__marker = 'still here'")

    @property
    def count(self) -> object:
        return self.page.locator("#count")

    def click(self, times: int = 1) -> None:
        for _ in range(times):
            self.page.click("#increment")

    def marker(self) -> object:
        return self.page.evaluate("window.__marker")

    def close(self) -> None:
        self.context.close()
        assert not self.errors, self.errors


@pytest.fixture
def open_page(browser: object, dev: DevServer) -> Iterator[object]:
    pages: list[Page] = []

    def opener() -> Page:
        pages.append(Page(browser, dev))
        return pages[-1]

    yield opener
    for page in pages:
        page.close()


def test_an_edit_patches_the_page_and_keeps_its_state(dev: DevServer, open_page) -> None:
    page = open_page()
    expect(page.count).to_have_text("nothing yet")
    page.click(3)
    expect(page.count).to_have_text("3 clicks")
    mark = dev.mark()
    dev.set_label("clicks so far")
    expect(page.count).to_have_text("3 clicks so far", timeout=BUILD_TIMEOUT_MS)
    assert page.marker() == "still here"  # the same document: no reload
    assert page.page.evaluate("__hmr.patch") == 1
    line = dev.wait_line(r"src/label\.rs: patch 1, \d+ functions?.*label::render", mark)
    assert re.search(r"\(\d+ ms, 1 page\)$", line), line
    assert any(re.fullmatch(r"\[hmr\] patched \d+ functions? in [\d.]+ ms", text)
               for text in page.console), page.console
    page.click()
    expect(page.count).to_have_text("4 clicks so far")
    expect(page.page.locator("#history")).to_have_text("4 changes so far, adding up to 10")


def test_a_patch_may_call_the_page_interface_itself(dev: DevServer, open_page) -> None:
    """A patch of page.rs calls env.dom_set_text directly: the runtime gives a patch the
    imports the app itself was given, not only the main module's exports."""
    page = open_page()
    page.click(2)
    expect(page.count).to_have_text(re.compile(r"^2 clicks"))
    original = dev.read("page.rs")
    call = "unsafe { dom_set_text(id.as_ptr(), id.len(), text.as_ptr(), text.len()) }"
    assert call in original
    dev.write("page.rs", original.replace(call, 'let text = &format!("{}!", text);\n    ' + call))
    expect(page.count).to_have_text(re.compile(r"^2 clicks.*!$"), timeout=BUILD_TIMEOUT_MS)
    dev.write("page.rs", original)
    expect(page.count).to_have_text(re.compile(r"^2 clicks.*[^!]$"), timeout=BUILD_TIMEOUT_MS)
    assert page.marker() == "still here" and page.page.evaluate("__hmr.patch") >= 2


def test_a_compile_error_shows_the_overlay_and_the_old_code_runs_on(dev: DevServer,
                                                                     open_page) -> None:
    dev.set_label("clicks now")
    dev.wait_line(r"src/label\.rs: patch", dev.mark())
    page = open_page()  # loads the build and the patches so far
    page.click(2)
    expect(page.count).to_have_text("2 clicks now")
    overlay = page.page.locator("rust-hmr-overlay")

    mark = dev.mark()
    dev.write("label.rs", dev.read("label.rs").replace('"{} clicks now", n)', '"{} clicks", n'))
    expect(overlay).to_be_visible(timeout=BUILD_TIMEOUT_MS)
    expect(page.page.locator("rust-hmr-overlay strong")).to_contain_text("error")
    expect(page.page.locator("rust-hmr-overlay pre")).to_contain_text("label.rs")
    screenshot(page.page, "overlay-compile-error")
    dev.wait_line(r"src/label\.rs: error: .* at src/label\.rs:\d+:\d+", mark)
    page.click()  # the old code answers, with its state
    expect(page.count).to_have_text("3 clicks now")
    page.page.locator("rust-hmr-overlay button").click()  # dismissable
    expect(overlay).to_have_count(0)

    mark = dev.mark()
    dev.write("label.rs", dev.read("label.rs").replace('"{} clicks", n', '"{} clicks" n'))
    dev.wait_line(r"src/label\.rs: error", mark)
    expect(overlay).to_be_visible()  # the next failed build shows it again

    dev.set_label("clicks, fixed")
    expect(overlay).to_have_count(0, timeout=BUILD_TIMEOUT_MS)  # gone once it builds
    expect(page.count).to_have_text("3 clicks, fixed")
    assert page.marker() == "still here"


def test_every_open_page_gets_the_patch(dev: DevServer, open_page) -> None:
    first, second = open_page(), open_page()
    first.click(2)
    second.click(3)
    mark = dev.mark()
    dev.set_label("clicks, both")
    expect(first.count).to_have_text("2 clicks, both", timeout=BUILD_TIMEOUT_MS)
    expect(second.count).to_have_text("3 clicks, both", timeout=BUILD_TIMEOUT_MS)
    assert first.marker() == second.marker() == "still here"
    dev.wait_line(r"src/label\.rs: patch .*, 2 pages\)$", mark)


def test_an_open_page_gets_the_patch_in_its_message_a_later_one_by_url(
        dev: DevServer, open_page) -> None:
    first = open_page()  # takes the module's earlier patches from their URLs
    first.click(2)
    loaded = len(first.requests)
    dev.set_label("clicks, pushed")
    expect(first.count).to_have_text("2 clicks, pushed", timeout=BUILD_TIMEOUT_MS)
    later = open_page()  # loads the build, then the patches made since, from their URLs
    later.click(2)
    expect(later.count).to_have_text("2 clicks, pushed")
    assert later.marker() == first.marker() == "still here"
    pushed = [url for url in first.requests[loaded:] if "/patches/" in url]
    fetched = [url for url in later.requests if "/patches/" in url]
    assert pushed == [], pushed
    # every patch of the build so far (the module's earlier tests made some), one fetch each
    assert len(fetched) == later.page.evaluate("__hmr.patch") >= 1, fetched


def test_a_stylesheet_edit_is_swapped_in_place_and_keeps_the_state(dev: DevServer,
                                                                    open_page) -> None:
    template = dev.crate / "index.html"
    if "style.css" not in template.read_text():  # the page links a stylesheet of static/
        (dev.crate / "static").mkdir(exist_ok=True)
        (dev.crate / "static" / "style.css").write_text("#count { color: rgb(0, 0, 255); }\n")
        mark = dev.mark()
        template.write_text(template.read_text().replace(
            "</head>", '<link rel="stylesheet" href="/style.css">\n</head>'))
        dev.wait_line(r"index\.html: page reload", mark)
    page = open_page()
    count = page.count
    expect(count).to_have_css("color", "rgb(0, 0, 255)")
    page.click(3)
    expect(count).to_have_text(re.compile(r"^3 "))  # the label as the earlier tests left it
    label = count.text_content()
    mark = dev.mark()
    (dev.crate / "static" / "style.css").write_text("#count { color: rgb(255, 0, 0); }\n")
    expect(count).to_have_css("color", "rgb(255, 0, 0)", timeout=BUILD_TIMEOUT_MS)
    dev.wait_line(r"static/style\.css: stylesheet swapped", mark)
    assert page.marker() == "still here"  # swapped, not reloaded
    expect(count).to_have_text(label)  # the app's state kept
    assert any("[hmr] swapped stylesheet /style.css" in line for line in page.console)


def test_a_change_that_cannot_be_patched_reloads_the_page(dev: DevServer, open_page) -> None:
    page = open_page()
    page.click(2)
    expect(page.count).to_have_text(re.compile(r"^2 clicks"))
    source = dev.read("lib.rs")
    for old, new in [
        ("use std::sync::atomic::{AtomicI32, Ordering};",
         "use std::sync::atomic::{AtomicI64, Ordering};"),
        ("static COUNT: AtomicI32 = AtomicI32::new(0);",
         "static COUNT: AtomicI64 = AtomicI64::new(0);"),
        ("let value = COUNT.fetch_add(n, Ordering::SeqCst) + n;",
         "let value = (COUNT.fetch_add(n as i64, Ordering::SeqCst) + n as i64) as i32;"),
        ("COUNT.load(Ordering::SeqCst)", "COUNT.load(Ordering::SeqCst) as i32"),
    ]:
        assert old in source, old
        source = source.replace(old, new)
    mark = dev.mark()
    dev.write("lib.rs", source)
    page.page.wait_for_function("window.__marker === undefined", timeout=BUILD_TIMEOUT_MS)
    page.wait_ready()  # the new build runs: a fresh app
    expect(page.count).to_have_text("nothing yet")
    dev.wait_line(r"src/lib\.rs: full reload: static counter::COUNT changed", mark)
    assert any(text.startswith("[hmr] reloaded: static counter::COUNT") for text in
               page.console), page.console

    # Patching goes on from the new build.
    page.click(2)
    dev.set_label("clicks, after the reload")
    expect(page.count).to_have_text("2 clicks, after the reload", timeout=BUILD_TIMEOUT_MS)
    assert page.marker() == "still here"
    assert page.page.evaluate("__hmr.patch") == 1
