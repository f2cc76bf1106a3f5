"""The artifact cache: content-addressed outputs of build actions, on disk and over HTTP.

An action (a stage run on given inputs) has a key, `action_key(stage, version, toolchain,
flags, inputs)`; its record (`ActionRecord`) names each output by the blake3 of its bytes, and
the bytes are stored as blobs under that hash. Two kinds of entry, in every store:

    ac/<action key>   msgpack record {outputs: name -> blob hash, meta}
    cas/<blake3>      blob

Stores (`Store`: get/put/contains): `LocalStore` (files, atomic writes, LRU size bound; still
read when it can't be written), `HttpStore` (GET/HEAD/PUT, nginx with WebDAV or a Bazel-style
cache; deadlines, body caps and a circuit breaker, the token on PUTs only) and `MemoryStore`
(tests). `ArtifactCache` puts the local store in front of an optional remote one.

Modules: `_keys` (hashes, keys, records), `_store` (the base class, the memory store),
`_local` and `_eviction` (the local store and its LRU bound), `_remote` (the HTTP store),
`_artifacts` (the cache), `_errors`.

Exceptions:

    CacheError
    ├── CorruptEntry          a blob that does not hash to its name, a record that does not
    │                         decode, a download longer than its record says (the cache
    │                         drops it if it can, warns, and counts a miss)
    ├── ReadOnlyStore         put() on a read-only store (a bug in the caller)
    └── RemoteError           the remote failed (the cache warns once and goes on locally)
        ├── RemoteUnavailable     down, past a deadline, 5xx on every try, or too often slow
        └── RemoteRefused         401/403 (token), 405 (no PUT), a redirect (never followed)

A local store that can't be written (no permission, a read-only file system) is not an error:
the cache warns once and stores nothing there. Other local I/O errors of `store` (a full disk)
stay `OSError`; a malformed key is a `ValueError`. Text from a server is quoted (`quoted`) and
every warning is made printable before it is logged.

Configuration: `ArtifactCache.from_settings` reads the crate's settings (`rust_hmr.settings`:
cache-dir, cache-max-size, remote-cache, cache-read-only, and the remote's deadlines:
remote-cache-timeout for one request, 5 s plus 1 s per MiB of body, remote-cache-deadline for
one run, 15 s) and the token from RUST_HMR_CACHE_TOKEN (`_artifacts.ENV_TOKEN`).
"""

from rust_hmr.cache._artifacts import (
    ENV_TOKEN,
    ArtifactCache,
    CacheStats,
    Counters,
    Problem,
    stderr_log,
)
from rust_hmr.cache._errors import (
    CacheError,
    CorruptEntry,
    ReadOnlyStore,
    RemoteError,
    RemoteRefused,
    RemoteUnavailable,
)
from rust_hmr.cache._eviction import GcResult
from rust_hmr.cache._keys import ActionRecord, action_key, blob_hash
from rust_hmr.cache._local import LocalStats, LocalStore
from rust_hmr.cache._remote import HttpStore
from rust_hmr.cache._store import Kind, MemoryStore, Store

__all__ = [
    "ENV_TOKEN",
    "ActionRecord",
    "ArtifactCache",
    "CacheError",
    "CacheStats",
    "CorruptEntry",
    "Counters",
    "GcResult",
    "HttpStore",
    "Kind",
    "LocalStats",
    "LocalStore",
    "MemoryStore",
    "Problem",
    "ReadOnlyStore",
    "RemoteError",
    "RemoteRefused",
    "RemoteUnavailable",
    "Store",
    "action_key",
    "blob_hash",
    "stderr_log",
]
