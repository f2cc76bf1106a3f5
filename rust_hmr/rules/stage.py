"""What every cached stage does: compute its action key, fetch its outputs from the artifact
cache, or build them and store them; then write them without touching unchanged files.

    key = action_key(stage, version, toolchain fingerprint, flags, input blob hashes)
    hit  -> the outputs come from the cache (verified); the build never runs
    miss -> build, store, write

A blob that fails verification, or a record whose blobs are gone, counts as a miss: the stage
builds again and stores a good entry over the bad one.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rust_hmr.rules.checkers import file_blake3

if TYPE_CHECKING:
    from rust_hmr.cache import ArtifactCache
    from rust_hmr.rules.crate import Crate

__all__ = ["StageResult", "hash_files", "open_cache", "run_cached", "say", "write_if_changed"]

TOKEN_ENV = "RUST_HMR_CACHE_TOKEN"
_caches: dict[tuple[Any, ...], ArtifactCache] = {}


def say(stage: str, text: str) -> None:
    """One progress line on stderr, led by the stage's name."""
    stream = sys.stderr
    stream.write(f"{stage:<16} {text}\n")
    stream.flush()


def passthrough(line: str) -> None:
    """cargo's own output (its progress and diagnostics), as it comes."""
    sys.stderr.write(line)
    sys.stderr.flush()


def hash_files(files: Mapping[str, Path]) -> dict[str, str]:
    """blake3 of each file, by the name it has in the action key."""
    return {name: file_blake3(path) for name, path in files.items()}


def write_if_changed(path: Path, data: bytes) -> bool:
    """Write `data` to `path` unless it already holds exactly these bytes (its mtime is kept
    then); a write goes through a temporary file and a rename. True when it wrote."""
    try:
        if path.stat().st_size == len(data) and path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return True


def open_cache(crate: Crate) -> ArtifactCache:
    """The artifact cache the crate's settings name (one per process and configuration)."""
    from rust_hmr.cache import ArtifactCache

    settings = crate.settings
    ident = (crate.dir, settings.cache_dir, settings.cache_max_size, settings.remote_cache,
             settings.cache_read_only, os.environ.get(TOKEN_ENV))
    cache = _caches.get(ident)
    if cache is None:
        cache = ArtifactCache.from_settings(crate.dir, settings, log=_cache_log)
        _caches[ident] = cache
    return cache


def _cache_log(message: str) -> None:
    say("cache", message)


@dataclass(frozen=True)
class StageResult:
    """A stage's outputs by name, whether they came from the cache, and the record's meta
    (the stage and how long the build that stored it took)."""

    outputs: dict[str, bytes]
    cached: bool
    key: str
    seconds: float
    meta: dict[str, Any] = field(default_factory=dict)


def run_cached(
    crate: Crate,
    stage: str,
    version: int,
    *,
    toolchain: str,
    flags: Mapping[str, Any],
    inputs: Mapping[str, str],
    build: Callable[[], Mapping[str, bytes]],
) -> StageResult:
    """The stage's outputs: from the cache when it has this action, else from `build()`
    (then stored). `inputs` are blake3 hashes by name; `flags` anything msgpack can hold."""
    from rust_hmr.cache import CacheError, action_key

    cache = open_cache(crate)
    start = time.perf_counter()
    key = action_key(stage, version, toolchain, flags, dict(inputs))
    record = cache.lookup(key)
    if record is not None:
        outputs: dict[str, bytes] = {}
        for name, digest in record.outputs.items():
            blob = cache.get_blob(digest)
            if blob is None:
                say(stage, f"cache entry {key[:12]} lost its output {name!r}: building")
                break
            outputs[name] = blob
        else:
            return StageResult(outputs, True, key, time.perf_counter() - start,
                               dict(record.meta or {}))
    built = dict(build())
    seconds = time.perf_counter() - start
    info = {"stage": stage, "seconds": round(seconds, 3)}
    try:
        cache.store(key, built, meta=info)
    except (OSError, CacheError) as err:
        say(stage, f"warning: could not store the outputs in the cache: {err}")
    return StageResult(built, False, key, seconds, info)

