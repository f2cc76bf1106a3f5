"""Dev-loop latency in a real browser: from writing a source file to the page running the edit.

    .venv/bin/python bench/dev_latency.py [--edits 10] [--crate counter,todo] [--chromium PATH]

On a temporary copy of examples/counter, `rust-hmr dev` runs in a subprocess and Debian's
chromium (driven by Playwright) shows the page. Each edit rewrites the text the page shows at
count 0 (`0 => String::from("...")` in src/label.rs) to a new one, so every save is a real
change and its effect is visible without a click. One clock for both sides: Python takes
time.time() just before it writes the file; the page takes Date.now() (same system clock).

examples/todo, a wasm-bindgen app (its glue, web-sys), is measured the same way on the patch
path: each edit rewrites the count's label (`n => format!("{n} items left")` in src/view.rs),
which its `rust_hmr_after_patch` renders again.

  patch path   `rust-hmr dev`: watcher -> cargo -> patch link -> WebSocket -> the page fetches
               and instantiates the patch -> renders. Measured: write -> patch applied (the
               runtime's `__hmr.applied[].at`) and write -> new text in the page.
  floor        the compiler's own floor for the same edit (as in bench/patch_latency.py): a
               second copy of the example beside the first, built once; after the page has
               shown edit k, the same new text is written into the copy and it is built by the
               same cargo with the same flags and a linker that only makes its output file
               (patch_latency's NullLinkedCopy). Timed from the write to the
               build's end; save for save with the patch path, the dev server idle meanwhile.
               Printed: its median, and the median of the paired (shown - floor) differences.
  full path    `rust-hmr dev --no-hot` on the same copy: watcher -> cargo -> link -> prepare
               -> the page reloads, fetches and compiles the main module -> renders. Measured:
               write -> new text in the reloaded page.

Medians over N edits, after one warm-up edit per path. Goals: the patch path < 500 ms, and at
least 3x faster than the full path; on the counter, write -> new text shown <= floor + 40 ms
(the paired median of shown - floor).
"""

from __future__ import annotations

import argparse
import os
import queue
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from patch_latency import NullLinkedCopy
from playwright.sync_api import Browser, Page, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
DEV = ("import sys; from rust_hmr.cli.cmd_dev import dev_command; "
       "dev_command(sys.argv[1:], prog_name='rust-hmr dev')")

@dataclass(frozen=True)
class Case:
    """An example, the file an edit rewrites, and the text its page shows before any edit."""

    name: str
    file: str
    pattern: re.Pattern[str]  # what an edit replaces, there once
    template: str  # the replacement, from the text the page shows
    initial: str

    def edit(self, text: str) -> str:
        """The code that makes the page show `text`."""
        return self.template.format(text=text)


CASES = {
    "counter": Case("counter", "label.rs", re.compile(r'0 => String::from\("[^"]*"\)'),
                    '0 => String::from("{text}")', "nothing yet"),
    # The list is empty, so the page shows the label for n = 0, "0 " + the edited text.
    "todo": Case("todo", "view.rs", re.compile(r'n => format!\("\{n\} [^"]*"\)'),
                 'n => format!("{{n}} {text}")', "0 items left"),
}
# Every change of #count's text, with the page's clock; installed before any page script.
RECORD_SHOWN = """
window.__shown = [];
let last = null;
new MutationObserver(() => {
  const text = document.getElementById("count")?.textContent ?? null;
  if (text !== last) { last = text; window.__shown.push({ text, at: Date.now() }); }
}).observe(document, { subtree: true, childList: true, characterData: true });
"""
TIMEOUT_MS = 60_000


class DevProcess:
    """`rust-hmr dev CRATE --port 0 [ARGS]`, its output lines collected."""

    def __init__(self, crate: Path, *args: str) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        self.proc = subprocess.Popen(
            [sys.executable, "-c", DEV, str(crate), "--port", "0", *args],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        line = self.next_line(r"serving \S+ at http://", timeout=180)
        self.url = line.split(" at ")[1].split()[0]
        self.next_line(r"^built \S+ in", timeout=300)  # the server listens before it builds

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def next_line(self, pattern: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                if self.proc.poll() is not None:
                    break
                continue
            self.output.append(line)
            if re.search(pattern, line):
                return line
        raise SystemExit("rust-hmr dev said:\n" + "\n".join(self.output))

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.reader.join(timeout=5)


def write_label(case: Case, label: Path, text: str) -> float:
    """Rewrites the case's label to `text`; the time of the write, in ms of the system clock."""
    source, count = case.pattern.subn(case.edit(text), label.read_text())
    assert count == 1, source
    start = time.time() * 1000
    label.write_text(source)
    return start


def shown_at(page: Page, text: str) -> float:
    """When the page (this document) first showed `text` in #count, by its clock."""
    page.wait_for_function("t => (window.__shown ?? []).some(s => s.text === t)", arg=text,
                           timeout=TIMEOUT_MS)
    return float(page.evaluate("t => window.__shown.find(s => s.text === t).at", text))


class Floor(NullLinkedCopy):
    """The compiler's own floor: the same edits in a copy of the crate, beside it, built with
    a linker that does nothing (patch_latency's, for an edit that writes new text each time
    rather than alternating two variants)."""

    def __init__(self, crate: Path, case: Case) -> None:
        super().__init__(crate, crate.parent)
        self.case = case
        self.label = self.crate / "src" / case.file

    def write_and_build(self, text: str) -> float:
        """Rewrites the copy's label to `text` and builds it: ms from the write to the end."""
        start = write_label(self.case, self.label, text)
        self.build()
        return time.time() * 1000 - start


def patch_path(case: Case, page: Page, dev: DevProcess, label: Path, floor: Floor,
               edits: int) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {"applied": [], "shown": [], "server": [], "floor": []}
    for k in range(edits + 1):
        text = f"{case.initial} (patch {k})"
        start = write_label(case, label, text.removeprefix("0 "))
        shown = shown_at(page, text)
        applied = float(page.evaluate("__hmr.applied.at(-1).at"))
        line = dev.next_line(r": patch \d+")
        # The same edit's floor, now that the page shows it: the dev server is idle.
        floor_ms = floor.write_and_build(text.removeprefix("0 "))
        if k == 0:
            continue  # warm-up
        samples["applied"].append(applied - start)
        samples["shown"].append(shown - start)
        samples["server"].append(float(re.findall(r"\((\d+) ms", line)[-1]))
        samples["floor"].append(floor_ms)
    assert page.evaluate("window.__marker") == "kept", "the page reloaded during patching"
    return samples


def full_path(case: Case, page: Page, dev: DevProcess, label: Path,
              edits: int) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {"shown": [], "server": []}
    for k in range(edits + 1):
        text = f"{case.initial} (reload {k})"
        start = write_label(case, label, text.removeprefix("0 "))
        shown = shown_at(page, text)
        line = dev.next_line(r": full reload")
        if k == 0:
            continue
        samples["shown"].append(shown - start)
        samples["server"].append(float(re.findall(r"\((\d+) ms", line)[-1]))
    return samples


def measure(browser: Browser, case: Case, edits: int, full: bool) -> dict[str, list[float]]:
    """Patch-path samples (`patch.*`, the floor's among them) on a fresh copy of the case's
    example, then, if `full`, full-path ones (`full.*`) with `--no-hot` on the same copy."""
    out: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        crate = Path(tmp) / case.name
        shutil.copytree(ROOT / "examples" / case.name, crate,
                        ignore=shutil.ignore_patterns("target"))
        label = crate / "src" / case.file
        floor = Floor(crate, case)  # its first build before the dev server's
        context = browser.new_context()
        context.add_init_script(RECORD_SHOWN)

        dev = DevProcess(crate)
        page = context.new_page()
        page.goto(dev.url)
        shown_at(page, case.initial)
        page.evaluate("window.__marker = 'kept'")
        for key, values in patch_path(case, page, dev, label, floor, edits).items():
            out[f"patch.{key}"] = values
        page.close()
        dev.stop()

        if full:
            dev = DevProcess(crate, "--no-hot")
            page = context.new_page()
            page.goto(dev.url)
            page.wait_for_function("globalThis.app !== undefined", timeout=TIMEOUT_MS)
            for key, values in full_path(case, page, dev, label, edits).items():
                out[f"full.{key}"] = values
            dev.stop()
        context.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=10)
    parser.add_argument("--crate", default="counter,todo",
                        help=f"the examples to measure, comma-separated, of {', '.join(CASES)} "
                             "(the full path: the counter only)")
    parser.add_argument("--chromium", default=os.environ.get("RUST_HMR_CHROMIUM")
                        or shutil.which("chromium"), help="the browser (Debian's chromium)")
    args = parser.parse_args()
    if not args.chromium:
        parser.error("no chromium on PATH (Debian: apt-get install chromium), give --chromium")
    names = args.crate.split(",")
    if unknown := [name for name in names if name not in CASES]:
        parser.error(f"no such case: {', '.join(unknown)} (known: {', '.join(CASES)})")
    results: dict[str, dict[str, list[float]]] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=args.chromium, headless=True,
                                             args=CHROMIUM_ARGS)
        for name in names:
            results[name] = measure(browser, CASES[name], args.edits, full=name == "counter")
        browser.close()

    print(f"dev latency in chromium: median of {args.edits} edits (ms)")
    for name, samples in results.items():
        med = {key: statistics.median(values) for key, values in samples.items()}
        patch_ms = med["patch.shown"]
        print(f"examples/{name}")
        print(f"  patch path  write -> patch applied {med['patch.applied']:7.0f}   "
              f"-> new text shown {patch_ms:7.0f}   (the server's rebuild: "
              f"{med['patch.server']:.0f}; min/max shown "
              f"{min(samples['patch.shown']):.0f}/{max(samples['patch.shown']):.0f})")
        over = statistics.median(shown - floor for shown, floor in
                                 zip(samples["patch.shown"], samples["patch.floor"], strict=True))
        print(f"  floor       the same edit, cargo with a null linker {med['patch.floor']:7.0f}   "
              f"new text shown - floor, paired: {over:+.0f}")
        if "full.shown" not in med:
            print(f"  patch path < 500 ms: {'met' if patch_ms < 500 else 'NOT met'}")
        else:
            full_ms = med["full.shown"]
            ratio = full_ms / patch_ms
            print(f"  full path   write -> reloaded page shows the new text {full_ms:7.0f}   "
                  f"(the server's build: {med['full.server']:.0f}; min/max shown "
                  f"{min(samples['full.shown']):.0f}/{max(samples['full.shown']):.0f})")
            print(f"  patch path < 500 ms: {'met' if patch_ms < 500 else 'NOT met'}; "
                  f">= 3x faster than the full path: {ratio:.1f}x, "
                  f"{'met' if ratio >= 3 else 'NOT met'}")
        if name == "counter":
            print(f"  write -> new text shown <= floor + 40 ms: "
                  f"{'met' if over <= 40 else 'NOT met'} ({over:+.0f} ms)")


if __name__ == "__main__":
    main()
