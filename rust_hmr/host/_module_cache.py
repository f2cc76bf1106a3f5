"""Compiled modules: one wasmtime Engine per process, and an on-disk cache of compiled code.

Compiling a debug main module takes a good part of a second; `Module.deserialize` of the same
code takes milliseconds. A cache file is only valid for the wasmtime version, engine settings and
machine that wrote it, so all of those enter its key. Deserializing trusts its input (it is
machine code), so each file carries a blake3 digest of its payload, checked before use: a file
cut short or flipped by a bit is compiled again and replaced, never run.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.metadata
import os
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import blake3
import wasmtime

from rust_hmr.atomic import write_atomic

CACHE_DIR_NAME = ".rust-hmr-compiled"
SUFFIX = ".cwasm"
MAX_ENTRIES = 16  # per cache dir; the least recently used files go first
_FORMAT = b"rust-hmr compiled module 1\n"
_DIGEST_SIZE = 32

ENV_COMPILE_MODE = "RUST_HMR_COMPILE"
# The engine's Config for each compile mode. "optimized" is Cranelift's default (opt level
# "speed"); "fast" skips Cranelift's optimizations: the module compiles sooner and runs slower.
COMPILE_MODES: dict[str, dict[str, object]] = {
    "optimized": {},
    "fast": {"cranelift_opt_level": "none"},
}
DEFAULT_COMPILE_MODE = "optimized"


def compile_mode() -> str:
    """The mode `RUST_HMR_COMPILE` asks for (read once, when the engine is made)."""
    mode = os.environ.get(ENV_COMPILE_MODE, "") or DEFAULT_COMPILE_MODE
    if mode not in COMPILE_MODES:
        raise ValueError(f"{ENV_COMPILE_MODE}={mode!r}: expected one of "
                         f"{', '.join(COMPILE_MODES)}")
    return mode


# Settings applied to the shared engine's Config. They change the compiled code, so they are
# part of every cache key: edit them here, never on the engine elsewhere.
ENGINE_SETTINGS: dict[str, object] = dict(COMPILE_MODES[compile_mode()])


def _make_engine() -> wasmtime.Engine:
    config = wasmtime.Config()
    for name, value in ENGINE_SETTINGS.items():
        setattr(config, name, value)
    return wasmtime.Engine(config)


# One engine for the whole process: a Module compiled by one engine can't be instantiated in a
# Store of another, and every Host (and every patch) shares this one.
ENGINE = _make_engine()


def engine() -> wasmtime.Engine:
    """The process-wide engine every Host and every compiled module uses."""
    return ENGINE


@dataclass(frozen=True)
class CompiledModule:
    """A module ready to instantiate, and where it came from."""

    module: wasmtime.Module
    key: str  # blake3 of the wasm bytes and of everything the compiled code depends on
    cache_file: Path | None  # None: caching off, or the cache dir could not be written
    from_cache: bool
    seconds: float  # time to compile, or to read and deserialize


@functools.cache
def _key_context() -> bytes:
    """What, besides the wasm, the compiled code depends on: the same for the whole process
    (reading wasmtime's version from its metadata costs more than hashing a patch)."""
    return (f"{_FORMAT!r} wasmtime {importlib.metadata.version('wasmtime')} "
            f"{sorted(ENGINE_SETTINGS.items())!r} {sys.platform} {platform.machine()}\0"
            ).encode()


def cache_key(wasm: bytes) -> str:
    """The key of `wasm` compiled by this process's wasmtime, engine settings and machine."""
    hasher = blake3.blake3(_key_context(), max_threads=blake3.blake3.AUTO)
    hasher.update(wasm)
    return hasher.hexdigest()


def default_cache_dir(module_path: Path) -> Path:
    return module_path.parent / CACHE_DIR_NAME


def load_module(wasm: bytes, cache_dir: Path | None) -> CompiledModule:
    """`wasm` compiled with the shared engine, from `cache_dir` when it holds a valid copy.

    With `cache_dir` None the module is compiled and nothing is written.
    """
    start = time.perf_counter()
    key = cache_key(wasm)
    cache_file = None if cache_dir is None else cache_dir / f"{key}{SUFFIX}"
    if cache_file is not None:
        module = _read(cache_file)
        if module is not None:
            return CompiledModule(module, key, cache_file, True, time.perf_counter() - start)
    module = wasmtime.Module(ENGINE, wasm)
    if cache_file is not None and not _write(cache_file, bytes(module.serialize())):
        cache_file = None
    return CompiledModule(module, key, cache_file, False, time.perf_counter() - start)


def _read(path: Path) -> wasmtime.Module | None:
    """The module in `path`, or None when the file is missing, damaged or incompatible."""
    try:
        blob = path.read_bytes()
    except OSError:
        return None
    head, digest = blob[: len(_FORMAT)], blob[len(_FORMAT) : len(_FORMAT) + _DIGEST_SIZE]
    payload = blob[len(_FORMAT) + _DIGEST_SIZE :]
    if head != _FORMAT or blake3.blake3(payload).digest() != digest:
        return None
    try:
        module = wasmtime.Module.deserialize(ENGINE, payload)
    except wasmtime.WasmtimeError:  # another wasmtime or engine config wrote it
        return None
    with contextlib.suppress(OSError):
        os.utime(path)  # recently used: evicted last
    return module


def _write(path: Path, payload: bytes) -> bool:
    """Stores `payload` atomically (`write_atomic`); False when the dir is not writable."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, _FORMAT + blake3.blake3(payload).digest() + payload)
    except OSError:
        return False
    _evict(path.parent)
    return True


def _evict(cache_dir: Path, keep: int = MAX_ENTRIES) -> None:
    """Removes all but the `keep` most recently used cache files of `cache_dir`."""
    entries = []
    for entry in cache_dir.glob(f"*{SUFFIX}"):
        if entry.name.startswith("."):  # a writer's temporary, not an entry
            continue
        with contextlib.suppress(OSError):  # a concurrent writer may have removed it
            entries.append((entry.stat().st_mtime, entry))
    entries.sort(reverse=True)
    for _, stale in entries[keep:]:
        with contextlib.suppress(OSError):
            stale.unlink()
