"""The dev loop: build once, serve the app, watch the sources, push every change to the pages.

    run_dev(crate, host, port)   what `rust-hmr dev` and `doit dev` run, until Ctrl-C
    DevLoop                      the same as an object (start, stop) for embedding and tests

One asyncio process and one `Project`: no new Python per save. The watcher
(`rust_hmr.watcher`) coalesces a burst of saves into one set of changes, ending it as soon as
the files in it are written whole; a single builder task takes them, so a save during a rebuild
queues exactly one more rebuild and two never run at once. The rebuild itself (cargo, the
patch linker) runs in a worker thread while the event loop keeps serving pages.

Per change (`rust_hmr.watch` says what a file means): a source file (a file the last compile
read, wherever it lies, or anything in the crate but `target/`, the dist folder, the page
template and the static directory) rebuilds: a `Patch` goes to every page, a `FullReload`
builds the crate again and reloads the pages, a `CompileError` shows in the pages' overlay
while their old code runs on. A change to the page template or a static file only reloads the
pages. After every build the watch follows what the compile read, and a folder made in the
crate is watched from then on. The terminal gets one line per rebuild: the files, the
outcome, the milliseconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import threading
import time
import webbrowser
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import click
from watchfiles import Change

from rust_hmr import diagnostics
from rust_hmr._project import Build, Project
from rust_hmr.bindgen import BindgenError
from rust_hmr.bindgen.live import LiveBindings, has_bindgen_section
from rust_hmr.cargo_build import CompileError
from rust_hmr.link import FullReload, Patch
from rust_hmr.plugins import (
    CompileErrorEvent,
    PatchEvent,
    PluginError,
    ReloadEvent,
    load_plugins,
    run_hook,
)
from rust_hmr.server import DevServer, ServerError
from rust_hmr.settings import Settings, load_settings
from rust_hmr.watch import Meaning, SourceFilter, WatchPlan, settled
from rust_hmr.watcher import watch_changes

if TYPE_CHECKING:
    from rust_hmr.rules.custom import Rule

__all__ = ["DevLoop", "Report", "SourceFilter", "run_dev"]

T = TypeVar("T")

# A burst of saves ends after this long without another change, when a write in it is still to
# be completed by a close (a complete one ends it sooner: `rust_hmr.watcher`)
WATCH_STEP_MS = 30
# Saves that came during a rebuild are a burst in progress (a formatter, a checkout, a script):
# the next rebuild waits until they stop for this long, or for at most BURST_MAX_S
BURST_QUIET_S = 0.15
BURST_MAX_S = 3.0


@dataclass(frozen=True)
class Report:
    """What one rebuild did: `outcome` is patch, full-reload, error, no-change, reload or css
    (stylesheets swapped in place)."""

    changed: tuple[str, ...]
    outcome: str
    detail: str
    ms: float
    pages: int = 0

    def line(self) -> str:
        files = _files(self.changed)
        sent = f", {self.pages} page{'s' * (self.pages != 1)}" if self.outcome != "error" else ""
        return f"{time.strftime('%H:%M:%S')} {files}: {self.detail} ({self.ms:.0f} ms{sent})"


def _files(changed: tuple[str, ...]) -> str:
    files = ", ".join(changed[:3])
    return files + (f" and {len(changed) - 3} more" if len(changed) > 3 else "")


def colour_terminal() -> bool:
    """Whether our output is a terminal that takes colours (and NO_COLOR is not set)."""
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def _names(functions: tuple[str, ...], limit: int = 3) -> str:
    """Names as `Patch.changed` gives them (demangled, without their hashes), the first few."""
    text = ", ".join(functions[:limit])
    return text + (f" and {len(functions) - limit} more" if len(functions) > limit else "")


class DevLoop:
    """Builds `crate`, serves it on `host:port` (0: a free port), watches it and patches the
    pages on every change. `hot=False` reloads the pages on every change instead of patching
    them (a full build each time): the path a page takes without hot patching."""

    def __init__(
        self,
        crate: Path | str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        settings: Settings | None = None,
        hot: bool = True,
        open_browser: bool = False,
        verbose: bool = False,
        echo: Callable[[str], None] = click.echo,
        rules: Sequence[Rule] = (),
    ) -> None:
        self.crate = Path(crate).resolve()
        self.settings = settings or load_settings(self.crate)
        self.hot = hot
        self.open_browser = open_browser
        self.echo = echo
        self.project = Project(self.crate, reserve_pages=self.settings.reserve_pages,
                               spare_slots=self.settings.spare_slots, verbose=verbose)
        if colour_terminal():
            self.project.cargo_env["CARGO_TERM_COLOR"] = "always"
        static_dir = self.settings.path(self.crate, "static_dir")
        self.page_files = (static_dir / "index.html", self.crate / "index.html")
        self.static_dir = static_dir
        outputs = (self.project.target_dir, self.settings.path(self.crate, "dist_dir"))
        self.plan = WatchPlan(self.crate, static_dir, self.page_files, outputs)
        self.server = DevServer(self.crate.name, host=host, port=port, static_dir=static_dir,
                                page_templates=self.page_files, never_served=outputs)
        self.reports: list[Report] = []
        self._pending: dict[str, bool] = {}  # changed path -> whether it needs a rebuild
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        # one watch per root, each with its own stop event: cancelling a watchfiles watch sets
        # its stop event, which must not be the loop's own
        self._watchers: dict[tuple[tuple[Path, ...], bool],
                             tuple[asyncio.Task[None], asyncio.Event]] = {}
        self._watching = False  # start() turns the watch on
        self._last_change = 0.0  # time.monotonic() of the last queued change
        self._needs_build = True  # no good build yet: the next change builds, not patches
        self.bindings: LiveBindings | None = None  # a wasm-bindgen app's glue and describer
        self.plugins = self._plugins()
        self.rules = tuple(rules)  # the user's rules (dodo.py), run before every build
        self._rule_outputs: dict[Path, tuple[int, int]] = {}  # as the rules last left them
        self._builder: ThreadPoolExecutor | None = None  # the one thread builds run in

    # Life cycle

    async def run(self) -> None:
        """Start, then serve until `stop()` (or SIGTERM, or cancellation)."""
        if threading.current_thread() is threading.main_thread():
            with contextlib.suppress(NotImplementedError, RuntimeError):
                asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, self.stop)
        await self.start()
        try:
            await self._stop.wait()
        finally:
            await self.close()

    async def start(self) -> None:
        """The server and the watch at once (pages get a "building" notice), then the first
        build; the pages load the app when it is ready."""
        await self.server.start()
        self._watching = True
        self._follow_inputs()
        await asyncio.sleep(0)  # the watchers register before their first await: saves count
        mode = "hot patching" if self.hot else "reloading on every change (hot patching off)"
        self.echo(f"serving {self.server.state.crate} at {self.server.url} ({mode}; Ctrl-C stops)")
        if self.open_browser:
            await asyncio.to_thread(webbrowser.open, self.server.url)
        start = time.perf_counter()
        self.echo(f"building {self.crate.name}…")
        self.project.on_output = self._progress
        try:
            build = await self._in_builder(self._build)
        except CompileError as err:
            summary = self._failed(err)[1]
            self.echo(f"{self.crate.name} does not compile yet: {summary}")
        except Exception as err:  # served all the same: the next save tries again
            message = f"{type(err).__name__}: {err}"
            self.server.publish_error(message.splitlines()[0], message)
            self.echo(f"the first build of {self.crate.name} failed: {message}")
        else:
            self._publish_build(build, "first build")
            self.echo(f"built {build.crate} in {time.perf_counter() - start:.1f} s "
                      f"(build {self.server.state.build_id})")
        self._follow_inputs()
        # saves during the first build wait for it: they are the builder's first batch
        self._tasks = [asyncio.create_task(self._build_loop())]

    def stop(self) -> None:
        self._stop.set()

    async def _in_builder(self, work: Callable[[], T]) -> T:
        """`work()` in the builder's thread: builds and rebuilds run one at a time, always in
        the same thread, where the hot path's doit database stays open (`rules.engine`)."""
        if self._builder is None:
            self._builder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rust-hmr-build")
        return await asyncio.get_running_loop().run_in_executor(self._builder, work)

    def _progress(self, line: str) -> None:
        """cargo's progress during a full build: the crates it compiles."""
        if diagnostics.is_progress(line) and "Finished" not in line:
            self.echo(f"  {diagnostics.plain(line).strip()}")

    async def close(self) -> None:
        self._stop.set()
        for _watch, stop in self._watchers.values():
            stop.set()
        tasks = [*self._tasks, *(watch for watch, _stop in self._watchers.values())]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks, self._watchers, self._watching = [], {}, False
        if self._builder is not None:
            self._builder.shutdown(wait=False, cancel_futures=True)
            self._builder = None
        await self.server.stop()

    # Watching

    def _follow_inputs(self) -> None:
        """Watch what the plan names now: the last compile's inputs, the crate's folders.
        Watchers of roots that are still wanted keep running."""
        self.plan = self.plan.with_inputs(self.project.inputs.files)
        if not self._watching:
            return
        wanted = {(paths, recursive) for paths, recursive in self.plan.roots()}
        for root in set(self._watchers) - wanted:
            self._watchers.pop(root)[1].set()  # it ends at once, or in watchfiles' next step
        for root in wanted - set(self._watchers):
            stop = asyncio.Event()
            self._watchers[root] = asyncio.create_task(self._watch(*root, stop)), stop

    async def _watch(self, paths: tuple[Path, ...], recursive: bool,
                     stop: asyncio.Event) -> None:
        watch_filter = SourceFilter(self.crate)
        async for changes in watch_changes(*paths, watch_filter=watch_filter,
                                           step=WATCH_STEP_MS, stop_event=stop,
                                           recursive=recursive):
            self.changed(changes)

    def changed(self, changes: set[tuple[Change, str]]) -> None:
        """Queue changed files (watchfiles' change sets): the builder takes them all at once."""
        new_folder = False
        for name in settled(changes):
            path = Path(name)
            if path.is_dir():
                new_folder = new_folder or path.parent == self.crate
                continue
            meaning = self.plan.meaning(path)
            if meaning is Meaning.IGNORE or self._written_by_rules(path):
                continue
            shown = str(path.relative_to(self.crate) if path.is_relative_to(self.crate)
                        else path)
            rebuild = meaning is Meaning.REBUILD
            self._pending[shown] = self._pending.get(shown, False) or rebuild
        if new_folder:  # a folder made in the crate (static/, assets/) is watched from now on
            self._follow_inputs()
        if self._pending:
            self._last_change = time.monotonic()
            self._wake.set()

    # Building

    async def _build_loop(self) -> None:
        burst = False  # saves came during the last rebuild
        while True:
            await self._wake.wait()
            if burst:
                await self._burst_end()
            self._wake.clear()
            pending, self._pending = self._pending, {}
            start = time.perf_counter()
            try:
                if any(pending.values()):
                    self.echo(f"{time.strftime('%H:%M:%S')} {_files(tuple(sorted(pending)))} "
                              f"changed: rebuilding…")
                    outcome, detail = await self._rebuild(start)
                    self._follow_inputs()
                    page_changed = next((p for p, build in sorted(pending.items())
                                         if not build), None)
                    if page_changed and outcome in ("patch", "no-change"):
                        self.server.publish_reload(f"{page_changed} changed")
                        outcome, detail = "reload", f"{detail}; page reload"
                else:
                    outcome, detail = self._page_changed(sorted(pending))
            except Exception as err:  # the loop must outlive any one rebuild
                self._needs_build = True
                message = f"{type(err).__name__}: {err}"
                self.server.publish_error(message.splitlines()[0], message)
                outcome, detail = "error", f"error: {message.splitlines()[0]}"
            report = Report(tuple(sorted(pending)), outcome, detail,
                            (time.perf_counter() - start) * 1000, self.server.pages)
            self.reports.append(report)
            self.echo(report.line())
            burst = bool(self._pending)

    def _page_changed(self, changed: list[str]) -> tuple[str, str]:
        """Static files changed: stylesheets are swapped in place, anything else reloads."""
        styles = [self._style_url(name) for name in changed]
        if all(styles):
            for url in styles:
                self.server.publish_css(str(url))
            count = len(styles)
            return "css", f"stylesheet{'s' * (count != 1)} swapped"
        self.server.publish_reload(f"{changed[0]} changed")
        return "reload", "page reload"

    def _style_url(self, shown: str) -> str | None:
        """The URL path of a stylesheet the server serves from the static folder."""
        path = Path(shown) if Path(shown).is_absolute() else self.crate / shown
        if path.suffix.lower() != ".css" or not path.is_relative_to(self.static_dir):
            return None
        return "/" + path.relative_to(self.static_dir).as_posix()

    async def _burst_end(self) -> None:
        """Wait until the saves stop for BURST_QUIET_S (at most BURST_MAX_S): one rebuild then
        takes the whole burst, where one per save would only queue up stale patches."""
        deadline = time.monotonic() + BURST_MAX_S
        while (quiet := time.monotonic() - self._last_change) < BURST_QUIET_S:
            if time.monotonic() >= deadline:
                return
            await asyncio.sleep(BURST_QUIET_S - quiet)

    async def _rebuild(self, start: float) -> tuple[str, str]:
        if self._needs_build or not self.hot:
            reason = "the crate builds again" if self.hot else "hot patching is off"
            return await self._full_build(reason)
        result = await self._in_builder(self._rules_then_rebuild)
        if isinstance(result, CompileError):
            return self._failed(result)
        if isinstance(result, FullReload):
            return await self._full_build(result.reason)
        assert isinstance(result, Patch)
        if result.empty:
            # No codegen unit differs from the live code (cargo may still have recompiled):
            # nothing to send. The build succeeded, so an error the pages show goes.
            self.server.publish_ok()
            return "no-change", "no change"
        new_bindings = ""
        descriptions = None
        if self.bindings is not None:
            try:
                brought = await asyncio.to_thread(self.bindings.patch, result.module)
            except BindgenError as err:
                return await self._full_build(f"the patch's new wasm-bindgen imports can't be "
                                              f"described: {err}")
            if brought is not None:
                descriptions = brought.descriptions
                new_bindings = (f"; {brought.count} new binding{'s' * (brought.count != 1)} "
                                f"({brought.seconds * 1000:.1f} ms)")
        ms = round((time.perf_counter() - start) * 1000)
        self.server.publish_patch(result.id, result.module, ms, result.functions, descriptions)
        run_hook(self.plugins, "after_patch", PatchEvent(self.crate, result.id, result.changed),
                 self.echo)
        count = len(result.functions)
        changed = f"; changed: {_names(result.changed)}" if result.changed else ""
        return "patch", (f"patch {result.id}, {count} function{'s' * (count != 1)}{changed}"
                         f"{new_bindings}")

    async def _full_build(self, reason: str) -> tuple[str, str]:
        try:
            build = await self._in_builder(self._build)
        except CompileError as err:
            self._needs_build = True
            return self._failed(err)
        self._publish_build(build, reason)
        run_hook(self.plugins, "after_reload", ReloadEvent(self.crate, reason), self.echo)
        return "full-reload", f"full reload: {reason}"

    def _plugins(self) -> tuple[object, ...]:
        """The crate's plugins, for their dev-loop hooks. One that can't be loaded has no
        hooks here: the build says what is wrong with it, in the pages and the terminal."""
        try:
            return load_plugins(self.settings.plugins)
        except PluginError:
            return ()

    def _rules_then_rebuild(self) -> Patch | FullReload | CompileError:
        try:
            self._run_rules()
        except CompileError as err:
            return err
        return self.project.rebuild()

    def _run_rules(self) -> None:
        """Bring the user's rules' outputs up to date (they may be sources: `feeds_compile`);
        a rule that fails is shown as a compile error. Rules whose inputs are unchanged are
        taken from the cache, silently."""
        if not self.rules:
            return
        from rust_hmr.rules.crate import Crate
        from rust_hmr.rules.custom import run_rule

        crate = Crate(self.crate, self.settings)
        for rule in self.rules:
            failed = run_rule(crate, rule, lambda stage, line: self.echo(f"  {stage}: {line}"),
                              quiet_when_unchanged=True)
            if failed is not None:
                raise CompileError(self.crate.name, f"error: {failed}\n")
            for output in rule.outputs:
                with contextlib.suppress(OSError):
                    stat = (self.crate / output).stat()
                    self._rule_outputs[self.crate / output] = (stat.st_size, stat.st_mtime_ns)

    def _written_by_rules(self, path: Path) -> bool:
        """A rule's output as the rule left it: its change is already in the build."""
        kept = self._rule_outputs.get(path)
        try:
            stat = path.stat()
        except OSError:
            return False
        return kept == (stat.st_size, stat.st_mtime_ns)

    def _build(self) -> Build:
        """Build; for a wasm-bindgen app, its glue too (BindgenError when it can't be made)."""
        self.bindings = None
        self._run_rules()
        build = self.project.build()
        module = build.module_path.read_bytes()
        if has_bindgen_section(module):
            self.bindings = LiveBindings(module, runtime="/_hmr/runtime/bindgen.js",
                                         cache_dir=self.project.out_dir / "describe-cache")
            seconds = self.bindings.glue.timings.total
            self.echo(f"  glue for {len(self.bindings.glue.descriptions['imports'])} "
                      f"wasm-bindgen imports in {seconds * 1000:.0f} ms")
        return build

    def _publish_build(self, build: Build, reason: str) -> None:
        glue = self.bindings.glue.files() if self.bindings else None
        self.server.publish_build(build.module_path.read_bytes(), reason, build.crate, glue)
        self._needs_build = False

    def _failed(self, err: CompileError) -> tuple[str, str]:
        """Show the error in the pages and rustc's diagnostics in the terminal."""
        summary = diagnostics.summary(err.stderr)
        self.server.publish_error(summary, diagnostics.plain(diagnostics.readable(err.stderr)))
        self.echo(diagnostics.readable(err.stderr).rstrip("\n"))
        run_hook(self.plugins, "on_compile_error",
                 CompileErrorEvent(self.crate, summary, err.stderr), self.echo)
        errors, warnings = diagnostics.counts(err.stderr)
        tally = ", ".join(f"{n} {word}{'s' * (n != 1)}"
                          for n, word in ((errors, "error"), (warnings, "warning")) if n)
        return "error", f"{summary} ({tally})" if tally else summary


def run_dev(
    crate: Path | str,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    settings: Settings | None = None,
    hot: bool = True,
    open_browser: bool = False,
    verbose: bool = False,
    rules: Sequence[Rule] = (),
) -> int:
    """Run the dev loop on `crate` until Ctrl-C or SIGTERM; the exit status. `rules` (a
    dodo.py's, through `doit dev`) run before every build."""
    loop = DevLoop(crate, host=host, port=port, settings=settings, hot=hot,
                   open_browser=open_browser, verbose=verbose, rules=rules)
    try:
        asyncio.run(loop.run())
    except KeyboardInterrupt:
        pass
    except ServerError as err:
        click.echo(f"error: {err} (--port 0 picks a free port)", err=True)
        return 1
    return 0
