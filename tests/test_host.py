"""The headless host: calls, state, imports, traps, the compiled-module cache, linked modules."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
import wasmtime
from conftest import text_hash

from rust_hmr.host import (
    CACHE_DIR_NAME,
    Host,
    HostError,
    HostTrap,
    UnresolvedImportError,
    engine,
)

slow = pytest.mark.slow


def wat_host(wat: str, **kwargs: object) -> Host:
    return Host(wasmtime.wat2wasm(wat), **kwargs)  # type: ignore[arg-type]


# The counter, a real build


@slow
def test_counter_keeps_state_across_calls(counter_debug_wasm: Path) -> None:
    host = Host(counter_debug_wasm)
    assert host.call("increment") == 1
    assert host.call("increment") == 2
    assert host.call("add", 5) == 7
    assert host.call("get") == 7
    assert host.call("label_len") == len("7 clicks")
    assert host.call("label_hash") == text_hash("7 clicks")
    assert host.call("history_len") == 3
    assert host.call("history_sum") == 1 + 2 + 7  # an i64
    assert host.call("reset") is None
    assert host.call("label_hash") == text_hash("nothing yet")


@slow
def test_host_exposes_the_instance(counter_debug_wasm: Path) -> None:
    host = Host(counter_debug_wasm)
    assert host.engine is engine()
    assert host.store.engine is not None
    assert isinstance(host.memory, wasmtime.Memory)
    assert isinstance(host.table, wasmtime.Table)
    assert host.exports["get"] is host.export("get")
    assert isinstance(host.export("__stack_pointer"), wasmtime.Global)
    assert len(host.exports) > 1000  # --export-all
    assert host.instance is host.main.instance
    with pytest.raises(HostError, match="close names: increment"):
        host.export("incremnet")
    with pytest.raises(TypeError, match=r"add \(func \(param i32\) \(result i32\)\) takes 1"):
        host.call("add")
    with pytest.raises(HostError, match="is a global, not a function"):
        host.call("__stack_pointer")


@dataclass(frozen=True)
class FakeBuild:
    module_path: Path


@slow
def test_host_takes_a_build_record(counter_debug_wasm: Path, tmp_path: Path) -> None:
    host = Host(FakeBuild(counter_debug_wasm), cache_dir=tmp_path)
    assert host.path == counter_debug_wasm
    assert host.call("increment") == 1


@slow
def test_trap_raises_host_trap_naming_the_export(counter_debug_wasm: Path) -> None:
    host = Host(counter_debug_wasm)
    assert host.stack_pointer is not None
    stack_top = host.stack_pointer.value(host.store)
    host.call("add", 2**31 - 1)
    with pytest.raises(HostTrap, match=r"^add\(\) trapped: wasm trap") as caught:
        host.call("add", 1)  # overflows: a debug build panics
    assert caught.value.trap_code == wasmtime.TrapCode.UNREACHABLE
    assert "core::panicking" in caught.value.backtrace
    assert host.stack_pointer.value(host.store) == stack_top  # not leaked by the trap
    assert host.call("get") == -(2**31)  # fetch_add wrapped before `+ n` panicked
    host.call("reset")
    assert host.call("increment") == 1  # the instance is still usable


# The compiled-module cache


@slow
def test_second_host_is_fresh_and_starts_from_the_cache(
    counter_debug_wasm: Path, tmp_path: Path
) -> None:
    first = Host(counter_debug_wasm, cache_dir=tmp_path)
    assert not first.compiled.from_cache
    assert first.compiled.cache_file is not None and first.compiled.cache_file.is_file()
    assert first.compiled.cache_file.parent == tmp_path
    assert first.call("increment") == 1

    second = Host(counter_debug_wasm, cache_dir=tmp_path)
    assert second.compiled.from_cache
    assert second.compiled.key == first.compiled.key
    assert second.call("get") == 0  # its own Store, its own memory
    assert second.call("increment") == 1
    assert first.call("increment") == 2
    print(
        f"\ncounter ({counter_debug_wasm.stat().st_size / 1e6:.1f} MB): "
        f"first compile {first.compiled.seconds * 1000:.0f} ms "
        f"(start {first.start_seconds * 1000:.0f} ms), "
        f"from the cache {second.compiled.seconds * 1000:.1f} ms "
        f"(start {second.start_seconds * 1000:.1f} ms)"
    )
    assert second.compiled.seconds < first.compiled.seconds


@slow
def test_default_cache_dir_is_beside_the_module(counter_debug_wasm: Path) -> None:
    host = Host(counter_debug_wasm)
    assert host.compiled.cache_file is not None
    assert host.compiled.cache_file.parent == counter_debug_wasm.parent / CACHE_DIR_NAME
    assert Host(counter_debug_wasm).compiled.from_cache


@slow
def test_no_cache_writes_nothing(counter_debug_wasm: Path, tmp_path: Path) -> None:
    host = Host(counter_debug_wasm, cache_dir=tmp_path, use_cache=False)
    assert host.compiled.cache_file is None and not host.compiled.from_cache
    assert list(tmp_path.iterdir()) == []


def _truncate(blob: bytes) -> bytes:
    return blob[: len(blob) // 2]


def _flip_payload_byte(blob: bytes) -> bytes:
    at = len(blob) - 100
    return blob[:at] + bytes([blob[at] ^ 0xFF]) + blob[at + 1 :]


def _valid_digest_bad_payload(blob: bytes) -> bytes:
    """A well-formed cache file whose payload wasmtime refuses (as from another wasmtime)."""
    import blake3

    head = b"rust-hmr compiled module 1\n"
    assert blob.startswith(head)
    payload = b"\x7fELF not really compiled code"
    return head + blake3.blake3(payload).digest() + payload


@slow
@pytest.mark.parametrize(
    "damage",
    [_truncate, _flip_payload_byte, _valid_digest_bad_payload, lambda _: b"", lambda _: b"junk"],
    ids=["truncated", "bit-flip", "rejected-by-wasmtime", "empty", "junk"],
)
def test_damaged_cache_file_is_recompiled_and_replaced(
    counter_debug_wasm: Path, tmp_path: Path, damage: object
) -> None:
    cache_file = Host(counter_debug_wasm, cache_dir=tmp_path).compiled.cache_file
    assert cache_file is not None
    good = cache_file.read_bytes()
    cache_file.write_bytes(damage(good))  # type: ignore[operator]

    host = Host(counter_debug_wasm, cache_dir=tmp_path)
    assert not host.compiled.from_cache
    assert host.call("increment") == 1
    assert Host(counter_debug_wasm, cache_dir=tmp_path).compiled.from_cache
    assert [p.name for p in tmp_path.iterdir()] == [cache_file.name]  # no temp files left


# Imports

NEEDS_CLOCK = """
(module
  (import "env" "now" (func $now (result f64)))
  (func (export "twice_now") (result f64) (f64.add (call $now) (call $now)))
  (func (export "one") (result i32) i32.const 1))
"""


def test_unknown_import_is_a_clear_error() -> None:
    with pytest.raises(UnresolvedImportError, match=r"env\.now: \(func \(result f64\)\)") as err:
        wat_host(NEEDS_CLOCK)
    assert (err.value.module, err.value.name) == ("env", "now")


def test_missing_trap_makes_a_stub_that_traps_when_called() -> None:
    host = wat_host(NEEDS_CLOCK, missing="trap")
    assert host.call("one") == 1
    with pytest.raises(HostTrap, match=r"^twice_now\(\) trapped: .*unresolved import env\.now"):
        host.call("twice_now")


def test_imports_given_as_python_callables() -> None:
    host = wat_host(NEEDS_CLOCK, imports={"env": {"now": lambda: 1.25}})
    assert host.call("twice_now") == 2.5


def test_exception_from_an_import_passes_through_and_the_stack_is_restored() -> None:
    def fail() -> None:
        raise ValueError("from the host")

    host = wat_host(
        """
        (module
          (import "env" "fail" (func $fail))
          (global $sp (export "__stack_pointer") (mut i32) (i32.const 4096))
          (func (export "run")
            (global.set $sp (i32.sub (global.get $sp) (i32.const 64)))  ;; a frame
            (call $fail)
            (global.set $sp (i32.add (global.get $sp) (i32.const 64)))))
        """,
        imports={"env": {"fail": fail}},
    )
    assert host.stack_pointer is not None
    with pytest.raises(ValueError, match="from the host"):
        host.call("run")
    assert host.stack_pointer.value(host.store) == 4096


def test_imported_memory_and_table_are_created_with_their_limits() -> None:
    host = wat_host(
        """
        (module
          (import "env" "log" (func $log (param i32 i32)))
          (import "env" "memory" (memory 2 10))
          (import "env" "__indirect_function_table" (table 3 funcref))
          (data (i32.const 100) "h\\c3\\a9llo")
          (func (export "hello") (call $log (i32.const 100) (i32.const 6))))
        """
    )
    assert host.memory is not None and host.memory.size(host.store) == 2
    assert host.memory.type(host.store).limits.max == 10
    assert host.table is not None and host.table.size(host.store) == 3
    host.call("hello")
    assert host.logs == ["héllo"]
    assert host.read_str(100, 6) == "héllo"
    with pytest.raises(HostError, match="outside memory"):
        host.read_bytes(2 * 65536 - 2, 4)


def test_echo_prints_log_lines(capsys: pytest.CaptureFixture[str]) -> None:
    wat = """
        (module
          (import "env" "log" (func $log (param i32 i32)))
          (memory (export "memory") 1)
          (data (i32.const 8) "ready")
          (func (export "go") (call $log (i32.const 8) (i32.const 5))))
    """
    wat_host(wat, echo=True).call("go")
    assert capsys.readouterr().out == "ready\n"
    wat_host(wat).call("go")
    assert capsys.readouterr().out == ""


def test_log_with_another_signature_is_refused() -> None:
    with pytest.raises(HostError, match=r"env\.log is \(func \(param i32\)\)"):
        wat_host('(module (import "env" "log" (func (param i32))))')


def test_invalid_module_is_a_host_error() -> None:
    with pytest.raises(HostError, match="not a valid wasm module"):
        Host(b"\0asm\x01\0\0\0garbage")


# Linking another module (a patch) against the main instance

PATCH = """
(module
  (import "rust-hmr:main" "memory" (memory 0))
  (import "rust-hmr:main" "__indirect_function_table" (table 0 funcref))
  (import "rust-hmr:main" "__stack_pointer" (global $sp (mut i32)))
  (import "rust-hmr:main" "get" (func $get (result i32)))
  (import "rust-hmr:main" "add" (func $add (param i32) (result i32)))
  (import "env" "spare_slot" (global $slot i32))
  (func (export "peek") (result i32) (call $get))
  (func (export "add_twice") (param i32) (result i32)
    (drop (call $add (local.get 0)))
    (call $add (local.get 0)))
  (func (export "stack_pointer") (result i32) (global.get $sp))
  (func (export "table_size") (result i32) (table.size 0))
  (func $answer (result i32) i32.const 42)
  (elem (global.get $slot) func $answer)
  (data (i32.const 16) "patched!"))
"""


@slow
def test_instantiate_links_a_module_to_the_main_instance(counter_debug_wasm: Path) -> None:
    host = Host(counter_debug_wasm)
    assert host.table is not None and host.memory is not None
    host.call("increment")
    host.call("increment")
    slot = host.table.grow(host.store, 1, None)  # a spare slot the patch's element fills
    spare = wasmtime.Global(host.store, wasmtime.GlobalType(wasmtime.ValType.i32(), False), slot)

    patch = host.instantiate(
        wasmtime.wat2wasm(PATCH), {"env": {"spare_slot": spare}}, label="test patch"
    )
    assert patch in host.instances
    assert patch.call("peek") == 2  # the counter's state, seen through its own `get`
    assert patch.call("add_twice", 10) == 22
    assert host.call("get") == 22 and host.call("history_len") == 4
    stack_pointer = host.export("__stack_pointer")
    assert isinstance(stack_pointer, wasmtime.Global)
    assert patch.call("stack_pointer") == stack_pointer.value(host.store)
    assert patch.call("table_size") == host.table.size(host.store)
    assert host.read_bytes(16, 8) == b"patched!"  # its data segment wrote the shared memory
    answer = host.table.get(host.store, slot)
    assert isinstance(answer, wasmtime.Func) and answer(host.store) == 42


@slow
def test_instantiate_resolves_the_hosts_own_imports(counter_debug_wasm: Path) -> None:
    host = Host(counter_debug_wasm, imports={"env": {"tick": lambda: 7}})
    patch = host.instantiate(
        wasmtime.wat2wasm(
            '(module (import "env" "tick" (func $t (result i32)))'
            ' (func (export "f") (result i32) (call $t)))'
        )
    )
    assert patch.call("f") == 7


@slow
def test_instantiate_errors_name_the_import(counter_debug_wasm: Path) -> None:
    host = Host(counter_debug_wasm)
    with pytest.raises(UnresolvedImportError, match=r"env\.no_such_function"):
        host.instantiate(wasmtime.wat2wasm('(module (import "env" "no_such_function" (func)))'))
    with pytest.raises(HostError, match=r"rust-hmr:main\.get wants a global .* resolves to a func"):
        host.instantiate(wasmtime.wat2wasm('(module (import "rust-hmr:main" "get" (global i32)))'))
    with pytest.raises(HostError, match="cannot instantiate"):  # wrong signature
        host.instantiate(wasmtime.wat2wasm(
            '(module (import "rust-hmr:main" "get" (func (param i64))))'))
    with pytest.raises(UnresolvedImportError, match=r"env\.get"):  # not an app import
        host.instantiate(wasmtime.wat2wasm('(module (import "env" "get" (func (result i32))))'))
    other_engine = wasmtime.Module(wasmtime.Engine(), "(module)")
    with pytest.raises(HostError, match="cannot instantiate"):
        host.instantiate(other_engine)
    assert host.instances == [host.main]
