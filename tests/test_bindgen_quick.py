"""Describing from summaries (`rust_hmr.bindgen._summary`, `_replay`) gives what running every
describe function in wasmtime gives: import by import, export by export, closure by closure,
on tests/data/bindgen_crate's and tests/data/bindgen_dev's dev and release modules and on
bindgen_dev's prepared main module (hot describe functions behind trampolines); then the
summarizer's refusals on hand-made bodies."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from bindgen_deps import BindgenDeps
from test_bindgen import (  # noqa: F401  (the build fixtures, shared through a fixed crate copy)
    DEBIAN_CRATES,
    DEBIAN_REGISTRY,
    _build,
    fixture_bindgen_crate,
    fixture_dev_wasm,
    fixture_release_wasm,
)

from rust_hmr import Project
from rust_hmr.bindgen import Bindings, Describer, read_bindings
from rust_hmr.bindgen._bindings import forget_process_caches
from rust_hmr.bindgen._describe import DESCRIBE_PREFIX
from rust_hmr.bindgen._replay import QuickDescriber
from rust_hmr.bindgen._summary import (
    Arity,
    Call,
    ClosureSlot,
    Indirect,
    Summary,
    SummaryCache,
    summarize,
)
from rust_hmr.toolchain import Toolchain
from rust_hmr.wasm import parse

DEV_CRATE = Path(__file__).resolve().parent / "data" / "bindgen_dev"


@pytest.fixture(scope="module", name="dev_crate")
def fixture_dev_crate(tmp_path_factory: pytest.TempPathFactory,
                      bindgen_deps: BindgenDeps) -> Path:  # fmt: skip
    missing = [name for name in DEBIAN_CRATES if not (DEBIAN_REGISTRY / name).is_dir()]
    if missing:
        pytest.skip(f"Debian's packaged crates are not installed ({', '.join(missing)})")
    crate = tmp_path_factory.mktemp("quick") / "bindgen_dev"
    shutil.copytree(DEV_CRATE, crate, ignore=shutil.ignore_patterns("target", "Cargo.lock"))
    bindgen_deps.seed(crate, "dev", "release")  # the registry crates, compiled once per session
    return crate


@pytest.fixture(scope="module", name="modules")
def fixture_modules(dev_wasm: Path, release_wasm: Path, dev_crate: Path,
                    toolchain: Toolchain) -> dict[str, bytes]:  # fmt: skip
    return {
        "bindgen_crate dev": dev_wasm.read_bytes(),
        "bindgen_crate release": release_wasm.read_bytes(),
        "bindgen_dev dev": _build(dev_crate, "dev", toolchain).read_bytes(),
        "bindgen_dev release": _build(dev_crate, "release", toolchain).read_bytes(),
        "bindgen_dev prepared": Project(dev_crate).build().module_path.read_bytes(),
    }


def quick_bindings(module: bytes, cache_dir: Path | None) -> tuple[Bindings, QuickDescriber]:
    wasm = parse(module)
    quick = QuickDescriber(wasm, SummaryCache(cache_dir), lambda: Describer(wasm))
    return read_bindings(wasm, describer=quick), quick


def assert_same(fast: Bindings, slow: Bindings) -> None:
    assert [b.shim for b in fast.imports] == [b.shim for b in slow.imports]
    for f, s in zip(fast.imports, slow.imports, strict=True):
        assert f.descriptor == s.descriptor, f.shim
        assert f.import_ == s.import_
    assert [b.wasm_name for b in fast.exports] == [b.wasm_name for b in slow.exports]
    for fe, se in zip(fast.exports, slow.exports, strict=True):
        assert fe.descriptor == se.descriptor, fe.wasm_name
    assert [(c.caller, c.describe_index) for c in fast.closures] == \
        [(c.caller, c.describe_index) for c in slow.closures]
    for fc, sc in zip(fast.closures, slow.closures, strict=True):
        assert fc.descriptor == sc.descriptor, fc.caller


@pytest.mark.parametrize("name", ["bindgen_crate dev", "bindgen_crate release",
                                  "bindgen_dev dev", "bindgen_dev release",
                                  "bindgen_dev prepared"])  # fmt: skip
def test_summaries_describe_as_wasmtime_does(modules: dict[str, bytes], name: str,
                                             tmp_path: Path) -> None:  # fmt: skip
    slow = read_bindings(modules[name], quick=False)
    forget_process_caches()
    cold, quick = quick_bindings(modules[name], tmp_path)
    assert quick.fallbacks == 0 and quick._describer is None  # no wasmtime at all
    assert_same(cold, slow)
    assert slow.imports and slow.exports
    forget_process_caches()  # a new process, reading the summaries back from the file
    warm, quick = quick_bindings(modules[name], tmp_path)
    assert quick.cache.added == 0
    assert_same(warm, slow)


def test_summaries_made_from_other_builds_describe_as_wasmtime_does(
        modules: dict[str, bytes], tmp_path: Path) -> None:
    """One summary cache for all five modules, read one after another, as a dev session's
    builds share it: a summary found by its body's shape, made from another build whose
    function indices differ, must be relocated to this build's callees. Each module still
    describes as wasmtime does, and the shared cache makes fewer summaries than fresh ones."""
    alone = 0
    for name, module in modules.items():
        forget_process_caches()
        _, quick = quick_bindings(module, tmp_path / name)
        alone += quick.cache.added
    shared = 0
    for name, module in modules.items():
        slow = read_bindings(module, quick=False)
        forget_process_caches()
        fast, quick = quick_bindings(module, tmp_path / "shared")
        assert quick.fallbacks == 0, name
        assert_same(fast, slow)
        shared += quick.cache.added
    assert shared < alone, (shared, alone)


def test_the_prepared_module_has_closures_and_trampolines(modules: dict[str, bytes]) -> None:
    """The prepared module routes hot describe functions through table slots, and the app
    makes a closure: both kinds of expansion are taken above."""
    bindings, quick = quick_bindings(modules["bindgen_dev prepared"], None)
    assert bindings.closures
    summaries = [quick.summary(quick.main, f) for name, f in quick.exports.items()
                 if name.startswith(DESCRIBE_PREFIX)]  # fmt: skip
    assert any(isinstance(item, Indirect) for s in summaries for item in s.items)


# --- the summarizer on hand-made bodies ---------------------------------------------------

DESCRIBE, CLOSURE, HELPER = 0, 1, 2
ARITY = Arity(DESCRIBE, CLOSURE, [(1, 0), (3, 1), (0, 0)], [(0, 0)])


def body(*code: int, locals_: bytes = b"\x00") -> bytes:
    return locals_ + bytes(code) + b"\x0b"


@pytest.mark.parametrize(("params", "code", "expected"), [
    # i32.const 11; call describe; i32.const 0; call describe; call helper
    (0, body(0x41, 11, 0x10, DESCRIBE, 0x41, 0, 0x10, DESCRIBE, 0x10, HELPER),
     Summary((11, 0, Call(HELPER, 0, 0, 0)), -1, 0, 0)),
    # a debug frame: sp -= 16; store a word at sp+12; describe it; sp += 16
    (0, body(0x23, 0, 0x41, 16, 0x6B, 0x21, 0, 0x20, 0, 0x24, 0,
          0x20, 0, 0x41, 14, 0x36, 2, 12, 0x41, 14, 0x10, DESCRIBE, 0x10, HELPER,
          0x20, 0, 0x41, 16, 0x6A, 0x24, 0, locals_=b"\x01\x01\x7f"),
     Summary((14, Call(HELPER, 0, 0, -16)), 0, -16, 0)),
    # breaks_if_inlined: the closure's describe function in table slot 7
    (2, body(0x20, 0, 0x20, 1, 0x41, 7, 0x10, CLOSURE, 0x1A),
     Summary((ClosureSlot(7),), -1, 0, 0)),
])  # fmt: skip
def test_summaries_of_describe_shapes(params: int, code: bytes, expected: Summary) -> None:
    assert summarize(code, params, ARITY) == expected


@pytest.mark.parametrize("code", [
    body(0x20, 0, 0x10, DESCRIBE),  # a word from a parameter: depends on the caller
    body(0x02, 0x40, 0x0B),  # a block: branches are left to wasmtime
    body(0x41, 0, 0x28, 2, 0, 0x10, DESCRIBE),  # a word loaded from memory
    body(0x23, 0, 0x41, 16, 0x6B, 0x24, 0),  # the stack pointer is not restored
    body(0x41, 64, 0x41, 1, 0x36, 2, 0),  # a store to a constant address, not the frame
    body(0x41, 3, 0x11, 0, 1),  # call_indirect on another table
])  # fmt: skip
def test_what_summaries_refuse(code: bytes) -> None:
    assert summarize(code, 1, ARITY) is None
