"""`ArtifactCache`: the local store in front of an optional remote one, as the rules use it.

The `prepare` stage of crate `counter`, say (`rust_hmr.rules.prepare` through
`rust_hmr.rules.stage.run_cached`; its input the linked module, its outputs the prepared
module and the symbol map):

    key = action_key("prepare", 3, "", flags, {"counter.wasm": blob_hash(linked), ...})
    record = cache.lookup(key)
    if record is None:
        cache.store(key, {"counter.wasm": prepared, "symbols.msgpack": symbols})
    else:
        prepared = cache.get_blob(record.outputs["counter.wasm"])

Invariants:
- a record is stored after its blobs, locally and remotely: no store points at a blob it lacks
  because of us (eviction may still remove a blob; `lookup` checks);
- `lookup` answers a record only when every output blob is there and hashes right;
- nothing corrupt is used: a bad local entry is deleted, a bad remote blob is ignored (and
  overwritten at the next `store`), each with a warning through `log`;
- a local store that can't be written (permissions, a read-only file system) is still read:
  a bad entry in it that can't be deleted is a miss, warned about once, and nothing is stored
  in it for the rest of the run (one warning says so);
- the remote is best effort: when it is down, too slow or refuses, one warning, and the build
  goes on with the local store;
- every warning is one printable line: text from a server is quoted, and whatever else is not
  printable is escaped (`printable`).
"""

from __future__ import annotations

import functools
import os
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from rust_hmr.cache._errors import CorruptEntry, RemoteError, printable
from rust_hmr.cache._eviction import GcResult
from rust_hmr.cache._keys import ActionRecord, blob_hash
from rust_hmr.cache._local import LocalStats, LocalStore
from rust_hmr.cache._remote import HttpStore
from rust_hmr.cache._store import Kind

if TYPE_CHECKING:
    from rust_hmr.settings import Settings

T = TypeVar("T")

ENV_REMOTE = "RUST_HMR_REMOTE_CACHE"
ENV_TOKEN = "RUST_HMR_CACHE_TOKEN"
ENV_READ_ONLY = "RUST_HMR_CACHE_READ_ONLY"
# Blobs at least this large are pushed only after a HEAD says the server lacks them; smaller
# ones are PUT straight away (one round trip instead of two).
_HEAD_FIRST_BYTES = 64 * 1024


_shared_remotes: dict[tuple[str, str | None, bool, float, float], HttpStore] = {}
_shared_lock = threading.Lock()


def shared_remote(base_url: str, token: str | None, read_only: bool, timeout: float = 5.0,
                  deadline: float = 15.0) -> HttpStore:
    """One `HttpStore` per configuration and process: its circuit breaker (and the time the
    remote may take) is then shared by every cache made with `from_settings`, so a down or
    slow server costs one warning and one deadline per process."""
    ident = (base_url, token, read_only, timeout, deadline)
    with _shared_lock:
        remote = _shared_remotes.get(ident)
        if remote is None:
            remote = HttpStore(base_url, token=token, read_only=read_only, timeout=timeout,
                               deadline=deadline)
            _shared_remotes[ident] = remote
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
        self._local_bad: set[tuple[str, str]] = set()  # corrupt, but the store can't drop them
        self._told: set[str] = set()  # one-time warnings given
        self._verified: dict[str, bytes] = {}  # the last hit's blobs, for get_blob
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, crate_dir: Path | str, settings: Settings | None = None, *,
                      env: Mapping[str, str] | None = None,
                      log: Callable[[str], None] = stderr_log) -> ArtifactCache:
        """The cache a crate's settings name (`cache-dir`, `cache-max-size`, `remote-cache`,
        `cache-read-only`, `remote-cache-timeout`, `remote-cache-deadline`; see
        `rust_hmr.settings`, which also reads them from RUST_HMR_REMOTE_CACHE,
        RUST_HMR_CACHE_READ_ONLY, RUST_HMR_REMOTE_TIMEOUT and RUST_HMR_REMOTE_DEADLINE), with
        the token from RUST_HMR_CACHE_TOKEN.

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
                                   settings.cache_read_only, settings.remote_cache_timeout,
                                   settings.remote_cache_deadline)
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
        record, raw = self._local_record(key), None
        if record is None:
            raw = self._remote_record(key)
            record = None if raw is None else self._decode(key, raw, str(self.remote))
        if record is None:
            self.counters.misses += 1
            return None
        blobs: dict[str, bytes] = {}
        for digest in set(record.outputs.values()):
            data = self._fetch_blob(digest, record.size_of(digest))
            if data is None:
                if raw is None:  # its blob is gone everywhere: the record is useless
                    self._local_write(functools.partial(self.local.delete, "ac", key))
                self.counters.misses += 1
                return None
            blobs[digest] = data
        if raw is not None:
            self._local_write(functools.partial(self.local.put, "ac", key, raw))
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
        raw = self._local_get("ac", key)
        if raw is None:
            return None
        try:
            return ActionRecord.from_msgpack(raw, key=key, where=str(self.local))
        except CorruptEntry as err:
            err.dropped = self._try_delete("ac", key)
            self._dropped(err)
            return None

    def _try_delete(self, kind: Kind, key: str) -> bool:
        """Deletes a bad local entry; False when it stays (the caller says so)."""
        if self.local.read_only:
            return False
        try:
            self.local.delete(kind, key)
        except OSError:
            return False
        return True

    def _remote_record(self, key: str) -> bytes | None:
        try:
            return self._remote_call(lambda r: r.get("ac", key))
        except CorruptEntry as err:  # longer than any record
            self._dropped(err)
            return None

    def _decode(self, key: str, raw: bytes, where: str) -> ActionRecord | None:
        try:
            return ActionRecord.from_msgpack(raw, key=key, where=where)
        except CorruptEntry as err:
            self._dropped(err)
            return None

    def _local_get(self, kind: Kind, key: str) -> bytes | None:
        """The local entry, verified; None when absent, bad, or unreadable (one warning)."""
        if (kind, key) in self._local_bad:
            return None
        try:
            return self.local.get(kind, key)
        except CorruptEntry as err:
            self._dropped(err)
        except OSError as err:
            if self._first_time("unreadable"):
                self._warn(f"warning: cannot read {self.local}: {err.strerror or err}; its "
                           f"entries count as misses")
        return None

    def _fetch_blob(self, digest: str, size: int | None = None) -> bytes | None:
        data = self._local_get("cas", digest)
        if data is not None or digest in self._remote_bad:  # a known bad copy: don't ask
            return data
        try:
            data = self._remote_call(lambda r: r.get("cas", digest, size))
        except CorruptEntry as err:
            with self._lock:
                self._remote_bad.add(digest)
            self._dropped(err)
            return None
        if data is not None:
            self._local_write(functools.partial(self.local.put, "cas", digest, data))
        return data

    def _dropped(self, err: CorruptEntry) -> None:
        """Counts and reports a bad entry: dropped (local), ignored (remote), or left where
        it is (a local store that can't be written: remembered, so it is warned about once)."""
        self.counters.dropped += 1
        if err.where != str(self.local):
            action = "ignored it, it will be rebuilt"
        elif err.dropped:
            action = "dropped it, it will be rebuilt"
        else:
            with self._lock:
                self._local_bad.add((err.kind, err.key))
            action = (f"it can't be dropped ({self._why_unwritable()}), so it counts as a "
                      f"miss and is rebuilt")
        self._warn(f"warning: corrupt entry in {err.where}: {err.kind}/{err.key}: "
                   f"{err.reason}; {action}")

    def _why_unwritable(self) -> str:
        """Why the local store can't be written, for the first warning that mentions it;
        the read-only warning is then said, and not repeated."""
        if not self.local.read_only:
            return "it could not be deleted"
        if not self._first_time("read-only"):
            return "the local cache is read-only"
        return (f"the local cache is read-only: {self.local.read_only_reason}; nothing is "
                f"stored in it this run")

    def _local_write(self, write: Callable[[], object], strict: bool = False) -> bool:
        """`write()` on the local store; False when it failed. A store found read-only
        (then one warning, and no more tries this run) or, unless `strict`, any other
        failure is a warning, not an error: a cache that can't keep something is a miss
        next time, never a failed build."""
        if not self.local.read_only:
            try:
                write()
                return True
            except OSError as err:
                if not self.local.read_only:  # not a permission problem: a full disk, say
                    if strict:
                        raise
                    self._warn(f"warning: cannot write {self.local}: {err.strerror or err}")
                    return False
        if self._first_time("read-only"):
            self._warn(f"warning: cannot write {self.local} ({self.local.read_only_reason}): "
                       f"it is read-only for this run, nothing is stored in it")
        return False

    def _first_time(self, topic: str) -> bool:
        """True once per topic: for the warnings said once a run."""
        with self._lock:
            if topic in self._told:
                return False
            self._told.add(topic)
            return True

    def _warn(self, message: str) -> None:
        self.log(printable(message))

    # Writing

    def store(self, key: str, outputs: Mapping[str, bytes],
              meta: Mapping[str, Any] | None = None) -> ActionRecord:
        """Stores the action's outputs and its record, locally and (unless read-only) on the
        remote; blobs first, so a record never points at a blob that is not there. A local
        store that can't be written is skipped (one warning); other local I/O errors (a full
        disk) are raised."""
        blobs = {name: bytes(data) for name, data in outputs.items()}
        record = ActionRecord({name: blob_hash(data) for name, data in blobs.items()},
                              dict(meta or {}), {name: len(data) for name, data in blobs.items()})
        raw = record.to_msgpack()  # fails on bad meta before anything is written
        by_hash = {record.outputs[name]: data for name, data in blobs.items()}
        writes = [functools.partial(self.local.put, "cas", digest, data)
                  for digest, data in by_hash.items()]
        writes.append(functools.partial(self.local.put, "ac", key, raw))
        if all(self._local_write(write, strict=True) for write in writes):
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
                self._warn(f"warning: {err}; {scope} for this run, the local cache goes on")
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
    settings that have an environment variable (the remote's) taken from it."""
    from rust_hmr.settings import SETTINGS, Settings, SettingsError, load_settings

    if (crate_dir / "Cargo.toml").is_file():
        return load_settings(crate_dir, env=env)
    values = {}
    for setting in SETTINGS:
        if setting.env and env.get(setting.env):
            try:
                values[setting.attr] = setting.parse(env[setting.env])
            except ValueError as err:
                raise SettingsError(f"{setting.env}: {err}") from None
    return replace(Settings(), **values)
