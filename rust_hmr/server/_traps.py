"""A page's trap, symbolicated: the dev server's side of `POST /_hmr/trap`.

The page sends the RuntimeError's `stack` as the browser wrote it. Chromium writes a wasm frame
as `at <name> (<url>:wasm-function[<index>]:0x<offset>)`, where the offset counts from the
start of the module file and `<url>` says which module: the main module's own URL (it is
compiled from its response), `wasm://wasm/rust-hmr-patch-<n>-<hash>` for a patch (its name
section's module name). Firefox writes `<name>@<url>:wasm-function[...]:0x...`, which the same
pattern reads.

`TrapDesk` keeps one `Symbolicator` for the server's current build, made on the first trap
(a new build gets a new one on its first trap); the patches join it from the server's state
as traps come. Symbolicating runs in a worker thread, one trap at a time: the first one of a
build decodes DWARF for a moment, and the event loop must go on pushing patches meanwhile.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from rust_hmr.backtrace import (
    MAIN,
    Frame,
    RawFrame,
    Symbolicator,
    format_frames,
    panic_message,
    patch_of_module_name,
)
from rust_hmr.server.protocol import TrapAnswer, TrapReport

__all__ = ["BuildSnapshot", "TrapDesk", "parse_stack"]

_FRAME = re.compile(
    r"(?:at (?P<name>[^(\n]*?) \(|(?P<ff>[^@\s]*)@|at )?"
    r"(?P<url>[^\s()]*?):wasm-function\[(?P<index>\d+)\]:0x(?P<offset>[0-9a-fA-F]+)")
_PATCH_URL = re.compile(r"/patches/(\d+)\.wasm$")
_WASM_URL = re.compile(r"^wasm://wasm/(?P<module>.+)-[0-9a-f]+$")


@dataclass(frozen=True)
class BuildSnapshot:
    """What a trap is symbolicated against, taken on the event loop: the build id, its main
    module and its patches (id, module) so far."""

    build_id: str | None
    module: bytes
    patches: Sequence[tuple[int, bytes]]


def parse_stack(stack: str) -> list[RawFrame]:
    """The wasm frames of a JavaScript stack trace, innermost first; JS frames are skipped."""
    frames = []
    for match in _FRAME.finditer(stack):
        url = match["url"]
        patch = MAIN
        if found := _PATCH_URL.search(url):
            patch = int(found[1])
        elif found := _WASM_URL.match(url):
            patch = patch_of_module_name(found["module"])
        name = (match["name"] or match["ff"] or "").strip() or None
        frames.append(RawFrame(patch, int(match["index"]), int(match["offset"], 16), name))
    return frames


class TrapDesk:
    """Symbolicates the traps pages report, against the server's current build."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._build_id: str | None = None
        self._symbolicator: Symbolicator | None = None
        self._patches: set[int] = set()
        self.seconds: list[float] = []  # per trap: how long symbolicating it took

    def answer(self, report: TrapReport, snapshot: BuildSnapshot) -> TrapAnswer:
        """The report's backtrace in Rust terms (thread-safe; call it off the event loop)."""
        panic = panic_message(list(report.logs))
        frames: list[Frame] = []
        note = ""
        if snapshot.build_id is None or report.build_id != snapshot.build_id:
            note = (f"the page runs build {report.build_id}, the server has build "
                    f"{snapshot.build_id}: no backtrace (reload the page)")
        else:
            start = time.perf_counter()
            frames = self._frames(parse_stack(report.stack), snapshot)
            self.seconds.append(time.perf_counter() - start)
            if not frames:
                note = "the error's stack has no wasm frames"
        return TrapAnswer(_title(report, panic, frames), panic,
                          tuple(frame.to_dict() for frame in frames),
                          _text(report, panic, frames, note), note)

    def _frames(self, raw: list[RawFrame], snapshot: BuildSnapshot) -> list[Frame]:
        with self._lock:
            if self._symbolicator is None or self._build_id != snapshot.build_id:
                self._symbolicator = Symbolicator(snapshot.module)
                self._build_id, self._patches = snapshot.build_id, set()
            for patch_id, module in snapshot.patches:
                if patch_id not in self._patches:
                    self._symbolicator.add_patch(patch_id, module)
                    self._patches.add(patch_id)
            return self._symbolicator.frames(raw)


def _title(report: TrapReport, panic: str | None, frames: list[Frame]) -> str:
    if panic:
        return panic.splitlines()[0]
    app = next((frame for frame in frames if frame.app), None)
    where = f" in {app.function}" + (f" at {app.location}" if app.location else "") \
        if app else ""
    return f"the app trapped: {report.message or 'RuntimeError'}{where}"


def _text(report: TrapReport, panic: str | None, frames: list[Frame], note: str) -> str:
    parts = [f"{report.where or 'the app'} trapped: {report.message or 'RuntimeError'}"]
    if panic:
        parts.append(panic)
    if frames:
        parts += ["backtrace:", format_frames(frames)]
    elif note:
        parts.append(note)
    return "\n".join(parts)
