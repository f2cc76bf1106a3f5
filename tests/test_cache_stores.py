"""One contract for every store backend: memory, local files, and HTTP against a real nginx."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from nginx_server import NginxServer, nginx_server_fixture  # noqa: F401 (fixture)

from rust_hmr.cache import CorruptEntry, HttpStore, LocalStore, MemoryStore, Store, blob_hash

KEY = "ab" * 32


@dataclass
class Backend:
    """A store, and a way to put raw bytes behind its back (to corrupt an entry)."""

    store: Store
    plant: Callable[[str, str, bytes], None]
    drops_corrupt: bool  # a local or memory store deletes a corrupt blob; a remote can't


@pytest.fixture(params=["memory", "local", "http"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "memory":
        memory = MemoryStore()

        def plant_memory(kind: str, key: str, data: bytes) -> None:
            memory.entries[(kind, key)] = data

        yield Backend(memory, plant_memory, True)
    elif request.param == "local":
        local = LocalStore(tmp_path / "cache")

        def plant_file(kind: str, key: str, data: bytes) -> None:
            path = local.path(kind, key)  # type: ignore[arg-type]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)

        yield Backend(local, plant_file, True)
    else:
        server: NginxServer = request.getfixturevalue("nginx_server")
        base = server.new_prefix()

        def plant_remote(kind: str, key: str, data: bytes) -> None:
            path = server.file_of(base, kind, key)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)

        with HttpStore(base, token=server.token) as remote:
            yield Backend(remote, plant_remote, False)


def test_missing_entries(backend: Backend) -> None:
    for kind in ("ac", "cas"):
        assert backend.store.get(kind, KEY) is None
        assert not backend.store.contains(kind, KEY)


@pytest.mark.parametrize("size", [0, 1, 1000, 3 * 1024 * 1024 + 7])
def test_blob_round_trip(backend: Backend, size: int) -> None:
    data = (bytes(range(251)) * (size // 251 + 1))[:size]
    digest = blob_hash(data)
    backend.store.put("cas", digest, data)
    assert backend.store.contains("cas", digest)
    assert backend.store.get("cas", digest) == data
    backend.store.put("cas", digest, data)  # again: fine, same content
    assert backend.store.get("cas", digest) == data


def test_records_are_opaque_and_replaceable(backend: Backend) -> None:
    backend.store.put("ac", KEY, b"first record")
    assert backend.store.contains("ac", KEY)
    assert backend.store.get("ac", KEY) == b"first record"
    backend.store.put("ac", KEY, b"second")
    assert backend.store.get("ac", KEY) == b"second"
    assert not backend.store.contains("cas", KEY)  # kinds are separate namespaces


def test_blob_under_a_wrong_hash_is_refused(backend: Backend) -> None:
    with pytest.raises(ValueError, match="not the blob"):
        backend.store.put("cas", blob_hash(b"this"), b"that")
    assert not backend.store.contains("cas", blob_hash(b"this"))


@pytest.mark.parametrize(("kind", "key"), [
    ("ac", "../" + "a" * 61), ("cas", "AB" * 32), ("ac", "ab" * 31), ("ac", "ab" * 33),
    ("tmp", KEY), ("ac", "g" * 64), ("cas", ""),
])
def test_bad_names_are_refused(backend: Backend, kind: str, key: str) -> None:
    with pytest.raises(ValueError):
        backend.store.get(kind, key)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        backend.store.put(kind, key, b"x")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        backend.store.contains(kind, key)  # type: ignore[arg-type]


def test_corrupt_blob_is_never_returned(backend: Backend) -> None:
    good = b"the real content" * 100
    digest = blob_hash(good)
    backend.store.put("cas", digest, good)
    backend.plant("cas", digest, good[:-1] + b"!")
    with pytest.raises(CorruptEntry) as caught:
        backend.store.get("cas", digest)
    assert caught.value.key == digest
    assert str(backend.store) in str(caught.value)
    if backend.drops_corrupt:
        assert not backend.store.contains("cas", digest)
        assert backend.store.get("cas", digest) is None
    else:
        with pytest.raises(CorruptEntry):
            backend.store.get("cas", digest)


def test_truncated_blob_is_corrupt(backend: Backend) -> None:
    good = bytes(range(256)) * 64
    digest = blob_hash(good)
    backend.plant("cas", digest, good[: len(good) // 2])
    with pytest.raises(CorruptEntry):
        backend.store.get("cas", digest)
