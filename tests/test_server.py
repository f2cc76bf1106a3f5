"""The dev server without a browser: the wire format, what it serves (and what it never
serves), who may open its WebSocket, what a late page gets, and the dev loop's queue.

The server runs on 127.0.0.1 on a free port inside `asyncio.run`; requests that must reach it
unnormalised (`..`, `%2e%2e`, `//etc`) are written byte for byte on a plain socket.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import re
import threading
import time
import typing
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from watchfiles import Change

from rust_hmr.compile_inputs import CompileInputs
from rust_hmr.dev import DevLoop, SourceFilter
from rust_hmr.link import Patch
from rust_hmr.runtime import RUNTIME_DIR, RUNTIME_FILES, runtime_file
from rust_hmr.server import (
    DevServer,
    DevState,
    OutsideRoot,
    PageState,
    build_id,
    protocol,
    render_page,
    resolve_inside,
)
from rust_hmr.server._state import INLINE_LIMIT

MODULE = b"\0asm\x01\0\0\0"  # an empty module stands in for the app
OTHER_MODULE = b"\0asm\x01\0\0\0\0\x03\x01\0"  # one more (empty) custom section
SECRET = "the content of a file outside the served folders"


# The protocol


MESSAGES: list[protocol.Message] = [
    protocol.Hello("0123456789abcdef", 3),
    protocol.Hello(None, 0),
    protocol.PatchMessage(2, "/_hmr/0123456789abcdef/patches/2.wasm", 231, ("a::b", "c::d")),
    protocol.PatchMessage(1, "/x.wasm", 0),
    protocol.PatchMessage(4, "/x.wasm", 3, ("f",), wasm="AGFzbQEAAAA="),
    protocol.ReloadMessage("static counter::COUNT changed size from 4 to 8 bytes"),
    protocol.Error("error[E0308]: mismatched types at src/lib.rs:3:5", "error[E0308]: ...\n"),
    protocol.StyleChanged("/css/site.css", 4),
    protocol.Ok(),
]


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: m.type)
def test_messages_round_trip(message: protocol.Message) -> None:
    text = protocol.encode(message)
    data = json.loads(text)
    assert data["type"] == message.type
    assert protocol.decode(text) == message


def wire_types() -> dict[str, type]:
    """Every message class of the protocol, found in the module itself (a dataclass with a
    `type` field), by the wire type that field holds: not from a list kept here."""
    found: dict[str, type] = {}
    for value in vars(protocol).values():
        if isinstance(value, type) and dataclasses.is_dataclass(value):
            kind = {f.name: f for f in dataclasses.fields(value)}.get("type")
            if kind is not None:
                assert isinstance(kind.default, str), value
                found[kind.default] = value
    return found


def runtime_cases() -> dict[str, str]:
    """The cases of the runtime's dispatch on `message.type` (hmr.js), each with its code."""
    runtime = (RUNTIME_DIR / "hmr.js").read_text()
    start = runtime.index("switch (message.type) {")
    depth, end = 0, start
    for end in range(start, len(runtime)):
        depth += {"{": 1, "}": -1}.get(runtime[end], 0)
        if depth == 0 and runtime[end] == "}":
            break
    switch = runtime[start:end]
    parts = re.split(r'^\s*(case "[^"]*":|default:)', switch, flags=re.MULTILINE)[1:]
    return {label.removeprefix("case ").strip('":'): code.strip()
            for label, code in zip(parts[::2], parts[1::2], strict=True)}


def test_the_examples_cover_every_message_type() -> None:
    types = wire_types()
    assert {"hello", "patch", "full-reload", "error", "css", "ok"} <= types.keys()
    assert {m.type for m in MESSAGES} == types.keys()
    assert set(protocol._BY_TYPE) == types.keys()  # decode knows them all
    assert set(protocol._BY_TYPE.values()) == set(typing.get_args(protocol.Message))


def test_describe_says_what_each_message_is() -> None:
    described: dict[protocol.Message, str] = {
        protocol.Hello("0123456789abcdef", 3): "hello: build 0123456789abcdef, patch 3",
        protocol.Hello(None, 0): "hello: build (none yet), patch 0",
        protocol.PatchMessage(2, "/_hmr/0123456789abcdef/patches/2.wasm", 231, ("a", "b")):
            "patch 2: 2 functions, 231 ms",
        protocol.PatchMessage(1, "/x.wasm", 0): "patch 1: 0 functions, 0 ms",
        protocol.ReloadMessage("static counter::COUNT changed size from 4 to 8 bytes"):
            "full reload: static counter::COUNT changed size from 4 to 8 bytes",
        protocol.Error("error[E0308]: mismatched types at src/lib.rs:3:5", "error[E0308]: ..."):
            "error: error[E0308]: mismatched types at src/lib.rs:3:5",
        protocol.StyleChanged("/css/site.css", 4): "stylesheet changed: /css/site.css",
        protocol.Ok(): "ok",
    }
    assert {m.type for m in described} == wire_types().keys()  # every kind has its text
    for message, text in described.items():
        assert protocol.describe(message) == text


def test_message_types_are_kebab_case_and_the_runtime_handles_each() -> None:
    cases = runtime_cases()
    assert cases.pop("default").startswith("throw new Error"), "an unknown type must throw"
    for kind in wire_types():
        assert re.fullmatch(r"[a-z]+(-[a-z]+)*", kind), kind
        assert kind in cases, f"hmr.js does not handle {kind!r} messages"
        assert cases[kind] not in ("", "break;"), f"hmr.js does nothing on {kind!r}"
    assert cases.keys() == wire_types().keys(), "hmr.js handles a type the protocol lacks"


def test_wire_format_is_stable() -> None:
    patch = protocol.PatchMessage(3, "/_hmr/0123456789abcdef/patches/3.wasm", 120, ("f",))
    assert json.loads(protocol.encode(patch)) == {
        "type": "patch", "id": 3, "url": "/_hmr/0123456789abcdef/patches/3.wasm", "ms": 120,
        "functions": ["f"]}
    assert json.loads(protocol.encode(protocol.ReloadMessage("why"))) == {
        "type": "full-reload", "reason": "why"}
    assert json.loads(protocol.encode(protocol.Ok())) == {"type": "ok"}
    assert json.loads(protocol.encode(protocol.Hello("0123456789abcdef", 2))) == {
        "type": "hello", "build_id": "0123456789abcdef", "patch": 2}
    # the validation table names exactly the messages' fields
    assert set(protocol._KINDS) == {f.name for cls in protocol._BY_TYPE.values()
                                    for f in dataclasses.fields(cls) if f.init}


@pytest.mark.parametrize("text", [
    "", "[]", "3", '{"type": "nope"}', '{"reason": "no type"}',
    '{"type": "full-reload"}',
    '{"type": "full-reload", "reason": "x", "extra": 1}',
    '{"type": "patch", "id": "1", "url": "/p", "ms": 1, "functions": []}',
    '{"type": "patch", "id": true, "url": "/p", "ms": 1, "functions": []}',
    '{"type": "patch", "id": 1, "url": "/p", "ms": 1, "functions": [1]}',
    '{"type": "hello", "build_id": 5, "patch": 0}',
    '{"type": "hello", "build": "0123456789abcdef", "patch": 0}',  # the field is build_id
])
def test_malformed_frames_raise_protocol_error(text: str) -> None:
    with pytest.raises(protocol.ProtocolError):
        protocol.decode(text)


# The state: what a page that connects late or reconnects gets


def test_catch_up_sends_the_missed_patches_in_order() -> None:
    state = DevState("counter")
    state.publish_build(MODULE, "first build")
    for n in (1, 2, 3):
        state.publish_patch(n, MODULE, 10 * n, (f"f{n}",))
    current = build_id(MODULE)
    assert state.build_id == current
    got = state.catch_up(PageState(current, 1))
    assert got[0] == protocol.Hello(current, 3)
    assert [m.id for m in got[1:] if isinstance(m, protocol.PatchMessage)] == [2, 3]
    assert got[1] == protocol.PatchMessage(2, f"/_hmr/{current}/patches/2.wasm", 20, ("f2",))
    assert state.catch_up(PageState(current, 3)) == [protocol.Hello(current, 3)]


def test_a_patch_pushed_as_it_is_made_carries_its_bytes_a_late_page_fetches_them() -> None:
    state = DevState("counter")
    state.publish_build(MODULE, "first build")
    big = MODULE + bytes(INLINE_LIMIT)
    (small_push,) = state.publish_patch(1, OTHER_MODULE, 5, ("f",))
    (big_push,) = state.publish_patch(2, big, 5, ("f",))
    assert isinstance(small_push, protocol.PatchMessage)
    assert small_push.wasm is not None and base64.b64decode(small_push.wasm) == OTHER_MODULE
    assert isinstance(big_push, protocol.PatchMessage) and big_push.wasm is None
    later = state.catch_up(PageState(state.build_id, 0))[1:]
    assert [(m.id, m.wasm) for m in later if isinstance(m, protocol.PatchMessage)] == [
        (1, None), (2, None)]  # by URL: the server keeps no second copy
    assert state.patch_module(state.build_id or "", 1) == OTHER_MODULE


@pytest.mark.parametrize(("page", "why"), [
    (PageState("ffffffffffffffff", 0), "build"),
    (PageState(None, 0), "built"),
    (PageState(build_id(MODULE), 7), "patch 7"),
])
def test_catch_up_reloads_a_page_that_runs_something_else(page: PageState, why: str) -> None:
    state = DevState("counter")
    state.publish_build(MODULE, "first build")
    state.publish_patch(1, MODULE, 5, ())
    [message] = state.catch_up(page)
    assert isinstance(message, protocol.ReloadMessage) and why in message.reason


def test_errors_are_kept_for_late_pages_until_fixed() -> None:
    state = DevState("counter")
    assert state.catch_up(PageState()) == [protocol.Hello(None, 0)]
    assert state.publish_error("error: x", "diag") == [protocol.Error("error: x", "diag")]
    assert state.catch_up(PageState()) == [protocol.Hello(None, 0),
                                           protocol.Error("error: x", "diag")]
    assert state.publish_build(MODULE, "built") == [protocol.ReloadMessage("built")]
    state.publish_error("error: y", "diag")
    sent = state.publish_patch(1, MODULE, 3, ())
    assert [m.type for m in sent] == ["ok", "patch"]
    assert state.publish_ok() == []


def test_patches_must_follow_each_other() -> None:
    state = DevState("counter")
    with pytest.raises(ValueError, match="no build"):
        state.publish_patch(1, MODULE, 1, ())
    state.publish_build(MODULE, "first")
    with pytest.raises(ValueError, match="does not follow"):
        state.publish_patch(2, MODULE, 1, ())
    state.publish_patch(1, MODULE, 1, ())
    state.publish_build(OTHER_MODULE, "a full reload")  # a new build counts from 1 again
    assert state.last_patch == 0 and state.patch_module(build_id(MODULE), 1) is None


@pytest.mark.parametrize("query", [{"patch": "-1"}, {"patch": "x"}, {"patch": "1e3"},
                                   {"patch": "1" * 12}])
def test_page_state_refuses_bad_patch_numbers(query: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        PageState.from_query(query)


# Files


@pytest.fixture
def served(tmp_path: Path) -> dict[str, Path]:
    """A static folder beside a secret; symlinks inside it pointing out (file and folder)."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(SECRET)
    static = tmp_path / "crate" / "static"
    (static / "css").mkdir(parents=True)
    (static / "css" / "site.css").write_text("body { margin: 0 }\n")
    (static / ".env").write_text(SECRET)
    (static / "link.txt").symlink_to(outside / "secret.txt")
    (static / "linkdir").symlink_to(outside, target_is_directory=True)
    (tmp_path / "crate" / "index.html").write_text(
        "<!doctype html><html><head><title>t</title></head><body><p id=x></p></body></html>")
    return {"static": static, "outside": outside, "crate": tmp_path / "crate"}


@pytest.mark.parametrize("path", [
    "../outside/secret.txt", "css/../../../outside/secret.txt", "/etc/passwd", "..",
    "css/./site.css", "css\\..\\..\\outside\\secret.txt", "link.txt", "linkdir/secret.txt",
    "css/site.css\0.png",
])
def test_resolve_inside_refuses_paths_that_leave_the_root(served: dict[str, Path],
                                                          path: str) -> None:
    with pytest.raises(OutsideRoot):
        resolve_inside(served["static"], path)


def test_resolve_inside_finds_files_and_nothing_else(served: dict[str, Path]) -> None:
    static = served["static"]
    assert resolve_inside(static, "css/site.css") == (static / "css" / "site.css").resolve()
    assert resolve_inside(static, "css//site.css") == (static / "css" / "site.css").resolve()
    assert resolve_inside(static, "css") is None  # a folder
    assert resolve_inside(static, "missing.js") is None
    assert resolve_inside(static, ".env") is None  # dotfiles are never served
    assert resolve_inside(static, "") is None


def test_render_page_puts_the_runtime_before_head_end() -> None:
    page = render_page("<html><head><title>x</title></head><body></body></html>",
                       {"build_id": None, "note": "</script><script>alert(1)</script>"})
    head = page.partition("</head>")[0]
    assert '<script type="module" src="/_hmr/runtime/hmr.js"></script>' in head
    assert "</script><script>alert" not in page  # "</" is escaped inside the JSON
    config = head.split('id="rust-hmr-config">')[1].split("</script>")[0]
    assert json.loads(config)["note"] == "</script><script>alert(1)</script>"
    assert render_page("<p>bare</p>", {}).endswith("<p>bare</p>")


def test_runtime_files_are_known() -> None:
    for name in RUNTIME_FILES:
        assert runtime_file(name).is_file()
    with pytest.raises(KeyError):
        runtime_file("../dev.py")
    lines = sum(len(runtime_file(n).read_text().splitlines()) for n in ("hmr.js",))
    assert lines < 400


# The server over real sockets


def run_server(served: dict[str, Path] | None,
               body: Callable[[DevServer], Awaitable[None]]) -> None:
    async def main() -> None:
        server = DevServer("counter", port=0,
                           static_dir=served["static"] if served else None,
                           page_templates=[served["crate"] / "index.html"] if served else [])
        await server.start()
        try:
            await body(server)
        finally:
            await server.stop()

    asyncio.run(main())


async def raw_get(server: DevServer, target: str, host: str | None = None,
                  ) -> tuple[int, bytes]:
    """GET `target` exactly as written (no client normalises it); the status and body."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    host_line = f"Host: {host or f'127.0.0.1:{server.port}'}\r\n"
    writer.write(f"GET {target} HTTP/1.1\r\n{host_line}Connection: close\r\n\r\n".encode())
    await writer.drain()
    response = await reader.read()
    writer.close()
    await writer.wait_closed()
    head, _, body = response.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


TRAVERSALS = [
    "/../outside/secret.txt", "/%2e%2e/outside/secret.txt", "/%2E%2E/%2e%2e/outside/secret.txt",
    "/css/..%2f..%2f..%2foutside%2fsecret.txt", "/css/%2e%2e/%2e%2e/outside/secret.txt",
    "//etc/passwd", "/%2fetc%2fpasswd", "/..%5c..%5coutside%5csecret.txt",
    "/link.txt", "/linkdir/secret.txt", "/.env", "/%2e%65nv", "/static/../../outside/secret.txt",
    "/_hmr/runtime/../../dev.py", "/_hmr/runtime/..%2f..%2fdev.py", "/_hmr/runtime/%2e%2e",
    "/_hmr/runtime/..%2f__init__.py", "/_hmr/runtime/__init__.py", "/css/site.css%00.png",
    "http://127.0.0.1/../outside/secret.txt",
]


def test_paths_outside_the_served_folders_are_refused(served: dict[str, Path]) -> None:
    async def body(server: DevServer) -> None:
        status, text = await raw_get(server, "/css/site.css")
        assert (status, text) == (200, b"body { margin: 0 }\n")
        for target in TRAVERSALS:
            status, text = await raw_get(server, target)
            assert status in (400, 403, 404), (target, status)
            assert SECRET.encode() not in text and b"import" not in text, target
        assert (await raw_get(server, "/../outside/secret.txt"))[0] == 403

    run_server(served, body)


def test_requests_for_foreign_host_names_are_refused(served: dict[str, Path]) -> None:
    """DNS rebinding: a page on evil.example resolving to 127.0.0.1 sends Host: evil.example."""
    async def body(server: DevServer) -> None:
        assert (await raw_get(server, "/", host=f"evil.example:{server.port}"))[0] == 403
        for host in (f"localhost:{server.port}", f"127.0.0.1:{server.port}", "[::1]:80",
                     "app.localhost"):
            assert (await raw_get(server, "/css/site.css", host=host))[0] == 200, host

    run_server(served, body)
    server = DevServer("x")
    assert not server.host_allowed("127.0.0.1.evil.example")
    assert not server.host_allowed("[::1")
    assert server.host_allowed("10.1.2.3:8000")


def test_page_module_and_patches_are_served(served: dict[str, Path]) -> None:
    async def body(server: DevServer) -> None:
        server.publish_build(MODULE, "first build")
        server.publish_patch(1, OTHER_MODULE, 12, ("f",))
        build_id = server.state.build_id
        async with aiohttp.ClientSession() as http:
            async with http.get(server.url) as response:
                page = await response.text()
                assert response.headers["Cache-Control"] == "no-store"
            config = json.loads(page.split('id="rust-hmr-config">')[1].split("</script>")[0])
            assert config == {"crate": "counter", "build_id": build_id,
                              "module": f"/_hmr/{build_id}/counter.wasm",
                              "patches": [{"type": "patch", "id": 1, "ms": 12,
                                           "url": f"/_hmr/{build_id}/patches/1.wasm",
                                           "functions": ["f"]}],
                              "socket": "/_hmr"}
            assert '<p id=x></p>' in page  # the crate's own template
            async with http.get(f"{server.url}_hmr/{build_id}/counter.wasm") as response:
                assert response.content_type == "application/wasm"
                assert await response.read() == MODULE
            async with http.get(f"{server.url}_hmr/{build_id}/patches/1.wasm") as response:
                assert await response.read() == OTHER_MODULE
            for stale in (f"_hmr/{'0' * 16}/counter.wasm", f"_hmr/{build_id}/patches/2.wasm",
                          f"_hmr/{'0' * 16}/patches/1.wasm", f"_hmr/{build_id}/other.wasm"):
                async with http.get(server.url + stale) as response:
                    assert response.status == 404, stale
            async with http.get(f"{server.url}_hmr/runtime/hmr.js") as response:
                assert response.content_type == "text/javascript"
                assert "WebAssembly.instantiateStreaming" in await response.text()

    run_server(served, body)


def test_page_without_a_template_is_generated() -> None:
    async def body(server: DevServer) -> None:
        status, page = await raw_get(server, "/index.html")
        assert status == 200 and b'src="/_hmr/runtime/hmr.js"' in page
        assert b"<title>counter</title>" in page

    run_server(None, body)


def ws_url(server: DevServer, build_id: str | None = None, patch: int = 0) -> str:
    return f"ws://127.0.0.1:{server.port}/_hmr?build_id={build_id or ''}&patch={patch}"


async def receive(socket: aiohttp.ClientWebSocketResponse, count: int) -> list[Any]:
    return [protocol.decode(await asyncio.wait_for(socket.receive_str(), 5))
            for _ in range(count)]


def test_websocket_from_another_origin_is_refused() -> None:
    async def body(server: DevServer) -> None:
        own = f"http://127.0.0.1:{server.port}"
        async with aiohttp.ClientSession() as http:
            for origin in ("http://evil.example", f"http://localhost:{server.port + 1}",
                           f"https://127.0.0.1:{server.port}", "null", None):
                headers = {"Origin": origin} if origin else {}
                with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                    await http.ws_connect(ws_url(server), headers=headers)
                assert refused.value.status == 403, origin
            async with http.ws_connect(ws_url(server), headers={"Origin": own}) as socket:
                assert await receive(socket, 1) == [protocol.Hello(None, 0)]
            # The socket's own path only; a plain GET is not an upgrade.
            status, _ = await raw_get(server, "/_hmr")
            assert status in (400, 403)

    run_server(None, body)


def test_late_page_gets_the_missed_patches_then_live_ones() -> None:
    async def body(server: DevServer) -> None:
        server.publish_build(MODULE, "first build")
        build_id = server.state.build_id
        assert build_id is not None
        for n in (1, 2, 3):
            server.publish_patch(n, MODULE, n, (f"f{n}",))
        headers = {"Origin": f"http://127.0.0.1:{server.port}"}
        async with aiohttp.ClientSession() as http:
            async with http.ws_connect(ws_url(server, build_id, 1), headers=headers) as late:
                hello, second, third = await receive(late, 3)
                assert hello == protocol.Hello(build_id, 3)
                assert (second.id, third.id) == (2, 3)
                assert second.url == f"/_hmr/{build_id}/patches/2.wasm"
                assert server.pages == 1
                # Live: an error, its fix, a patch; then a full reload.
                server.publish_error("error: x", "diagnostics")
                server.publish_patch(4, MODULE, 9, ())
                assert [m.type for m in await receive(late, 3)] == ["error", "ok", "patch"]
                server.publish_build(OTHER_MODULE, "a static changed its type")
                assert await receive(late, 1) == [
                    protocol.ReloadMessage("a static changed its type")]
            async with http.ws_connect(ws_url(server, build_id, 4), headers=headers) as stale:
                [reload] = await receive(stale, 1)
                assert isinstance(reload, protocol.ReloadMessage)
                assert build_id in reload.reason

    run_server(None, body)


def test_stopping_the_server_closes_the_pages_sockets() -> None:
    async def main() -> None:
        server = DevServer("counter")
        await server.start()
        async with aiohttp.ClientSession() as http:
            socket = await http.ws_connect(
                ws_url(server), headers={"Origin": f"http://127.0.0.1:{server.port}"})
            await receive(socket, 1)
            await server.stop()
            message = await asyncio.wait_for(socket.receive(), 5)
            assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
            await socket.close()

    asyncio.run(main())


# The dev loop: watching and queueing (with a stand-in for the Rust build)


def test_source_filter_ignores_build_output_and_editor_files(tmp_path: Path) -> None:
    crate = tmp_path / "target" / "app"  # folders above the crate don't count
    keep = SourceFilter(crate)
    for name in ("src/lib.rs", "Cargo.toml", "index.html", "static/site.css"):
        assert keep(Change.modified, str(crate / name)), name
    for name in ("target/debug/x.o", "target", "src/.lib.rs.swp", "src/lib.rs~", "src/4913",
                 "src/#lib.rs#", "src/lib.rs.orig", ".git/index"):
        assert not keep(Change.modified, str(crate / name)), name


class SlowProject:
    """Stands in for Project: each rebuild blocks until released, and records overlaps."""

    def __init__(self) -> None:
        self.calls = 0
        self.running = 0
        self.overlapped = False
        self.release = threading.Semaphore(0)
        self.started = threading.Event()
        self.inputs = CompileInputs()

    def rebuild(self) -> Patch:
        self.running += 1
        self.overlapped |= self.running > 1
        self.calls += 1
        self.started.set()
        self.release.acquire(timeout=10)
        self.running -= 1
        return Patch(self.calls, MODULE, ("f",))


def test_saves_during_a_rebuild_queue_exactly_one_more(tmp_path: Path) -> None:
    from conftest import EXAMPLES, copy_crate

    crate = copy_crate(EXAMPLES / "counter", tmp_path / "counter")
    loop = DevLoop(crate, echo=lambda line: None)
    project = SlowProject()
    loop.project = project  # type: ignore[assignment]
    source = str(crate / "src" / "lib.rs")

    async def main() -> None:
        loop.server.publish_build(MODULE, "first build")
        loop._needs_build = False
        builder = asyncio.create_task(loop._build_loop())
        loop.changed({(Change.modified, source)})
        await asyncio.to_thread(project.started.wait, 5)
        for _ in range(5):  # a burst of saves while the first rebuild runs
            loop.changed({(Change.modified, source), (Change.added, source + "~")})
            await asyncio.sleep(0.01)
        project.release.release()
        project.release.release()
        deadline = time.monotonic() + 5
        while len(loop.reports) < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)  # a third rebuild would start now
        builder.cancel()
        project.release.release()

    asyncio.run(main())
    assert project.calls == 2 and not project.overlapped
    assert [r.outcome for r in loop.reports] == ["patch", "patch"]
    assert loop.reports[0].changed == ("src/lib.rs",)
    assert loop.server.state.last_patch == 2


def test_page_files_only_reload_the_page(tmp_path: Path) -> None:
    from conftest import EXAMPLES, copy_crate

    crate = copy_crate(EXAMPLES / "counter", tmp_path / "counter")
    loop = DevLoop(crate, echo=lambda line: None)

    async def main() -> None:
        builder = asyncio.create_task(loop._build_loop())
        loop.changed({(Change.modified, str(crate / "index.html"))})
        while not loop.reports:
            await asyncio.sleep(0.01)
        builder.cancel()

    asyncio.run(main())
    [report] = loop.reports
    assert (report.outcome, report.changed) == ("reload", ("index.html",))
    assert "index.html" in report.line() and "page reload" in report.line()


def test_a_page_file_saved_with_a_source_still_reloads_the_page(tmp_path: Path) -> None:
    from conftest import EXAMPLES, copy_crate

    crate = copy_crate(EXAMPLES / "counter", tmp_path / "counter")
    loop = DevLoop(crate, echo=lambda line: None)
    project = SlowProject()
    project.release.release()
    loop.project = project  # type: ignore[assignment]

    async def main() -> None:
        loop.server.publish_build(MODULE, "first build")
        loop._needs_build = False
        builder = asyncio.create_task(loop._build_loop())
        loop.changed({(Change.modified, str(crate / "index.html")),
                      (Change.modified, str(crate / "Cargo.toml"))})
        while not loop.reports:
            await asyncio.sleep(0.01)
        builder.cancel()

    asyncio.run(main())
    [report] = loop.reports
    assert report.outcome == "reload" and project.calls == 1
    assert report.changed == ("Cargo.toml", "index.html")
    assert "page reload" in report.line()


def test_a_burst_of_saves_is_one_rebuild_after_the_first(tmp_path: Path) -> None:
    """50 saves in 2 s: the first save rebuilds at once (no delay for a single save), the
    rest wait for the burst to end and take one rebuild."""
    from conftest import EXAMPLES, copy_crate

    crate = copy_crate(EXAMPLES / "counter", tmp_path / "counter")
    loop = DevLoop(crate, echo=lambda line: None)
    project = SlowProject()
    loop.project = project  # type: ignore[assignment]
    source = str(crate / "src" / "lib.rs")

    def release_after(seconds: float) -> None:
        while True:
            project.started.wait()
            project.started.clear()
            time.sleep(seconds)
            project.release.release()

    threading.Thread(target=release_after, args=(0.1,), daemon=True).start()

    async def main() -> None:
        loop.server.publish_build(MODULE, "first build")
        loop._needs_build = False
        builder = asyncio.create_task(loop._build_loop())
        for _ in range(50):
            loop.changed({(Change.modified, source)})
            await asyncio.sleep(0.04)
        deadline = time.monotonic() + 5
        while len(loop.reports) < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.5)  # a third rebuild would start now
        builder.cancel()

    asyncio.run(main())
    assert project.calls == 2 and not project.overlapped
    assert [r.outcome for r in loop.reports] == ["patch", "patch"]


def test_the_static_route_never_serves_the_builds_outputs(tmp_path: Path) -> None:
    """static-dir = ".": the crate's files are static, but not target/ or dist/."""
    crate = tmp_path / "crate"
    for name in ("site.css", "target/rust-hmr/app.wasm", "dist/index.html"):
        (crate / name).parent.mkdir(parents=True, exist_ok=True)
        (crate / name).write_text(name)

    async def main() -> None:
        server = DevServer("counter", port=0, static_dir=crate,
                           never_served=(crate / "target", crate / "dist"))
        await server.start()
        try:
            assert await raw_get(server, "/site.css") == (200, b"site.css")
            for path in ("/target/rust-hmr/app.wasm", "/dist/index.html", "/dist/../dist/"):
                assert (await raw_get(server, path))[0] == 404, path
        finally:
            await server.stop()

    asyncio.run(main())
