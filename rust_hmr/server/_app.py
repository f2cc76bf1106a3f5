"""The dev server: one asyncio process, HTTP and the `/_hmr` WebSocket, built on aiohttp.

Routes (GET and HEAD, and one POST; nothing else is served):

    /  and  /index.html                 the page: the crate's template with the runtime put in
    /_hmr                               the WebSocket; only from the server's own origin
    /_hmr/runtime/<file>                hmr.js, overlay.js
    /_hmr/<build_id>/<crate>.wasm       the prepared main module of build <build_id>
    /_hmr/<build_id>/patches/<n>.wasm   patch <n> of that build
    /_hmr/<build_id>/glue/<path>        a wasm-bindgen app's glue: app.js and its snippets
    /<path>                             a file of the crate's static directory

    POST /_hmr/trap                     a page's trap: its backtrace symbolicated (`_traps`)

A path that tries to leave its directory gets 403, any other unknown path 404. A request whose
Host header is a domain name other than `localhost` (or the one the server was started on)
gets 403: a page on another site can't reach the server through DNS rebinding.

Files (modules, patches, the runtime, static files) are streamed from disk, never held per
connection (see `_spool`). A request that is not HTTP gets aiohttp's 400 and one line in the
log (`_log`); a WebSocket frame without a client's mask closes the socket with 1002
(`_websocket`). Listening on an address other than loopback prints a warning.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import mimetypes
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import WSCloseCode, web
from aiohttp.typedefs import Middleware

from rust_hmr.runtime import RUNTIME_DIR, RUNTIME_FILES
from rust_hmr.server import protocol
from rust_hmr.server._files import OutsideRoot, read_template, render_page, resolve_inside
from rust_hmr.server._log import HTTP_LOGGER, LOGGER
from rust_hmr.server._spool import Spool
from rust_hmr.server._state import BUILD_ID_DIGITS, DevState, PageState
from rust_hmr.server._traps import BuildSnapshot, TrapDesk
from rust_hmr.server._websocket import PageSocket

SOCKET_PATH = "/_hmr"
_BUILD_ID = rf"{{build_id:[0-9a-f]{{{BUILD_ID_DIGITS}}}}}"
_NO_STORE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
_IMMUTABLE = {"Cache-Control": "max-age=31536000, immutable", "X-Content-Type-Options": "nosniff"}
_TYPES = {".wasm": "application/wasm", ".js": "text/javascript", ".mjs": "text/javascript",
          ".html": "text/html", ".css": "text/css", ".json": "application/json",
          ".svg": "image/svg+xml"}

TRAP_BODY_LIMIT = 256 * 1024  # a trap report: a stack trace and a few log lines
PAGE_FRAME_LIMIT = 64 * 1024  # pages send nothing; a bigger message closes the socket (1009)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ServerError(RuntimeError):
    """The dev server can't start (the port is taken, the address is not this machine's)."""


@dataclass(eq=False)
class _Page:
    """One connected page: its socket and the messages waiting to be sent to it, in order."""

    socket: web.WebSocketResponse
    outbox: asyncio.Queue[protocol.Message] = field(default_factory=asyncio.Queue)


class DevServer:
    """Serves one crate's dev build and pushes its changes to every connected page.

    The `publish_*` methods change the state and queue the resulting messages for every page
    in one step, so a page that connects meanwhile gets each message exactly once, in order.
    `static_dir` is served at `/`; the page template is the first of `page_templates` that
    exists (read at each request), else a minimal page.
    """

    def __init__(
        self,
        crate: str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        static_dir: Path | None = None,
        page_templates: Sequence[Path] = (),
        allowed_hosts: Iterable[str] = (),
        never_served: Iterable[Path] = (),
    ) -> None:
        self.state = DevState(crate)
        # folders the static route never serves from, wherever the static folder is: the
        # build's own outputs (static-dir = "." holds target/ too)
        self.never_served = tuple(p.resolve() for p in never_served)
        self.host = host
        self.requested_port = port
        self.static_dir = static_dir
        self.page_templates = tuple(page_templates)
        self.allowed_hosts = {h.lower() for h in (*allowed_hosts, host)}
        self._pages: set[_Page] = set()
        self._css_version = 0  # stylesheet swaps so far: each new URL differs
        self._spool = Spool()
        self.traps = TrapDesk()
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    # Life cycle

    async def start(self) -> None:
        app = web.Application(middlewares=[self._guard()])
        app.router.add_get("/", self._index)
        app.router.add_get("/index.html", self._index)
        app.router.add_get(SOCKET_PATH, self._socket)
        app.router.add_get(SOCKET_PATH + "/runtime/{name}", self._runtime)
        app.router.add_post(SOCKET_PATH + "/trap", self._trap)
        app.router.add_get(SOCKET_PATH + f"/{_BUILD_ID}/patches/{{id:[0-9]{{1,9}}}}.wasm",
                           self._patch)
        app.router.add_get(SOCKET_PATH + f"/{_BUILD_ID}/glue/{{path:.+}}", self._glue)
        app.router.add_get(SOCKET_PATH + f"/{_BUILD_ID}/{{name}}", self._module)
        app.router.add_get("/{path:.*}", self._static)
        app.on_shutdown.append(self._close_pages)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, logger=HTTP_LOGGER)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.requested_port)
        try:
            await site.start()
        except OSError as err:
            await runner.cleanup()
            raise ServerError(f"cannot listen on {self.host}:{self.requested_port}: "
                              f"{err.strerror or err}") from None
        self._runner = runner
        self._port = int(runner.addresses[0][1])
        exposed = [str(address[0]) for address in runner.addresses
                   if not _is_loopback(str(address[0]))]
        if exposed:
            LOGGER.warning(exposure_warning(exposed, self._port))

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self._spool.close()

    @property
    def port(self) -> int:
        if self._port is None:
            raise ServerError("the server has not started")
        return self._port

    @property
    def url(self) -> str:
        host = self.host
        if host in ("", "0.0.0.0", "::"):
            host = "localhost"
        elif ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}/"

    @property
    def pages(self) -> int:
        """How many pages are connected."""
        return len(self._pages)

    # What the server publishes

    def publish_build(self, module: bytes, reason: str, crate: str | None = None,
                      glue: dict[str, bytes] | None = None) -> None:
        """A new main module (of `crate`: cargo's name for it; `glue`: a wasm-bindgen app's
        glue files); connected pages reload."""
        self._spool.clear()
        self._send(self.state.publish_build(module, reason, crate, glue))

    def publish_patch(self, patch_id: int, module: bytes, ms: int,
                      functions: tuple[str, ...] = (),
                      bindgen: dict[str, Any] | None = None) -> None:
        self._send(self.state.publish_patch(patch_id, module, ms, functions, bindgen))

    def publish_error(self, message: str, diagnostics: str) -> None:
        self._send(self.state.publish_error(message, diagnostics))

    def publish_ok(self) -> None:
        self._send(self.state.publish_ok())

    def publish_css(self, url_path: str) -> None:
        """A stylesheet changed: pages swap it in place, their state kept."""
        self._css_version += 1
        self._send([protocol.StyleChanged(url_path, self._css_version)])

    def publish_reload(self, reason: str) -> None:
        """The page itself changed (a template or a static file): pages reload."""
        self._send([protocol.ReloadMessage(reason)])

    def _send(self, messages: list[protocol.Message]) -> None:
        for page in self._pages:
            for message in messages:
                page.outbox.put_nowait(message)

    # Requests

    def _guard(self) -> Middleware:
        @web.middleware
        async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
            if not self.host_allowed(request.headers.get("Host")):
                return web.Response(status=403, text="unknown Host (the dev server answers "
                                    "localhost and IP addresses only)\n", headers=_NO_STORE)
            return await handler(request)

        return guard

    def host_allowed(self, host_header: str | None) -> bool:
        """Whether a Host header names this server: an IP address, `localhost`, or a name
        the server was started with. Other names could be an attacker's DNS rebinding."""
        if host_header is None:
            return True  # HTTP/1.0 clients; browsers always send one
        name = _hostname(host_header)
        if name is None:
            return False
        if name == "localhost" or name.endswith(".localhost") or name in self.allowed_hosts:
            return True
        try:
            ipaddress.ip_address(name)
        except ValueError:
            return False
        return True

    async def _index(self, request: web.Request) -> web.Response:
        state = self.state
        template = read_template(self.page_templates, state.crate)
        config = {
            "crate": state.crate,
            "build_id": state.build_id,
            "module": state.module_url() if state.build_id else None,
            "patches": [protocol.as_json(p) for p in state.patches],
            "socket": SOCKET_PATH,
        }
        if state.build_id and state.glue:
            config["glue"] = state.glue_url()  # a wasm-bindgen app: the page loads its glue
        return web.Response(text=render_page(template, config), content_type="text/html",
                            headers=_NO_STORE)

    async def _socket(self, request: web.Request) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        if origin is None or origin.lower() != f"{request.scheme}://{request.host}".lower():
            raise web.HTTPForbidden(text=f"WebSocket from origin {origin!r} refused: the dev "
                                    "server takes connections from its own pages only\n")
        try:
            page_state = PageState.from_query(request.query)
        except ValueError as err:
            raise web.HTTPBadRequest(text=f"{err}\n") from None
        socket = PageSocket(heartbeat=30.0, max_msg_size=PAGE_FRAME_LIMIT)
        if not socket.can_prepare(request).ok:
            raise web.HTTPBadRequest(text="expected a WebSocket upgrade\n")
        await socket.prepare(request)
        page = _Page(socket)
        for message in self.state.catch_up(page_state):
            page.outbox.put_nowait(message)
        self._pages.add(page)  # no await since catch_up: no message is missed or doubled
        writer = asyncio.create_task(self._write(page))
        try:
            async for _ in socket:
                pass  # pages send nothing; the loop ends when the socket closes
        finally:
            self._pages.discard(page)
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
        return socket

    async def _trap(self, request: web.Request) -> web.Response:
        """A page's trap: its backtrace in Rust terms, also written to the terminal."""
        origin = request.headers.get("Origin")
        if origin is None or origin.lower() != f"{request.scheme}://{request.host}".lower():
            raise web.HTTPForbidden(text="trap reports come from the server's own pages\n")
        body = await request.content.read(TRAP_BODY_LIMIT + 1)
        try:
            if len(body) > TRAP_BODY_LIMIT:
                raise protocol.ProtocolError("a trap report too long")
            report = protocol.decode_trap(body)
        except protocol.ProtocolError as err:
            raise web.HTTPBadRequest(text=f"{err}\n") from None
        state = self.state
        snapshot = BuildSnapshot(state.build_id, state.module,
                                 list(state.patch_modules.items()))
        answer = await asyncio.to_thread(self.traps.answer, report, snapshot)
        took = f" (symbolicated in {self.traps.seconds[-1] * 1000:.0f} ms)" \
            if answer.frames else ""
        LOGGER.warning("a page trapped%s: %s", took, answer.text)
        return web.Response(text=protocol.encode_answer(answer),
                            content_type="application/json", headers=_NO_STORE)

    async def _write(self, page: _Page) -> None:
        while True:
            message = await page.outbox.get()
            try:
                await page.socket.send_str(protocol.encode(message))
            except (ConnectionError, RuntimeError):
                return  # the page went away; the reader's loop ends too

    async def _close_pages(self, _app: web.Application) -> None:
        for page in list(self._pages):
            await page.socket.close(code=WSCloseCode.GOING_AWAY, message=b"server stopping")

    async def _runtime(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name not in RUNTIME_FILES:
            raise web.HTTPNotFound()
        return self._file(RUNTIME_DIR, name, _NO_STORE)

    async def _module(self, request: web.Request) -> web.StreamResponse:
        state = self.state
        if (request.match_info["build_id"] != state.build_id
                or request.match_info["name"] != f"{state.crate}.wasm"):
            raise web.HTTPNotFound(text="no such build (the app was rebuilt: reload)\n")
        return _wasm(self._spool.file(f"{state.build_id}/{state.crate}.wasm", state.module))

    async def _glue(self, request: web.Request) -> web.StreamResponse:
        path = request.match_info["path"]
        data = self.state.glue.get(path) \
            if request.match_info["build_id"] == self.state.build_id else None
        if data is None:
            raise web.HTTPNotFound(text="no such glue file\n")
        return web.Response(body=data, content_type="text/javascript", headers=_IMMUTABLE)

    async def _patch(self, request: web.Request) -> web.StreamResponse:
        build_id, patch_id = request.match_info["build_id"], int(request.match_info["id"])
        module = self.state.patch_module(build_id, patch_id)
        if module is None:
            raise web.HTTPNotFound(text="no such patch\n")
        return _wasm(self._spool.file(f"{build_id}/patches/{patch_id}.wasm", module))

    async def _static(self, request: web.Request) -> web.StreamResponse:
        path = request.match_info["path"]
        try:
            if self.static_dir is None or self._never_served(path):
                raise web.HTTPNotFound()
            return self._file(self.static_dir, path, _NO_STORE)
        except web.HTTPNotFound:
            if path == "favicon.ico":  # browsers ask for one; say "none" without an error
                return web.Response(status=204, headers=_NO_STORE)
            raise

    def _never_served(self, url_path: str) -> bool:
        assert self.static_dir is not None
        if not self.never_served or "\0" in url_path:  # a NUL: resolve_inside refuses it
            return False
        real = (self.static_dir / url_path.lstrip("/")).resolve()
        return any(real.is_relative_to(folder) for folder in self.never_served)

    def _file(self, root: Path, url_path: str, headers: dict[str, str]) -> web.FileResponse:
        try:
            path = resolve_inside(root, url_path)
        except OutsideRoot:
            raise web.HTTPForbidden(text="outside the served directory\n") from None
        if path is None:
            raise web.HTTPNotFound()
        kind = _TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0]
        return web.FileResponse(path, headers={**headers,
                                               "Content-Type": kind or "application/octet-stream"})


def _wasm(path: Path) -> web.FileResponse:
    return web.FileResponse(path, headers={**_IMMUTABLE, "Content-Type": "application/wasm"})


def _is_loopback(address: str) -> bool:
    """Whether a bound address (an IP literal, as the socket reports it) is this machine's
    loopback; `0.0.0.0`, `::` and the machine's network addresses are not."""
    try:
        return ipaddress.ip_address(address.split("%")[0]).is_loopback
    except ValueError:
        return False


def exposure_warning(addresses: Sequence[str], port: int) -> str:
    """The warning printed when the server listens on other addresses than loopback."""
    where = ", ".join(f"[{a}]:{port}" if ":" in a else f"{a}:{port}" for a in addresses)
    return (f"warning: the dev server listens on {where}, not on loopback: any machine that "
            'can reach this one can load the app (host = "127.0.0.1" keeps it local)')


def _hostname(host_header: str) -> str | None:
    """The host name of a Host header (`name`, `name:port`, `[v6]:port`), lowercased."""
    text = host_header.strip().lower()
    if text.startswith("["):
        end = text.find("]")
        rest = text[end + 1:]
        if end < 0 or (rest and not (rest.startswith(":") and rest[1:].isdigit())):
            return None
        return text[1:end]
    name, colon, port = text.rpartition(":")
    if colon and port.isdigit():
        text = name
    return text if text and ":" not in text else None
