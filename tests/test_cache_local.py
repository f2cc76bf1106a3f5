"""The local store and the cache on top of it: layout, corruption, killed writers, several
processes at once, LRU eviction, verify and gc. Real files, real processes."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import blake3
import pytest

from rust_hmr.cache import ActionRecord, ArtifactCache, LocalStore, action_key, blob_hash

WORKERS = 4
ROUNDS = 25


def payload(tag: str, size: int) -> bytes:
    """`size` bytes that depend on `tag` (fast to make, different for every tag)."""
    return blake3.blake3(tag.encode()).digest(length=size)


def outputs_of(tag: str) -> dict[str, bytes]:
    return {"main.wasm": payload(f"{tag}/main", 150_000), "symbols": payload(f"{tag}/sym", 999)}


def key_of(tag: str) -> str:
    return action_key("test", 1, "toolchain", [tag], {"src": blob_hash(tag.encode())})


class Log(list[str]):
    """A `log` that keeps the messages."""

    def __call__(self, message: str) -> None:
        self.append(message)


@pytest.fixture
def log() -> Log:
    return Log()


@pytest.fixture
def cache(tmp_path: Path, log: Log) -> ArtifactCache:
    return ArtifactCache(LocalStore(tmp_path / "cache"), log=log)


# Layout and reads


def test_layout(cache: ArtifactCache, tmp_path: Path) -> None:
    key = key_of("a")
    record = cache.store(key, outputs_of("a"), meta={"seconds": 0.5})
    root = tmp_path / "cache"
    assert (root / "ac" / key[:2] / key).is_file()
    for digest in record.outputs.values():
        assert (root / "cas" / digest[:2] / digest).is_file()
    assert ActionRecord.from_msgpack((root / "ac" / key[:2] / key).read_bytes()) == record
    assert not list(root.rglob(".tmp-*"))


def test_hit_returns_the_outputs(cache: ArtifactCache, log: Log) -> None:
    key = key_of("a")
    assert cache.lookup(key) is None
    stored = cache.store(key, outputs_of("a"), meta={"n": 1})
    record = cache.lookup(key)
    assert record == stored
    assert {n: cache.get_blob(h) for n, h in record.outputs.items()} == outputs_of("a")
    assert (cache.counters.local_hits, cache.counters.misses, cache.counters.stored) == (1, 1, 1)
    assert log == []


def test_nothing_is_created_before_the_first_write(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "nowhere")
    assert store.get("ac", "0" * 64) is None
    stats = store.stats()
    assert (stats.records, stats.blobs, stats.total_bytes) == (0, 0, 0)
    assert not (tmp_path / "nowhere").exists()


def test_a_truncated_blob_is_replaced_when_stored_again(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    data = b"0123456789" * 100
    digest = blob_hash(data)
    store.put("cas", digest, data)
    store.path("cas", digest).write_bytes(data[:10])
    store.put("cas", digest, data)
    assert store.get("cas", digest) == data


def test_a_read_marks_the_entry_used(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    digest = blob_hash(b"x")
    store.put("cas", digest, b"x")
    path = store.path("cas", digest)
    os.utime(path, (1_000_000, 1_000_000))
    assert store.peek("cas", digest) == b"x"  # peek is no use
    assert path.stat().st_mtime == 1_000_000
    assert store.get("cas", digest) == b"x"
    assert path.stat().st_mtime > time.time() - 60


# Corruption


def test_corrupt_local_blob_is_dropped_and_reported(cache: ArtifactCache, log: Log) -> None:
    key = key_of("a")
    record = cache.store(key, outputs_of("a"))
    digest = record.outputs["main.wasm"]
    blob_file = cache.local.path("cas", digest)
    blob_file.write_bytes(b"\0" * blob_file.stat().st_size)  # same size, wrong bytes

    assert cache.lookup(key) is None
    assert len(log) == 1
    assert "corrupt" in log[0] and digest in log[0] and str(cache.local) in log[0]
    assert not blob_file.exists()
    assert not cache.local.contains("ac", key)  # its record is useless now: gone too
    assert cache.counters.dropped == 1

    cache.store(key, outputs_of("a"))  # the rebuild
    assert cache.lookup(key) == record
    assert cache.get_blob(digest) == outputs_of("a")["main.wasm"]


def test_get_blob_never_returns_corrupt_bytes(cache: ArtifactCache, log: Log) -> None:
    digest = cache.store(key_of("a"), {"x": b"good bytes"}).outputs["x"]
    cache.local.path("cas", digest).write_bytes(b"evil bytes")
    assert cache.get_blob(digest) is None
    assert len(log) == 1 and "corrupt" in log[0]
    assert cache.get_blob(digest) is None  # dropped: now a plain miss, no second warning
    assert len(log) == 1


def test_garbage_record_is_a_miss(cache: ArtifactCache, log: Log) -> None:
    key = key_of("a")
    cache.store(key, outputs_of("a"))
    cache.local.path("ac", key).write_bytes(b"\x93\x01garbage")
    assert cache.lookup(key) is None
    assert len(log) == 1 and "not msgpack" in log[0]
    assert not cache.local.contains("ac", key)


def test_verify_drops_and_reports_every_bad_entry(cache: ArtifactCache) -> None:
    good = cache.store(key_of("good"), outputs_of("good"))
    bad_blob = cache.store(key_of("bad-blob"), {"out": b"will be flipped"})
    cache.local.path("cas", bad_blob.outputs["out"]).write_bytes(b"flipped")
    lost = cache.store(key_of("lost"), {"out": b"will be deleted"})
    cache.local.delete("cas", lost.outputs["out"])
    cache.local.put("ac", key_of("garbage"), b"not a record")

    problems = cache.verify()
    found = {(p.kind, p.key): p.reason for p in problems}
    assert set(found) == {
        ("cas", bad_blob.outputs["out"]), ("ac", key_of("bad-blob")), ("ac", key_of("lost")),
        ("ac", key_of("garbage")),
    }
    assert "hashes to" in found[("cas", bad_blob.outputs["out"])]
    assert "missing: out" in found[("ac", key_of("lost"))]
    assert cache.verify() == []  # all dropped
    assert cache.lookup(key_of("good")) == good


# A writer killed in the middle

_KILLED_WRITER = """
import pathlib, sys, time
from rust_hmr.cache import ArtifactCache, LocalStore, _local

root, marker, slow_call, key = sys.argv[1:5]
real_write_all = _local._write_all
calls = 0

def slow_write_all(fd, data):
    global calls
    calls += 1
    if calls != int(slow_call):
        return real_write_all(fd, data)
    half = len(data) // 2
    real_write_all(fd, data[:half])
    pathlib.Path(marker).write_text(str(half))
    time.sleep(60)  # killed here
    real_write_all(fd, data[half:])

_local._write_all = slow_write_all
big = bytes(range(256)) * 32768
ArtifactCache(LocalStore(pathlib.Path(root))).store(key, {"big.wasm": big, "small": b"s"})
"""


@pytest.mark.parametrize("killed_in", ["blob", "record"])
def test_killed_write_leaves_nothing_served(tmp_path: Path, log: Log, killed_in: str) -> None:
    """A build killed while it writes (the first output blob, or the record after all the
    blobs) leaves a temporary file, never an entry: nothing partial is ever read."""
    root, marker, key = tmp_path / "cache", tmp_path / "marker", key_of("killed")
    slow_call = {"blob": 1, "record": 3}[killed_in]  # writes: big, small, record
    child = subprocess.Popen([sys.executable, "-c", _KILLED_WRITER, str(root), str(marker),
                              str(slow_call), key], stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while not marker.exists():
        assert child.poll() is None, child.stderr.read().decode()  # type: ignore[union-attr]
        assert time.monotonic() < deadline, "the writer never got halfway"
        time.sleep(0.01)
    child.send_signal(signal.SIGKILL)
    child.wait()
    child.stderr.close()  # type: ignore[union-attr]

    cache = ArtifactCache(LocalStore(root), log=log)
    big = bytes(range(256)) * 32768
    temps = list(root.rglob(".tmp-*"))
    assert len(temps) == 1 and temps[0].stat().st_size == int(marker.read_text()) > 0
    assert cache.lookup(key) is None
    assert not cache.local.contains("ac", key)
    assert cache.get_blob(blob_hash(big)) == (big if killed_in == "record" else None)
    assert cache.verify() == []
    assert log == []  # nothing corrupt was ever looked at

    assert cache.local.gc(stale_temp_seconds=3600).temp_removed == 0  # may be a live write
    assert cache.local.gc(stale_temp_seconds=0).temp_removed == 1
    cache.store(key, {"big.wasm": big, "small": b"s"})
    assert cache.lookup(key) is not None


# Several processes at once


def _worker(root: str, me: int, start: multiprocessing.synchronize.Barrier,
            results: multiprocessing.Queue[list[str]]) -> None:
    """Stores shared entries (same key and bytes in every worker) and entries of its own,
    and reads what the others write meanwhile; reports every wrong answer."""
    errors: list[str] = []
    cache = ArtifactCache(LocalStore(Path(root)), log=errors.append)
    start.wait()
    for i in range(ROUNDS):
        shared = f"shared-{i % 5}"
        cache.store(key_of(shared), outputs_of(shared))
        cache.store(key_of(f"own-{me}-{i}"), outputs_of(f"own-{me}-{i}"))
        for tag in (shared, f"own-{(me + 1) % WORKERS}-{i}"):
            record = cache.lookup(key_of(tag))
            if record is None:
                if tag == shared:
                    errors.append(f"{tag}: miss right after storing it")
                continue
            got = {name: cache.get_blob(digest) for name, digest in record.outputs.items()}
            if got != outputs_of(tag):
                errors.append(f"{tag}: wrong outputs")
    results.put(errors)


def test_processes_writing_at_once(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    start, results = ctx.Barrier(WORKERS), ctx.Queue()
    workers = [ctx.Process(target=_worker, args=(str(tmp_path), me, start, results))
               for me in range(WORKERS)]
    for worker in workers:
        worker.start()
    reports = [results.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(30)
        assert worker.exitcode == 0
    results.close()
    assert reports == [[]] * WORKERS

    cache = ArtifactCache(LocalStore(tmp_path))
    tags = [f"shared-{i}" for i in range(5)]
    tags += [f"own-{me}-{i}" for me in range(WORKERS) for i in range(ROUNDS)]
    for tag in tags:
        record = cache.lookup(key_of(tag))
        assert record is not None, tag
        assert {n: cache.get_blob(h) for n, h in record.outputs.items()} == outputs_of(tag)
    assert cache.verify() == []
    stats = cache.local.stats()
    assert (stats.records, stats.temp_files) == (len(tags), 0)


# Size bound


def test_lru_eviction_keeps_the_recently_used(tmp_path: Path) -> None:
    store = LocalStore(tmp_path, max_bytes=10_000)
    a, b, c, d = (bytes([n]) * 3000 for n in range(4))
    for blob in (a, b, c):
        store.put("cas", blob_hash(blob), blob)
    assert store.stats().total_bytes == 9000  # under the bound: nothing evicted
    assert store.get("cas", blob_hash(a)) == a  # a is used again: b is now the oldest
    store.put("cas", blob_hash(d), d)  # 12000 > 10000: evict down to 90 %
    assert [store.contains("cas", blob_hash(x)) for x in (a, b, c, d)] == [
        True, False, True, True]
    assert store.stats().total_bytes <= 10_000


def test_eviction_through_the_cache(tmp_path: Path, log: Log) -> None:
    size = sum(map(len, outputs_of("x").values()))
    cache = ArtifactCache(LocalStore(tmp_path, max_bytes=int(size * 3.5)), log=log)
    for tag in ("one", "two", "three"):
        cache.store(key_of(tag), outputs_of(tag))
    assert cache.lookup(key_of("one")) is not None  # used: kept
    cache.store(key_of("four"), outputs_of("four"))
    assert cache.lookup(key_of("two")) is None  # least recently used: gone
    for tag in ("one", "three", "four"):
        assert cache.lookup(key_of(tag)) is not None, tag
    assert log == []


def test_gc_to_a_size(cache: ArtifactCache) -> None:
    for tag in ("one", "two", "three"):
        cache.store(key_of(tag), outputs_of(tag))
    cache.lookup(key_of("one"))
    size = sum(map(len, outputs_of("x").values()))
    result = cache.gc(max_bytes=size + 500)  # room for one action and its record
    assert result.removed >= 4 and result.kept_bytes <= size + 500
    assert cache.verify() == []  # no record outlived its blobs
    assert cache.lookup(key_of("one")) is not None
    assert cache.lookup(key_of("two")) is None and cache.lookup(key_of("three")) is None
    empty = cache.gc(max_bytes=0)
    assert (empty.kept, empty.kept_bytes) == (0, 0)
    assert cache.lookup(key_of("one")) is None
