"""The cache with a remote store: a real nginx (WebDAV PUT, bearer token), a closed port, a
server that never answers, and one that fails before it works."""

from __future__ import annotations

import http.server
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from nginx_server import (  # noqa: F401 (fixtures)
    NginxServer,
    free_port,
    nginx_cache_fixture,
    nginx_factory_fixture,
    nginx_server_fixture,
)

from rust_hmr.cache import (
    ArtifactCache,
    HttpStore,
    LocalStore,
    ReadOnlyStore,
    RemoteRefused,
    RemoteUnavailable,
    action_key,
    blob_hash,
)

OUTPUTS = {"main.wasm": b"\0asm" + bytes(range(256)) * 400, "symbols": b"\x80"}  # ~100 KiB
KEY = action_key("compile", 1, "tc", ["-O"], {"src": blob_hash(b"fn main() {}")})


class Log(list[str]):
    def __call__(self, message: str) -> None:
        self.append(message)


class Client:
    """An ArtifactCache with a fresh local store, as a build on another machine would have."""

    def __init__(self, tmp: Path, base_url: str, token: str | None, **options: object) -> None:
        self.log = Log()
        self.remote = HttpStore(base_url, token=token, **options)  # type: ignore[arg-type]
        self.cache = ArtifactCache(LocalStore(tmp), self.remote, log=self.log)


@pytest.fixture
def clients(tmp_path: Path) -> Iterator[list[Client]]:
    """Every client made in a test; their connections are closed at its end."""
    made: list[Client] = []
    yield made
    for client in made:
        client.cache.close()


def client(clients: list[Client], tmp_path: Path, base_url: str, token: str | None,
           **options: object) -> Client:
    made = Client(tmp_path / f"local-{len(clients)}", base_url, token, **options)
    clients.append(made)
    return made


# Sharing through the server


def test_remote_hit_is_verified_and_copied_locally(
    nginx_cache: tuple[str, str], nginx_server: NginxServer, clients: list[Client],
    tmp_path: Path,
) -> None:
    base, token = nginx_cache
    ci = client(clients, tmp_path, base, token)
    record = ci.cache.store(KEY, OUTPUTS, meta={"seconds": 2.0})
    puts = [r for r in nginx_server.requests(base) if r.method == "PUT"]
    assert [r.status for r in puts] == [201, 201, 201]
    assert puts[-1].path.endswith(f"/ac/{KEY}")  # the record goes last, after its blobs
    assert all(r.auth == "good" for r in puts)

    dev = client(clients, tmp_path, base, token)
    assert dev.cache.lookup(KEY) == record
    assert {n: dev.cache.get_blob(h) for n, h in record.outputs.items()} == OUTPUTS
    assert dev.cache.counters.remote_hits == 1
    assert dev.cache.local.contains("ac", KEY)
    assert all(dev.cache.local.contains("cas", h) for h in record.outputs.values())

    before = len(nginx_server.requests(base))
    assert dev.cache.lookup(KEY) == record  # now local: the server is not asked
    assert len(nginx_server.requests(base)) == before
    assert dev.cache.counters.local_hits == 1
    assert ci.log == dev.log == []


def test_push_skips_large_blobs_the_server_has(
    nginx_cache: tuple[str, str], nginx_server: NginxServer, clients: list[Client],
    tmp_path: Path,
) -> None:
    base, token = nginx_cache
    def pushed() -> list[tuple[str, str, int]]:
        return [(r.method, r.path.split("/")[2], r.status) for r in nginx_server.requests(base)]

    client(clients, tmp_path, base, token).cache.store(KEY, OUTPUTS)
    # The 100 KiB blob is asked about first; the 1-byte one and the record are just sent.
    assert pushed() == [("HEAD", "cas", 404), ("PUT", "cas", 201), ("PUT", "cas", 201),
                        ("PUT", "ac", 201)]
    other = action_key("compile", 1, "tc", ["-O2"], {})
    client(clients, tmp_path, base, token).cache.store(other, OUTPUTS)  # same outputs
    assert pushed()[4:] == [("HEAD", "cas", 200), ("PUT", "cas", 204), ("PUT", "ac", 201)]


def test_corrupt_remote_blob_is_not_used_and_is_replaced(
    nginx_cache: tuple[str, str], nginx_server: NginxServer, clients: list[Client],
    tmp_path: Path,
) -> None:
    base, token = nginx_cache
    record = client(clients, tmp_path, base, token).cache.store(KEY, OUTPUTS)
    digest = record.outputs["main.wasm"]
    on_server = nginx_server.file_of(base, "cas", digest)
    on_server.write_bytes(b"garbage" * 100)  # behind the server's back

    dev = client(clients, tmp_path, base, token)
    assert dev.cache.lookup(KEY) is None
    assert dev.cache.get_blob(digest) is None
    assert not dev.cache.local.contains("cas", digest)
    assert not dev.cache.local.contains("ac", KEY)
    assert len(dev.log) == 1  # a bad copy is warned about once, and not fetched again
    assert "corrupt" in dev.log[0] and digest in dev.log[0] and base in dev.log[0]

    dev.cache.store(KEY, OUTPUTS)  # the rebuild pushes the blob again, over the bad copy
    assert on_server.read_bytes() == OUTPUTS["main.wasm"]
    assert client(clients, tmp_path, base, token).cache.lookup(KEY) == record


def test_corrupt_remote_record_is_a_miss(
    nginx_cache: tuple[str, str], nginx_server: NginxServer, clients: list[Client],
    tmp_path: Path,
) -> None:
    base, token = nginx_cache
    client(clients, tmp_path, base, token).cache.store(KEY, OUTPUTS)
    nginx_server.file_of(base, "ac", KEY).write_bytes(b"\xffnot a record")
    dev = client(clients, tmp_path, base, token)
    assert dev.cache.lookup(KEY) is None
    assert len(dev.log) == 1 and "corrupt" in dev.log[0] and "ignored" in dev.log[0]
    assert not dev.cache.local.contains("ac", KEY)


# Who may write


def test_read_only_client_never_writes(
    nginx_cache: tuple[str, str], nginx_server: NginxServer, clients: list[Client],
    tmp_path: Path,
) -> None:
    base, token = nginx_cache
    record = client(clients, tmp_path, base, token).cache.store(KEY, OUTPUTS)
    before = nginx_server.requests(base)

    untrusted = client(clients, tmp_path, base, token, read_only=True)
    assert untrusted.cache.lookup(KEY) == record  # reads work
    other = action_key("compile", 1, "tc", ["--other"], {})
    untrusted.cache.store(other, {"x": b"built by an untrusted job"})
    assert untrusted.cache.lookup(other) is not None  # stored locally
    with pytest.raises(ReadOnlyStore):
        untrusted.remote.put("cas", blob_hash(b"y"), b"y")

    after = nginx_server.requests(base)[len(before):]
    assert after and {r.method for r in after} <= {"GET", "HEAD"}
    assert untrusted.log == []
    assert untrusted.cache.stats().remote_mode == "read-only"


@pytest.mark.parametrize("token", ["wrong-token", None])
def test_refused_token_is_reported_once(
    nginx_cache: tuple[str, str], nginx_server: NginxServer, clients: list[Client],
    tmp_path: Path, token: str | None,
) -> None:
    base, good_token = nginx_cache
    writer = client(clients, tmp_path, base, token)
    for n in range(3):
        writer.cache.store(action_key("s", 1, "", [str(n)], {}), {"out": bytes([n]) * 10})
    puts = [r for r in nginx_server.requests(base) if r.method == "PUT"]
    assert len(puts) == 1  # the first PUT was refused; no more were sent
    assert (puts[0].status, puts[0].auth) == (401, "bad" if token else "none")
    assert len(writer.log) == 1
    assert "401" in writer.log[0] and "RUST_HMR_CACHE_TOKEN" in writer.log[0]
    assert "writes to it are off" in writer.log[0]

    # Reads still go on: an entry pushed with the right token is found.
    client(clients, tmp_path, base, good_token).cache.store(KEY, OUTPUTS)
    assert writer.cache.lookup(KEY) is not None
    assert writer.cache.stats().remote_mode == "read-only after a refused write"
    with pytest.raises(RemoteRefused) as refused:
        writer.remote.put("cas", blob_hash(b"z"), b"z")
    assert refused.value.status == 401


def test_second_server_with_its_own_token(
    nginx_factory: object, clients: list[Client], tmp_path: Path,
) -> None:
    server = nginx_factory(token="s3cret-token")  # type: ignore[operator]
    writer = client(clients, tmp_path, server.url, "s3cret-token")
    writer.cache.store(KEY, OUTPUTS)
    assert writer.log == []
    assert [r.status for r in server.requests() if r.method == "PUT"] == [201, 201, 201]


# A server that is down, slow, or flaky


def test_server_down_costs_one_warning(tmp_path: Path, clients: list[Client]) -> None:
    down = client(clients, tmp_path, f"http://127.0.0.1:{free_port()}/cache", "t",
                  timeout=1.0, retries=2)
    start = time.monotonic()
    assert down.cache.lookup(KEY) is None
    record = down.cache.store(KEY, OUTPUTS)
    for _ in range(5):
        assert down.cache.lookup(KEY) == record  # the local store works
        down.cache.store(action_key("s", 1, "", [], {}), {"a": b"b"})
    assert time.monotonic() - start < 2
    assert len(down.log) == 1
    assert "connection refused" in down.log[0] and "tried 3 times" in down.log[0]
    assert down.cache.stats().remote_mode == "off after an error"
    with pytest.raises(RemoteUnavailable):
        down.remote.get("ac", KEY)


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A port that accepts connections and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_slow_server_costs_one_timeout(
    silent_server: str, tmp_path: Path, clients: list[Client],
) -> None:
    slow = client(clients, tmp_path, silent_server, None, timeout=0.3, retries=1)
    start = time.monotonic()
    assert slow.cache.lookup(KEY) is None
    first = time.monotonic() - start
    assert 0.3 <= first < 1.0  # the deadline covers the retries: one try of 0.3 s
    slow.cache.store(KEY, OUTPUTS)
    assert slow.cache.lookup(KEY) is not None
    assert time.monotonic() - start - first < 0.5  # the rest never waits on the server
    assert len(slow.log) == 1 and "no complete answer within 0.3 s" in slow.log[0]


class FlakyHandler(http.server.BaseHTTPRequestHandler):
    """503 for the first request, then a tiny in-memory cache."""

    calls = 0
    entries: dict[str, bytes] = {}

    def do_GET(self) -> None:
        type(self).calls += 1
        if type(self).calls == 1:
            self.send_error(503)
            return
        body = self.entries.get(self.path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_retries_after_a_5xx(tmp_path: Path, clients: list[Client]) -> None:
    digest = blob_hash(b"blob")
    FlakyHandler.entries = {f"/cas/{digest}": b"blob"}
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FlakyHandler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        flaky = client(clients, tmp_path, url, None, retries=1)
        assert flaky.cache.get_blob(digest) == b"blob"
        assert FlakyHandler.calls == 2 and flaky.log == []
        none = client(clients, tmp_path, url, None, retries=0)
        FlakyHandler.calls = 0
        assert none.cache.get_blob(digest) is None
        assert len(none.log) == 1 and "HTTP 503" in none.log[0] and "tried once" in none.log[0]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_bad_urls_are_refused() -> None:
    for url in ("ftp://host/x", "http://", "127.0.0.1:8080", "http://h/x?y=1"):
        with pytest.raises(ValueError):
            HttpStore(url)


def test_caches_from_settings_share_one_warning(tmp_path: Path) -> None:
    """Every cache a process makes from the same settings shares the remote's state."""
    (tmp_path / "Cargo.toml").write_text('[package]\nname = "a"\nversion = "0.1.0"\n')
    env = {"RUST_HMR_REMOTE_CACHE": f"http://127.0.0.1:{free_port()}/shared"}
    log = Log()
    caches = [ArtifactCache.from_settings(tmp_path, env=env, log=log) for _ in range(3)]
    try:
        assert caches[0].remote is caches[2].remote
        for cache in caches:
            assert cache.lookup(KEY) is None
        assert len(log) == 1 and "connection refused" in log[0]
    finally:
        caches[0].close()


def test_deadlines_come_from_the_environment(tmp_path: Path) -> None:
    """Also without a Cargo.toml; a bad value is a settings error, not a silent default."""
    from rust_hmr.settings import SettingsError

    env = {"RUST_HMR_REMOTE_CACHE": f"http://127.0.0.1:{free_port()}/deadlines",
           "RUST_HMR_REMOTE_TIMEOUT": "0.5", "RUST_HMR_REMOTE_DEADLINE": "7s"}
    with ArtifactCache.from_settings(tmp_path, env=env) as cache:
        assert cache.remote is not None
        assert (cache.remote.timeout, cache.remote.breaker.deadline) == (0.5, 7.0)
    env["RUST_HMR_REMOTE_TIMEOUT"] = "soon"
    with pytest.raises(SettingsError, match="RUST_HMR_REMOTE_TIMEOUT: expected a number of "
                                            "seconds above 0, got 'soon'"):
        ArtifactCache.from_settings(tmp_path, env=env)
