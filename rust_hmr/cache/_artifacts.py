"""`ArtifactCache`: the local store in front of an optional remote one, as the rules use it.

    key = action_key("prepare", 3, toolchain.fingerprint, flags, {"main.wasm": blob_hash(wasm)})
    record = cache.lookup(key)
    if record is None:
        record = cache.store(key, {"prepared.wasm": out, "symbols.msgpack": symbols})
    else:
        out = cache.get_blob(record.outputs["prepared.wasm"])

Invariants:
- a record is stored after its blobs, locally and remotely: no store points at a blob it lacks
  because of us (eviction may still remove a blob; `lookup` checks);
- `lookup` answers a record only when every output blob is there and hashes right;
- nothing corrupt is used: a bad local entry is deleted, a bad remote blob is ignored (and
  overwritten at the next `store`), each with a warning through `log`;
- the remote is best effort: when it is down or refuses, one warning, and the build goes on
  with the local store.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from rust_hmr.cache._errors import CorruptEntry, RemoteError
from rust_hmr.cache._eviction import GcResult
from rust_hmr.cache._keys import ActionRecord, blob_hash
from rust_hmr.cache._local import LocalStats, LocalStore
from rust_hmr.cache._remote import HttpStore

if TYPE_CHECKING:
    from rust_hmr.settings import Settings

T = TypeVar("T")

ENV_REMOTE = "RUST_HMR_REMOTE_CACHE"
ENV_TOKEN = "RUST_HMR_CACHE_TOKEN"
ENV_READ_ONLY = "RUST_HMR_CACHE_READ_ONLY"
# Blobs at least this large are pushed only after a HEAD says the server lacks them; smaller
# ones are PUT straight away (one round trip instead of two).
_HEAD_FIRST_BYTES = 64 * 1024


_shared_remotes: dict[tuple[str, str | None, bool], HttpStore] = {}
_shared_lock = threading.Lock()


def shared_remote(base_url: str, token: str | None, read_only: bool) -> HttpStore:
    """One `HttpStore` per configuration and process: its circuit breaker is then shared by
    every cache made with `from_settings`, so a down server costs one warning per process."""
    with _shared_lock:
        remote = _shared_remotes.get((base_url, token, read_only))
        if remote is None:
            remote = HttpStore(base_url, token=token, read_only=read_only)
            _shared_remotes[(base_url, token, read_only)] = remote
        return remote


def stderr_log(message: str) -> None:
    """The default `log`: one line on stderr."""
    print(f"rust-hmr cache: {message}", file=sys.stderr, flush=True)


@dataclass
class Counters:
    """What this cache object did since it was made."""

    local_hits: int = 0
    remote_hits: int = 0
    misses: int = 0
    stored: int = 0
    pushed: int = 0  # records pushed to the remote
    dropped: int = 0  # corrupt entries deleted or ignored


@dataclass(frozen=True)
class CacheStats:
    """The local store's contents, the remote's configuration and state, and the counters."""

    local: LocalStats
    remote_url: str | None
    remote_mode: str  # "none", "read-write", "read-only", or why it is off
    counters: Counters = field(default_factory=Counters)


@dataclass(frozen=True)
class Problem:
    """Something `verify` found (and dropped)."""

    kind: str
    key: str
    reason: str

    def __str__(self) -> str:
        return f"{self.kind}/{self.key}: {self.reason}"


class ArtifactCache:
    """Action records and blobs, from the local store first and then from the remote."""

    def __init__(self, local: LocalStore, remote: HttpStore | None = None,
                 log: Callable[[str], None] = stderr_log) -> None:
        self.local = local
        self.remote = remote
        self.log = log
        self.counters = Counters()
        self._remote_bad: set[str] = set()  # blobs the remote serves corrupt: push again
        self._verified: dict[str, bytes] = {}  # the last hit's blobs, for get_blob
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, crate_dir: Path | str, settings: Settings | None = None, *,
                      env: Mapping[str, str] | None = None,
                      log: Callable[[str], None] = stderr_log) -> ArtifactCache:
        """The cache a crate's settings name (`cache-dir`, `cache-max-size`, `remote-cache`,
        `cache-read-only`; see `rust_hmr.settings`, which reads RUST_HMR_REMOTE_CACHE and
        RUST_HMR_CACHE_READ_ONLY), with the token from RUST_HMR_CACHE_TOKEN.

        Without settings, the crate's Cargo.toml and the environment give them; without a
        Cargo.toml, the defaults and the environment do.
        """
        crate_dir = Path(crate_dir)
        env = os.environ if env is None else env
        if settings is None:
            settings = _load_settings(crate_dir, env)
        root = crate_dir / settings.cache_dir  # an absolute cache-dir stays as it is
        remote = None
        if settings.remote_cache:
            remote = shared_remote(settings.remote_cache, env.get(ENV_TOKEN) or None,
                                   settings.cache_read_only)
        return cls(LocalStore(root, settings.cache_max_size), remote, log)

    def close(self) -> None:
        """Closes the remote's connections."""
        if self.remote is not None:
            self.remote.close()

    def __enter__(self) -> ArtifactCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Reading

    def lookup(self, key: str) -> ActionRecord | None:
        """The action's record when every output is available and verified, else None.
        A remote hit is copied into the local store, blobs first."""
        record, raw, remote = self._local_record(key), None, False
        if record is None:
            raw = self._remote_call(lambda r: r.get("ac", key))
            if raw is not None:
                record = self._decode(key, raw, str(self.remote), action="ignored it")
                remote = record is not None
        if record is None:
            self.counters.misses += 1
            return None
        blobs: dict[str, bytes] = {}
        for digest in set(record.outputs.values()):
            data = self._fetch_blob(digest)
            if data is None:
                if not remote:  # its blob is gone everywhere: the record is useless
                    self.local.delete("ac", key)
                self.counters.misses += 1
                return None
            blobs[digest] = data
        if raw is not None:
            self.local.put("ac", key, raw)
            self.counters.remote_hits += 1
        else:
            self.counters.local_hits += 1
        self._verified = blobs
        return record

    def get_blob(self, digest: str) -> bytes | None:
        """The blob, verified; from the local store, else from the remote (then kept
        locally). A corrupt copy is dropped with a warning and counts as a miss."""
        data = self._verified.get(digest)
        return data if data is not None else self._fetch_blob(digest)

    def _local_record(self, key: str) -> ActionRecord | None:
        try:
            raw = self.local.get("ac", key)
        except OSError as err:
            self.log(f"warning: cannot read {self.local}: {err}")
            return None
        if raw is None:
            return None
        record = self._decode(key, raw, str(self.local))
        if record is None:
            self.local.delete("ac", key)
        return record

    def _decode(self, key: str, raw: bytes, where: str,
                action: str = "dropped it") -> ActionRecord | None:
        try:
            return ActionRecord.from_msgpack(raw, key=key, where=where)
        except CorruptEntry as err:
            self._dropped(err, action)
            return None

    def _fetch_blob(self, digest: str) -> bytes | None:
        try:
            data = self.local.get("cas", digest)
        except CorruptEntry as err:
            self._dropped(err)
            data = None
        if data is not None or digest in self._remote_bad:  # a known bad copy: don't ask
            return data
        try:
            data = self._remote_call(lambda r: r.get("cas", digest))
        except CorruptEntry as err:
            with self._lock:
                self._remote_bad.add(digest)
            self._dropped(err, action="ignored it")
            return None
        if data is not None:
            self.local.put("cas", digest, data)
        return data

    def _dropped(self, err: CorruptEntry, action: str = "dropped it") -> None:
        self.counters.dropped += 1
        self.log(f"warning: corrupt entry in {err.where}: {err.kind}/{err.key}: "
                 f"{err.reason}; {action}, it will be rebuilt")

    # Writing

    def store(self, key: str, outputs: Mapping[str, bytes],
              meta: Mapping[str, Any] | None = None) -> ActionRecord:
        """Stores the action's outputs and its record, locally and (unless read-only) on the
        remote; blobs first, so a record never points at a blob that is not there."""
        blobs = {name: bytes(data) for name, data in outputs.items()}
        record = ActionRecord({name: blob_hash(data) for name, data in blobs.items()},
                              dict(meta or {}))
        raw = record.to_msgpack()  # fails on bad meta before anything is written
        by_hash = {record.outputs[name]: data for name, data in blobs.items()}
        for digest, data in by_hash.items():
            self.local.put("cas", digest, data)
        self.local.put("ac", key, raw)
        self.counters.stored += 1
        if self._remote_call(lambda r: self._push(r, key, raw, by_hash), write=True):
            self.counters.pushed += 1
        return record

    def _push(self, remote: HttpStore, key: str, raw: bytes,
              blobs: Mapping[str, bytes]) -> bool:
        for digest, data in blobs.items():
            forced = digest in self._remote_bad
            if forced or len(data) < _HEAD_FIRST_BYTES or not remote.contains("cas", digest):
                remote.put("cas", digest, data)
            if forced:
                with self._lock:
                    self._remote_bad.discard(digest)
        remote.put("ac", key, raw)
        return True

    def _remote_call(self, call: Callable[[HttpStore], T], write: bool = False) -> T | None:
        """`call(remote)`, or None without a usable remote; a `RemoteError` disables the
        remote (for writes only, when a write was refused) with one warning."""
        remote = self.remote
        if remote is None or not remote.available(write):
            return None
        try:
            return call(remote)
        except RemoteError as err:
            if remote.disable(err, write):
                scope = "writes to it are off" if remote.available() else "it is off"
                self.log(f"warning: {err}; {scope} for this run, the local cache goes on")
            return None

    # Upkeep

    def stats(self) -> CacheStats:
        """What the local store holds, how the remote is set up, what this object did."""
        remote = self.remote
        if remote is None:
            mode = "none"
        elif not remote.available():
            mode = "off after an error"
        elif remote.read_only:
            mode = "read-only"
        elif not remote.available(write=True):
            mode = "read-only after a refused write"
        else:
            mode = "read-write" if remote.token else "read-write, but no token"
        return CacheStats(self.local.stats(), remote.base_url if remote else None, mode,
                          replace(self.counters))

    def verify(self) -> list[Problem]:
        """Checks every local entry: blobs against their hash, records decode and point at
        blobs the store has. Drops each bad entry; returns what was wrong (the remote is not
        scanned: its blobs are verified whenever they are downloaded)."""
        problems: list[Problem] = []
        entries = self.local.entries()
        blobs = set()
        for entry in entries:
            if entry.kind != "cas":
                continue
            data = self.local.peek("cas", entry.key)
            if data is None:
                continue  # evicted meanwhile
            actual = blob_hash(data)
            if actual == entry.key:
                blobs.add(entry.key)
                continue
            self.local.delete("cas", entry.key)
            problems.append(Problem("cas", entry.key, f"content hashes to {actual[:16]}..."))
        for entry in entries:
            if entry.kind != "ac":
                continue
            raw = self.local.peek("ac", entry.key)
            if raw is None:
                continue
            try:
                record = ActionRecord.from_msgpack(raw, key=entry.key)
            except CorruptEntry as err:
                self.local.delete("ac", entry.key)
                problems.append(Problem("ac", entry.key, err.reason))
                continue
            missing = sorted(name for name, digest in record.outputs.items()
                             if digest not in blobs and not self.local.contains("cas", digest))
            if missing:
                self.local.delete("ac", entry.key)
                problems.append(Problem("ac", entry.key,
                                        f"output blobs missing: {', '.join(missing)}"))
        return problems

    def gc(self, max_bytes: int | None = None) -> GcResult:
        """Evicts the least recently used local entries down to `max_bytes` (default: the
        store's bound), then the records whose blobs went with them, and removes what dead
        writers left."""
        result = self.local.gc(max_bytes)
        if not result.removed:
            return result
        removed = freed = 0
        for entry in self.local.entries():
            raw = self.local.peek("ac", entry.key) if entry.kind == "ac" else None
            if raw is None:
                continue
            try:
                outputs = ActionRecord.from_msgpack(raw, key=entry.key).outputs.values()
            except CorruptEntry:
                continue  # verify's business
            if not all(self.local.contains("cas", digest) for digest in outputs):
                removed += self.local.delete("ac", entry.key)
                freed += entry.size
        return replace(result, removed=result.removed + removed,
                       freed_bytes=result.freed_bytes + freed, kept=result.kept - removed,
                       kept_bytes=result.kept_bytes - freed)


def _load_settings(crate_dir: Path, env: Mapping[str, str]) -> Settings:
    """The crate's settings; for a directory without Cargo.toml, the defaults with the
    remote settings from the environment."""
    from rust_hmr.settings import Settings, SettingsError, load_settings

    if (crate_dir / "Cargo.toml").is_file():
        return load_settings(crate_dir, env=env)
    flag = env.get(ENV_READ_ONLY, "").strip().lower()
    if flag not in ("", "0", "1", "false", "true", "no", "yes", "off", "on"):
        raise SettingsError(f"{ENV_READ_ONLY}: expected true or false, got {flag!r}")
    return replace(Settings(), remote_cache=env.get(ENV_REMOTE, ""),
                   cache_read_only=flag in ("1", "true", "yes", "on"))
