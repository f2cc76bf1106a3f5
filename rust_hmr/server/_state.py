"""What the dev server publishes: the current build, its patches, the last error.

`DevState` changes only through its `publish_*` methods, each of which returns the messages
every connected page must get; `catch_up` answers a page that connects late or reconnects.
Both are plain functions of the state, without I/O, so the server can apply them and queue
their messages without a pause in between, and the tests can call them directly.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import blake3

from rust_hmr.server import protocol

BUILD_ID_DIGITS = 16
# A patch up to this size goes to the pages in its message (base64), saving them a fetch
# (4-7 ms in chromium); a larger one (a big edit's many units) only by its URL.
INLINE_LIMIT = 256 * 1024


def build_id(module: bytes) -> str:
    """The id of a build: the first hex digits of its prepared module's blake3."""
    return blake3.blake3(module).hexdigest()[:BUILD_ID_DIGITS]


@dataclass(frozen=True)
class PageState:
    """What a connecting page says it runs: `build_id` (None: the page has no app loaded) and
    the last patch it applied. From the connection's query string."""

    build_id: str | None = None
    patch: int = 0

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> PageState:
        """From `build_id=<id>&patch=<n>`; a malformed patch number raises ValueError."""
        build_id = query.get("build_id") or None
        patch_text = query.get("patch") or "0"
        if not (patch_text.isascii() and patch_text.isdigit()) or len(patch_text) > 9:
            raise ValueError(f"patch must be a non-negative integer, got {patch_text!r}")
        return cls(build_id, int(patch_text))


@dataclass
class DevState:
    """The crate's current build (`module` bytes and its `build_id`) and the patches since:
    each as the message pages got (`patches`, in order) and its module (`patch_modules`, by
    id), for pages that connect later."""

    crate: str
    build_id: str | None = None
    module: bytes = b""
    patches: list[protocol.PatchMessage] = field(default_factory=list)
    patch_modules: dict[int, bytes] = field(default_factory=dict)
    error: protocol.Error | None = None
    glue: dict[str, bytes] = field(default_factory=dict)  # a wasm-bindgen app's glue files

    @property
    def last_patch(self) -> int:
        return self.patches[-1].id if self.patches else 0

    # URLs: both carry the build id, so a page never gets a module of another build.

    def module_url(self) -> str:
        return f"/_hmr/{self.build_id}/{self.crate}.wasm"

    def patch_url(self, patch_id: int) -> str:
        return f"/_hmr/{self.build_id}/patches/{patch_id}.wasm"

    def glue_url(self) -> str | None:
        """The glue's entry module, for a wasm-bindgen app."""
        return f"/_hmr/{self.build_id}/glue/app.js" if self.glue else None

    # Changes

    def publish_build(self, module: bytes, reason: str, crate: str | None = None,
                      glue: dict[str, bytes] | None = None) -> list[protocol.Message]:
        """A new main module (of `crate`, if its name changed; `glue`: its wasm-bindgen glue
        files by path): pages load it again."""
        self.crate = crate or self.crate
        self.glue = dict(glue or {})
        self.build_id = build_id(module)
        self.module = module
        self.patches = []
        self.patch_modules = {}
        self.error = None
        return [protocol.ReloadMessage(reason)]

    def publish_patch(self, patch_id: int, module: bytes, ms: int, functions: tuple[str, ...],
                      bindgen: dict[str, Any] | None = None) -> list[protocol.Message]:
        """Patch `patch_id` of the current build (ids follow each other from 1); `bindgen`:
        descriptions of the wasm-bindgen imports it brings."""
        if self.build_id is None:
            raise ValueError("no build to patch")
        if patch_id != self.last_patch + 1:
            raise ValueError(f"patch {patch_id} does not follow patch {self.last_patch}")
        messages = self.publish_ok()
        patch = protocol.PatchMessage(patch_id, self.patch_url(patch_id), ms, functions, bindgen)
        self.patches.append(patch)  # as a page that comes later gets it: by its URL
        self.patch_modules[patch_id] = module
        if len(module) <= INLINE_LIMIT:  # the pages there now get the bytes: no fetch
            patch = replace(patch, wasm=base64.b64encode(module).decode("ascii"))
        return [*messages, patch]

    def publish_error(self, message: str, diagnostics: str) -> list[protocol.Message]:
        self.error = protocol.Error(message, diagnostics)
        return [self.error]

    def publish_ok(self) -> list[protocol.Message]:
        """A build succeeded; if an error was shown, pages hide it."""
        if self.error is None:
            return []
        self.error = None
        return [protocol.Ok()]

    # Pages

    def catch_up(self, page: PageState) -> list[protocol.Message]:
        """What a page that connects now must get to run the current code."""
        if self.build_id is None:
            return [protocol.Hello(None, 0), *([self.error] if self.error else [])]
        if page.build_id is None:
            return [protocol.ReloadMessage("the app has been built")]
        if page.build_id != self.build_id:
            return [protocol.ReloadMessage(f"the page runs build {page.build_id}, "
                                           f"the server has build {self.build_id}")]
        if page.patch > self.last_patch:
            return [protocol.ReloadMessage(f"the page has patch {page.patch}, the server only "
                                           f"{self.last_patch} (did it restart?)")]
        missed = [p for p in self.patches if p.id > page.patch]
        return [protocol.Hello(self.build_id, self.last_patch), *missed,
                *([self.error] if self.error else [])]

    def patch_module(self, build_id: str, patch_id: int) -> bytes | None:
        if build_id != self.build_id:
            return None
        return self.patch_modules.get(patch_id)
