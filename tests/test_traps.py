"""Traps in Rust terms: a HostTrap's backtrace (demangled names, file:line from DWARF, main
module and patches), the line tables behind it, and the dev server's `POST /_hmr/trap`.

The counter example, copied and given a panic hook (its `start` export installs one that
logs through `env.log`), is built once for the module; the patch cases edit label.rs and
put it back.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from conftest import EXAMPLES, copy_crate

from rust_hmr import Patch, Project
from rust_hmr.backtrace import MAIN, RawFrame, panic_message
from rust_hmr.dwarf._sections import debug_sections, open_dwarf
from rust_hmr.dwarf._units import unit_ranges
from rust_hmr.dwarf.lines import LineTable
from rust_hmr.host import Host, HostTrap
from rust_hmr.server import DevServer, protocol
from rust_hmr.server._traps import parse_stack
from rust_hmr.wasm.module import parse

PANIC_HOOK = """

#[link(wasm_import_module = "env")]
extern "C" {
    #[link_name = "log"]
    fn host_log(ptr: *const u8, len: usize);
}

/// The runtime calls this once the app has loaded: a panic's message goes to the console.
#[no_mangle]
pub extern "C" fn start() {
    std::panic::set_hook(Box::new(|info| {
        let text = info.to_string();
        unsafe { host_log(text.as_ptr(), text.len()) }
    }));
}
"""
ARM = '        1 => String::from("one click"),\n'


def line_of(path: Path, text: str) -> int:
    """The 1-based number of the one line of `path` that contains `text`."""
    found = [n for n, line in enumerate(path.read_text().splitlines(), 1) if text in line]
    assert len(found) == 1, (text, found)
    return found[0]


class Crate:
    """The counter with a panic hook, built; `panic_in_label` patches label.rs to panic."""

    def __init__(self, root: Path) -> None:
        self.root = copy_crate(EXAMPLES / "counter", root / "counter")
        lib = self.root / "src" / "lib.rs"
        lib.write_text(lib.read_text() + PANIC_HOOK)
        self.project = Project(self.root)
        self.build = self.project.build()
        self.label = self.root / "src" / "label.rs"
        self.original = self.label.read_text()

    def host(self) -> Host:
        host = Host(self.build)
        host.call("start")
        return host

    def rebuild(self, label: str) -> Patch:
        self.label.write_text(label)
        patch = self.project.rebuild()
        assert isinstance(patch, Patch) and patch.functions, patch
        return patch

    def panic_in_label(self, message: str) -> Patch:
        return self.rebuild(self.original.replace(ARM, f'{ARM}        2 => panic!("{message}"),\n'))


@pytest.fixture(scope="module")
def crate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Crate]:
    built = Crate(tmp_path_factory.mktemp("traps"))
    yield built
    built.label.write_text(built.original)


def trap_of(host: Host, name: str, *args: int) -> HostTrap:
    with pytest.raises(HostTrap) as caught:
        host.call(name, *args)
    return caught.value


# The headless host


@pytest.mark.slow
def test_a_trap_in_the_main_module_has_names_and_lines(crate: Crate) -> None:
    host = crate.host()
    host.call("add", 2**31 - 1)
    trap = trap_of(host, "increment")  # increment -> add: `+ n` overflows and panics
    lib = crate.root / "src" / "lib.rs"
    add_line = line_of(lib, "COUNT.fetch_add(n, Ordering::SeqCst) + n")
    app = [frame for frame in trap.frames if frame.app]
    assert [(f.function, f.file, f.line, f.module) for f in app] == [
        ("add", "src/lib.rs", add_line, "main"),
        ("increment", "src/lib.rs", line_of(lib, "add(STEP)"), "main")]
    assert trap.app_frame == app[0] and app[0].column
    assert app[0].path == str(lib)
    core = [f for f in trap.frames if f.function.startswith("core::panicking::")]
    assert core and all(f.file and f.file.endswith("panicking.rs") and f.line for f in core)
    assert core[0].mangled.startswith("_ZN4core9panicking") and not core[0].app
    assert not any("trampoline" in f.mangled for f in trap.frames)
    assert trap.frames.index(core[0]) < trap.frames.index(app[0])  # innermost first
    assert trap.panic is not None and "attempt to add with overflow" in trap.panic
    assert f"src/lib.rs:{add_line}" in trap.panic
    assert re.search(rf"^> +\d+: add at src/lib\.rs:{add_line}:\d+$", trap.backtrace, re.M)
    assert "backtrace:\n" in str(trap) and trap.panic in str(trap)
    assert "0x" in trap.wasm_backtrace  # wasmtime's own stays at hand
    assert app[0].to_dict()["location"] == app[0].location == f"src/lib.rs:{add_line}:" \
        f"{app[0].column}"

    host.call("reset")
    host.call("add", -(2**31))
    again = trap_of(host, "add", -1)  # the same place, the tables already read
    assert again.app_frame is not None and again.app_frame.line == add_line
    first, later = host.symbolicate_seconds
    print(f"\nHostTrap backtrace: first trap {first * 1000:.0f} ms, next {later * 1000:.1f} ms")
    assert later < first


@pytest.mark.slow
def test_a_trap_in_a_patch_names_the_patched_function_and_its_line(crate: Crate) -> None:
    host = crate.host()
    try:
        patch = crate.panic_in_label("two is too many")
        names = parse(patch.module).decoded("name")
        assert names.module == f"rust-hmr-patch-{patch.id}"
        host.apply(patch)
        host.call("add", 2)
        trap = trap_of(host, "label_len")
        panic_line = line_of(crate.label, "two is too many")
        app = [frame for frame in trap.frames if frame.app]
        assert (app[0].function, app[0].file, app[0].line, app[0].module) == (
            "counter::label::render", "src/label.rs", panic_line, f"patch {patch.id}")
        assert (app[1].function, app[1].module, app[1].file) == ("label_len", "main",
                                                                 "src/lib.rs")
        assert trap.panic is not None and "two is too many" in trap.panic
        assert f"src/label.rs:{panic_line}" in trap.panic
        assert f"counter::label::render at src/label.rs:{panic_line}" in trap.backtrace
        assert f"[patch {patch.id}]" in trap.backtrace

        # A later patch moves the panic: the frames follow the newest code.
        label = crate.original.replace(ARM, f'{ARM}\n\n        2 => panic!("still two"),\n')
        moved = crate.rebuild(label)
        host.call("reset")  # the app's after-patch hook renders: not the count that panics
        host.apply(moved)
        host.call("add", 2)
        trap = trap_of(host, "label_len")
        assert trap.app_frame is not None
        assert (trap.app_frame.module, trap.app_frame.line) == (
            f"patch {moved.id}", line_of(crate.label, "still two"))
    finally:
        host.apply(crate.rebuild(crate.original))
    assert host.call("label_len") == len("2 clicks")


# Line tables and stacks


@pytest.mark.slow
def test_unit_ranges_read_fast_agree_with_pyelftools(crate: Crate) -> None:
    sections = debug_sections(crate.build.module_path.read_bytes())
    units = list(unit_ranges(sections[".debug_info"], sections[".debug_abbrev"],
                             sections[".debug_ranges"]))
    assert len(units) > 100 and all(unit.ranges is not None for unit in units)
    table = LineTable(sections)
    table._dwarf = open_dwarf(sections)
    for unit in units:
        slow = table._ranges(table._unit(unit.offset))
        assert sorted(r for r in slow if r[0] < r[1] and r[0] < 0xFFFF_FFFE) == sorted(
            r for r in unit.ranges or [] if r[0] < r[1]), unit.offset


def test_line_table_without_dwarf_finds_nothing() -> None:
    assert LineTable({}).lookup(10) is None
    assert LineTable.of_wasm(b"\0asm\x01\0\0\0").lookup(0) is None


CHROMIUM_STACK = """RuntimeError: unreachable
    at __rust_start_panic (http://127.0.0.1:8000/_hmr/0123456789abcdef/counter.wasm:wasm-function[1624]:0x8ad7b)
    at _ZN7counter5label6render17h0123456789abcdefE (wasm://wasm/rust-hmr-patch-3-8f3a2b1c:wasm-function[5]:0x1a2)
    at wasm://wasm/rust-hmr-patch-4-00ff00ff:wasm-function[7]:0x20
    at label_len (http://127.0.0.1:8000/_hmr/0123456789abcdef/counter.wasm:wasm-function[42]:0x5b7b3)
    at HTMLButtonElement.<anonymous> (http://127.0.0.1:8000/:27:88)"""
FIREFOX_STACK = """__rust_start_panic@http://127.0.0.1:8000/_hmr/0123456789abcdef/counter.wasm:wasm-function[1624]:0x8ad7b
@http://127.0.0.1:8000/_hmr/0123456789abcdef/patches/2.wasm:wasm-function[9]:0x3c
@http://127.0.0.1:8000/:27:88"""


def test_parse_stack_reads_chromium_and_firefox_frames() -> None:
    assert parse_stack(CHROMIUM_STACK) == [
        RawFrame(MAIN, 1624, 0x8AD7B, "__rust_start_panic"),
        RawFrame(3, 5, 0x1A2, "_ZN7counter5label6render17h0123456789abcdefE"),
        RawFrame(4, 7, 0x20, None),
        RawFrame(MAIN, 42, 0x5B7B3, "label_len")]
    assert parse_stack(FIREFOX_STACK) == [
        RawFrame(MAIN, 1624, 0x8AD7B, "__rust_start_panic"), RawFrame(2, 9, 0x3C, None)]
    assert parse_stack("TypeError: x is undefined\n    at f (http://a/:1:2)") == []


def test_panic_message_is_the_hooks_last_lines() -> None:
    assert panic_message(["hello", "panicked at 'boom', src/lib.rs:3:5"]) == \
        "panicked at 'boom', src/lib.rs:3:5"
    assert panic_message(["panicked at src/lib.rs:3:5:", "boom"]) == \
        "panicked at src/lib.rs:3:5:\nboom"
    assert panic_message(["just a line"]) is None


# The dev server


def v8_stack(trap: HostTrap, build_id: str) -> str:
    """The stack Chromium would write for a trap wasmtime saw (the same modules)."""
    lines = ["RuntimeError: unreachable"]
    for frame in trap.__cause__.frames:  # type: ignore[union-attr]
        name = frame.module_name
        url = f"wasm://wasm/{name}-0badf00d" if name else \
            f"http://127.0.0.1/_hmr/{build_id}/counter.wasm"
        lines.append(f"    at {frame.func_name} ({url}:wasm-function[{frame.func_index}]:"
                     f"{frame.module_offset:#x})")
    return "\n".join(lines)


@pytest.mark.slow
def test_the_server_symbolicates_a_pages_trap(crate: Crate) -> None:
    host = crate.host()
    try:
        patch = crate.panic_in_label("two, said the server")
        host.apply(patch)
        host.call("add", 2)
        trap = trap_of(host, "label_len")
    finally:
        host.apply(crate.rebuild(crate.original))
    panic_line = line_of(crate.label, ARM.strip()) + 1  # where the panic was, below ARM

    async def main() -> None:
        server = DevServer("counter", port=0)
        await server.start()
        try:
            server.publish_build(crate.build.module_path.read_bytes(), "first build")
            for n in range(1, patch.id):  # the patches before it, as the dev loop sent them
                server.publish_patch(n, b"\0asm\x01\0\0\0", 1)
            server.publish_patch(patch.id, patch.module, 1, patch.functions)
            build_id = server.state.build_id
            assert build_id is not None
            report = {"build_id": build_id, "message": "unreachable",
                      "stack": v8_stack(trap, build_id),
                      "logs": trap.logs, "where": "label_len()"}
            url = f"{server.url}_hmr/trap"
            origin = {"Origin": server.url.rstrip("/")}
            async with aiohttp.ClientSession() as http:
                async with http.post(url, json=report, headers=origin) as response:
                    assert response.status == 200
                    answer = await response.json()
                async with http.post(url, json=report, headers={"Origin": "http://evil.example"}
                                     ) as response:
                    assert response.status == 403
                async with http.post(url, data=b"[1]", headers=origin) as response:
                    assert response.status == 400
                stale = {**report, "build_id": "0" * 16}
                async with http.post(url, json=stale, headers=origin) as response:
                    assert "reload the page" in (await response.json())["note"]
        finally:
            await server.stop()
        app = [frame for frame in answer["frames"] if frame["app"]]
        assert (app[0]["function"], app[0]["file"], app[0]["line"], app[0]["module"]) == (
            "counter::label::render", "src/label.rs", panic_line, f"patch {patch.id}")
        assert app[0]["location"].startswith(f"src/label.rs:{panic_line}:")
        assert (app[1]["function"], app[1]["module"]) == ("label_len", "main")
        assert answer["title"].startswith("panicked at") and "two, said the server" in \
            answer["panic"]
        assert "label_len() trapped: unreachable" in answer["text"]
        assert f"counter::label::render at src/label.rs:{panic_line}" in answer["text"]
        assert server.traps.seconds
        print(f"\nserver: symbolicated in {server.traps.seconds[0] * 1000:.0f} ms")

    asyncio.run(main())


def test_trap_reports_are_checked() -> None:
    report = protocol.decode_trap('{"build_id": null, "message": "m", "stack": "s", '
                                  '"logs": ["a"]}')
    assert report == protocol.TrapReport(None, "m", "s", ("a",), "")
    for bad in ("[]", '{"build_id": 1}', '{"logs": [1]}', '{"stack": "' + "x" * 70_000 + '"}',
                '{"logs": ' + str(["x"] * 60).replace("'", '"') + "}"):
        with pytest.raises(protocol.ProtocolError):
            protocol.decode_trap(bad)
