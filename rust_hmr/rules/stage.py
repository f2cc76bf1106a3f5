"""What every cached stage does: compute its action key, fetch its outputs from the artifact
cache, or build them and store them; then write them without touching unchanged files.

    key = action_key(stage, version, toolchain fingerprint, flags, input blob hashes)
    hit  -> the outputs come from the cache (verified); the build never runs
    miss -> build, store, write

A blob that fails verification, or a record whose blobs are gone, counts as a miss: the stage
builds again and stores a good entry over the bad one.

A stage whose full inputs are known only once it ran (the compile: `include_str!` targets,
`#[path]` modules, `env!` variables, see `rust_hmr.compile_inputs`) passes `discover`. Its
outputs are then stored under a key that also covers everything the build read, and the list
of what it read is stored under the first key:

    listing = cache[key("<stage>:inputs", ...)]        what the last such build read
    key'    = key(stage, ..., key, hashes of the listed files now, the listed variables now)
    hit     -> the outputs come from the cache; a changed listed file or variable misses

A hit is sound whichever build stored the listing: key' names exactly what some build read,
with the contents and values it read. A build during which one of its inputs changed stores
no outputs (they may come from either version of the file).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rust_hmr.atomic import write_atomic
from rust_hmr.compile_inputs import CompileInputs
from rust_hmr.rules.checkers import file_blake3

if TYPE_CHECKING:
    from rust_hmr.cache import ArtifactCache
    from rust_hmr.rules.crate import Crate

__all__ = ["StageResult", "hash_files", "open_cache", "run_cached", "say", "write_if_changed"]

LISTING = "inputs.json"
_MISSING = "missing"  # the hash of a listed file that is not there
# A listed input modified this close to the build's start or later may not be what it read
_TOO_NEW_NS = 10_000_000
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
    write_atomic(path, data)
    return True


def open_cache(crate: Crate) -> ArtifactCache:
    """The artifact cache the crate's settings name (one per process and configuration)."""
    from rust_hmr.cache import ENV_TOKEN, ArtifactCache

    settings = crate.settings
    ident = (crate.dir, settings.cache_dir, settings.cache_max_size, settings.remote_cache,
             settings.cache_read_only, settings.remote_cache_timeout,
             settings.remote_cache_deadline, os.environ.get(ENV_TOKEN))
    cache = _caches.get(ident)
    if cache is None:
        cache = ArtifactCache.from_settings(crate.dir, settings, log=_cache_log)
        _caches[ident] = cache
    return cache


def _cache_log(message: str) -> None:
    say("cache", message)


@dataclass(frozen=True)
class StageResult:
    """A stage's outputs by name, whether they came from the cache, the record's meta (the
    stage and how long the build that stored it took), and, for a stage that discovers its
    inputs, what the build read."""

    outputs: dict[str, bytes]
    cached: bool
    key: str
    seconds: float
    meta: dict[str, Any] = field(default_factory=dict)
    read: CompileInputs = field(default_factory=CompileInputs)


def run_cached(
    crate: Crate,
    stage: str,
    version: int,
    *,
    toolchain: str,
    flags: Mapping[str, Any],
    inputs: Mapping[str, str],
    build: Callable[[], Mapping[str, bytes]],
    discover: Callable[[], CompileInputs] | None = None,
) -> StageResult:
    """The stage's outputs: from the cache when it has this action, else from `build()`
    (then stored). `inputs` are blake3 hashes by name; `flags` anything msgpack can hold;
    `discover`, called after `build()`, what the build read besides `inputs`."""
    from rust_hmr.cache import action_key

    cache = open_cache(crate)
    start = time.perf_counter()
    key = action_key(stage, version, toolchain, flags, dict(inputs))
    listing_key = action_key(f"{stage}:inputs", version, toolchain, flags, dict(inputs))
    lookup_key, listed = key, None
    if discover is not None:
        listed = _listing(cache, listing_key, crate.dir)
        lookup_key = _read_key(stage, version, key, listed, crate.dir) if listed else ""
    hit = _fetch(cache, stage, lookup_key) if lookup_key else None
    if hit is not None:
        outputs, meta = hit
        return StageResult(outputs, True, lookup_key, time.perf_counter() - start, meta,
                           listed or CompileInputs())
    started_ns = time.time_ns()
    built = dict(build())
    seconds = time.perf_counter() - start
    info = {"stage": stage, "seconds": round(seconds, 3)}
    store_key: str | None = key
    found = CompileInputs()
    if discover is not None:
        found = discover()
        _store(cache, stage, listing_key, {LISTING: found.to_json(crate.dir)}, info)
        changed = _changed_since(found, started_ns - _TOO_NEW_NS)
        if changed:
            say(stage, f"{changed} changed during the build: its outputs are not cached")
            store_key = None
        else:
            store_key = _read_key(stage, version, key, found, crate.dir)
    if store_key is not None:
        _store(cache, stage, store_key, built, info)
    return StageResult(built, False, store_key or key, seconds, info, found)


def _fetch(cache: ArtifactCache, stage: str, key: str) -> tuple[dict[str, bytes],
                                                                  dict[str, Any]] | None:
    """The outputs of the record under `key` and its meta, or None (a miss, or a record
    whose blobs are gone)."""
    record = cache.lookup(key)
    if record is None:
        return None
    outputs: dict[str, bytes] = {}
    for name, digest in record.outputs.items():
        blob = cache.get_blob(digest)
        if blob is None:
            say(stage, f"cache entry {key[:12]} lost its output {name!r}: building")
            return None
        outputs[name] = blob
    return outputs, dict(record.meta or {})


def _store(cache: ArtifactCache, stage: str, key: str, outputs: Mapping[str, bytes],
           meta: Mapping[str, Any]) -> None:
    from rust_hmr.cache import CacheError

    try:
        cache.store(key, outputs, meta=meta)
    except (OSError, CacheError) as err:
        say(stage, f"warning: could not store the outputs in the cache: {err}")


def _listing(cache: ArtifactCache, key: str, base: Path) -> CompileInputs | None:
    """What the last build of this action read, when the cache has the list."""
    found = _fetch(cache, "cache", key)
    if found is None or LISTING not in found[0]:
        return None
    try:
        return CompileInputs.from_json(found[0][LISTING], base)
    except ValueError:
        return None


def _read_key(stage: str, version: int, key: str, read: CompileInputs, base: Path) -> str:
    """The key of an action with key `key` that also read `read`, as those inputs are now."""
    from rust_hmr.cache import action_key

    hashes = {}
    for path in read.files:
        name = Path(os.path.relpath(path, base)).as_posix()
        try:
            hashes[name] = file_blake3(path)
        except OSError:
            hashes[name] = _MISSING
    flags = {"action": key, "env": read.env_values()}
    return action_key(f"{stage}:read", version, "", flags, hashes)


def _changed_since(read: CompileInputs, since_ns: int) -> str | None:
    """The first input modified at or after `since_ns` (epoch nanoseconds), if any."""
    for path in read.files:
        try:
            if path.stat().st_mtime_ns >= since_ns:
                return path.name
        except OSError:
            continue
    return None
