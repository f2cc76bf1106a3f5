"""The fault matrix of the artifact cache: what a user sees when the cache is read-only and
holds a bad entry, when the remote is slow, trickles, lies about sizes, sends control
characters, or redirects elsewhere.

Where it is cheap, a real `rust-hmr bundle` of a copy of examples/counter runs, and the test
asserts on what it printed and on dist/ (byte for byte the reference bundle). The remote is
`FaultServer` below (an in-memory cache on 127.0.0.1 that misbehaves on request) or a real
nginx (for what reaches the server's access log).

A read-only cache for real: tests may run as root, and root ignores file modes (the
CAP_DAC_OVERRIDE capability). So the cache is chmod'ed read-only and, when this process is
root, the build runs under `setpriv --bounding-set=-dac_override`: without that capability,
root is held to the modes like any owner. (Also possible, and not used: `chattr +i`, which
needs ext4-like file systems and leaves files the test cleanup can't delete; a read-only bind
mount, which needs a mount namespace.) A probe checks that writes really fail that way.
"""

from __future__ import annotations

import http.server
import os
import shutil
import socket
import stat
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import EXAMPLES, copy_crate
from nginx_server import NginxServer, nginx_server_fixture  # noqa: F401 (fixture)

from rust_hmr.cache import (
    ActionRecord,
    ArtifactCache,
    HttpStore,
    LocalStore,
    RemoteUnavailable,
    blob_hash,
)

CACHE_ENV = ("RUST_HMR_REMOTE_CACHE", "RUST_HMR_CACHE_TOKEN", "RUST_HMR_CACHE_READ_ONLY")
CONTROL = "\x1b]0;owned\x07\x1b[2J\x00\x08"  # set the title, clear the screen, NUL, backspace
HUGE = 300 * 1024 * 1024


# --- running a bundle ---------------------------------------------------------------------


@dataclass
class Run:
    code: int
    stderr: str
    seconds: float

    @property
    def warnings(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if "warning" in line]


def bundle(crate: Path, *options: str, env: dict[str, str] | None = None,
           prefix: tuple[str, ...] = ()) -> Run:
    """`rust-hmr bundle CRATE OPTIONS` in a process of its own, without the caller's cache
    environment."""
    clean = {k: v for k, v in os.environ.items() if k not in CACHE_ENV}
    cmd = [*prefix, sys.executable, "-m", "rust_hmr", "bundle", str(crate), *options]
    start = time.monotonic()
    done = subprocess.run(cmd, env={**clean, **(env or {})}, capture_output=True, text=True,
                          timeout=300, check=False)
    return Run(done.returncode, done.stderr, time.monotonic() - start)


def dist_of(crate: Path) -> dict[str, bytes]:
    root = crate / "dist"
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def assert_built(run: Run, crate: Path, reference: dict[str, bytes]) -> None:
    assert run.code == 0, run.stderr
    assert "Traceback" not in run.stderr
    assert dist_of(crate) == reference


@dataclass(frozen=True)
class Reference:
    """examples/counter bundled once with no remote: its sources (a snapshot every test
    copies, so an edit of the example meanwhile changes nothing here), dist/ and warm cache."""

    source: Path
    dist: dict[str, bytes]
    cache: Path


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Reference:
    where = tmp_path_factory.mktemp("reference")
    source = copy_crate(EXAMPLES / "counter", where / "source")
    crate = copy_crate(source, where / "counter")
    run = bundle(crate)
    assert run.code == 0, run.stderr
    assert run.warnings == []
    return Reference(source, dist_of(crate), crate / "target" / "rust-hmr" / "cache")


@pytest.fixture
def crate(tmp_path: Path, reference: Reference) -> Path:
    return copy_crate(reference.source, tmp_path / "counter")


# --- 3. a read-only local cache with one bad entry ----------------------------------------


def unwritable_prefix() -> tuple[str, ...]:
    """What runs a command so that file modes bind it (see the module docstring)."""
    if os.geteuid() != 0:
        return ()
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.fail("running as root, the read-only tests need setpriv (util-linux) to drop "
                    "CAP_DAC_OVERRIDE")
    return (setpriv, "--bounding-set=-dac_override", "--")


def make_read_only(root: Path) -> None:
    for path in [root, *root.rglob("*")]:
        mode = path.stat().st_mode
        path.chmod(stat.S_IMODE(mode) & ~0o222)


def make_writable(root: Path) -> None:
    for path in [root, *root.rglob("*")]:
        path.chmod(stat.S_IMODE(path.stat().st_mode) | stat.S_IWUSR)


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def record_of(cache: Path, output: str) -> tuple[str, ActionRecord]:
    """The key and record of the action that has `output` among its outputs."""
    local = LocalStore(cache)
    for entry in local.entries():
        if entry.kind == "ac":
            record = ActionRecord.from_msgpack(entry.path.read_bytes())
            if output in record.outputs:
                return entry.key, record
    raise AssertionError(f"no record with an output {output!r} in {cache}")


def corrupt_blob(cache: Path) -> None:
    _, record = record_of(cache, "counter.wasm")
    path = LocalStore(cache).path("cas", record.outputs["counter.wasm"])
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def remove_blob(cache: Path) -> None:
    _, record = record_of(cache, "module.wasm")
    for digest in record.outputs.values():
        LocalStore(cache).path("cas", digest).unlink()


def truncate_record(cache: Path) -> None:
    key, _ = record_of(cache, "manifest.json")
    path = LocalStore(cache).path("ac", key)
    path.write_bytes(path.read_bytes()[:20])


@pytest.fixture
def read_only_cache(crate: Path, reference: Reference) -> Iterator[Path]:
    """The crate's cache: a copy of the warm one, read-only for the build (probed)."""
    cache = crate / "target" / "rust-hmr" / "cache"
    shutil.copytree(reference.cache, cache)
    yield cache
    make_writable(cache)  # so that pytest can clean up


@pytest.mark.slow
@pytest.mark.parametrize("fault", [corrupt_blob, remove_blob, truncate_record],
                         ids=["corrupt-blob", "missing-blob", "truncated-record"])
def test_read_only_cache_with_a_bad_entry_builds_with_one_warning(
    fault: Callable[[Path], None], crate: Path, read_only_cache: Path, reference: Reference,
) -> None:
    fault(read_only_cache)
    make_read_only(read_only_cache)
    prefix = unwritable_prefix()
    probe = subprocess.run([*prefix, sys.executable, "-c",
                            f"open({str(read_only_cache / 'ac' / 'probe')!r}, 'w')"],
                           capture_output=True, text=True, check=False)
    assert probe.returncode != 0 and "PermissionError" in probe.stderr, "cache is writable"
    before = snapshot(read_only_cache)

    run = bundle(crate, prefix=prefix)
    assert_built(run, crate, reference.dist)
    assert len(run.warnings) == 1, run.stderr
    assert "read-only" in run.warnings[0] and "Permission denied" in run.warnings[0]
    if fault is not remove_blob:
        assert "corrupt entry" in run.warnings[0] and "counts as a miss" in run.warnings[0], \
            run.stderr
    assert snapshot(read_only_cache) == before  # nothing was written, nothing dropped


def test_verify_of_a_read_only_cache_is_a_one_line_error(
    crate: Path, read_only_cache: Path,
) -> None:
    corrupt_blob(read_only_cache)
    make_read_only(read_only_cache)
    done = subprocess.run([*unwritable_prefix(), sys.executable, "-m", "rust_hmr", "cache",
                           "verify", str(crate)], capture_output=True, text=True, check=False)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"Error: cannot change {read_only_cache}: Permission denied"]


# --- a remote that misbehaves -------------------------------------------------------------


@dataclass
class Fault:
    """How the server answers the requests `applies` picks (by method and path)."""

    applies: Callable[[str, str], bool] = lambda method, path: True
    delay: float = 0.0  # before the answer
    trickle: float = 0.0  # seconds per byte of the answer
    status: int | None = None  # instead of the real answer
    reason: str = ""
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    stream: int = 0  # a body of this many bytes (zeros), sent in chunks
    declare: bool = True  # with a Content-Length for `stream`


@dataclass
class Seen:
    method: str
    path: str
    authorization: str | None


class FaultServer:
    """An HTTP cache in memory (GET/HEAD/PUT on /ac/<key>, /cas/<hash>) on 127.0.0.1 or
    another loopback address, answering as `fault` says."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.entries: dict[str, bytes] = {}
        self.fault: Fault | None = None
        self.seen: list[Seen] = []
        self.streamed = 0  # bytes of `stream` bodies the socket took
        handler = type("Handler", (_Handler,), {"owner": self})
        self.httpd = http.server.ThreadingHTTPServer((host, 0), handler)
        self.httpd.daemon_threads = True
        self.url = f"http://{host}:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,),
                                       daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


class _Handler(http.server.BaseHTTPRequestHandler):
    owner: FaultServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._answer()

    do_HEAD = do_PUT = do_GET

    def log_message(self, *args: object) -> None:
        pass

    def _answer(self) -> None:
        server = self.owner
        length = int(self.headers.get("Content-Length") or 0)
        body_in = self.rfile.read(length) if length else b""
        server.seen.append(Seen(self.command, self.path, self.headers.get("Authorization")))
        fault = server.fault
        if fault is not None and not fault.applies(self.command, self.path):
            fault = None
        if fault is not None and fault.status is not None:
            status, reason, body = fault.status, fault.reason or "Nope", fault.body
        else:
            status, reason, body = self._normal(body_in)
        headers = dict(fault.headers) if fault is not None else {}
        if fault is not None and fault.stream:
            self._stream(status, fault)
            return
        headers.setdefault("Content-Length", str(len(body)))
        head = f"HTTP/1.1 {status} {reason}\r\n" + "".join(
            f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        data = head.encode("latin-1") + (b"" if self.command == "HEAD" else body)
        if fault is not None:
            time.sleep(fault.delay)
        self._send(data, fault.trickle if fault else 0.0)

    def _normal(self, body_in: bytes) -> tuple[int, str, bytes]:
        entries = self.owner.entries
        if self.command == "PUT":
            entries[self.path] = body_in
            return 201, "Created", b""
        if self.path in entries:
            return 200, "OK", entries[self.path]
        return 404, "Not Found", b""

    def _send(self, data: bytes, trickle: float) -> None:
        try:
            if not trickle:
                self.wfile.write(data)
                return
            for i in range(len(data)):
                self.wfile.write(data[i:i + 1])
                self.wfile.flush()
                time.sleep(trickle)
        except OSError:
            self.close_connection = True

    def _stream(self, status: int, fault: Fault) -> None:
        length = f"Content-Length: {fault.stream}\r\n" if fault.declare else ""
        head = f"HTTP/1.1 {status} OK\r\n{length}Connection: close\r\n\r\n"
        self.close_connection = True
        chunk = bytes(1 << 16)
        try:
            self.wfile.write(head.encode())
            sent = 0
            while sent < fault.stream:
                self.wfile.write(chunk)
                sent += len(chunk)
                self.owner.streamed += len(chunk)
        except OSError:
            pass


@pytest.fixture
def fault_server() -> Iterator[FaultServer]:
    server = FaultServer()
    yield server
    server.stop()


def remote_env(server: FaultServer | NginxServer, token: str | None = None,
               **more: str) -> dict[str, str]:
    env = {"RUST_HMR_REMOTE_CACHE": server.url, **more}
    if token:
        env["RUST_HMR_CACHE_TOKEN"] = token
    return env


# --- 4. a slow remote costs a bounded time ------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(("fault", "deadline", "cost", "said"), [
    (Fault(delay=3.0), 2.0, 2.0, "no complete answer within 2 s"),  # every answer after 3 s
    (Fault(trickle=0.5), 2.0, 2.0, "no complete answer within 2 s"),  # a byte every 0.5 s
    (Fault(delay=0.8), 2.0, 2.0, "remote-cache-deadline, 2 s"),  # not slow, but adds up
    (Fault(delay=1.2), 15.0, 3.6, "3 answers took over 1 s each"),  # slow: the breaker
], ids=["slow-answers", "trickle", "run-deadline", "breaker"])
def test_slow_remote_costs_at_most_the_deadline_and_one_warning(
    fault: Fault, deadline: float, cost: float, said: str, crate: Path,
    fault_server: FaultServer, reference: Reference, tmp_path: Path,
) -> None:
    fault_server.fault = fault
    env = remote_env(fault_server, RUST_HMR_REMOTE_DEADLINE=str(deadline))
    run = bundle(crate, env=env)
    assert_built(run, crate, reference.dist)
    assert len(run.warnings) == 1, run.stderr
    assert said in run.warnings[0] and "it is off for this run" in run.warnings[0]
    # The same cold build without a remote, right after: the remote may add `cost` (its
    # deadline, or the breaker's three slow answers), and some noise of a loaded machine.
    alone = bundle(copy_crate(reference.source, tmp_path / "alone"))
    assert run.seconds < alone.seconds + cost + 2.5, (run.seconds, alone.seconds, run.stderr)


def test_request_deadline_holds_against_a_trickle(fault_server: FaultServer) -> None:
    fault_server.fault = Fault(trickle=0.05)
    with HttpStore(fault_server.url, timeout=0.5, retries=2) as remote:
        start = time.monotonic()
        with pytest.raises(RemoteUnavailable, match=r"no complete answer within 0\.5 s"):
            remote.get("ac", "ab" * 32)
        assert time.monotonic() - start < 0.8  # one deadline, the retries inside it


# --- 4. an oversize body is refused, never buffered ---------------------------------------


def warm(server: FaultServer, reference: Reference, tmp_path: Path) -> None:
    """The server holds what a bundle of the reference pushes."""
    crate = copy_crate(reference.source, tmp_path / "warm")
    run = bundle(crate, env=remote_env(server, "t"))
    assert run.code == 0 and run.warnings == [], run.stderr
    assert any("/ac/" in path for path in server.entries)


@pytest.mark.slow
@pytest.mark.parametrize("declare", [True, False], ids=["content-length", "no-length"])
def test_oversize_blob_is_refused_and_rebuilt(
    declare: bool, crate: Path, fault_server: FaultServer, reference: Reference,
    tmp_path: Path,
) -> None:
    warm(fault_server, reference, tmp_path)
    record = record_of(reference.cache, "counter.wasm")[1]
    big, size = record.outputs["counter.wasm"], record.sizes["counter.wasm"]
    fault_server.fault = Fault(applies=lambda method, path: path.endswith(f"/cas/{big}"),
                               status=200, stream=HUGE, declare=declare)
    run = bundle(crate, env=remote_env(fault_server))
    assert_built(run, crate, reference.dist)
    assert len(run.warnings) == 1, run.stderr
    assert f"cas/{big}" in run.warnings[0] and f"more than the {size:,} bytes" in run.warnings[0]
    assert fault_server.streamed < 64 * 1024 * 1024  # the client hung up early


@pytest.mark.parametrize("declare", [True, False], ids=["content-length", "no-length"])
def test_oversize_body_is_not_buffered(declare: bool, fault_server: FaultServer,
                                       tmp_path: Path) -> None:
    data = b"the real blob" * 100
    key = "ab" * 32
    record = ActionRecord({"out": blob_hash(data)}, {}, {"out": len(data)})
    fault_server.entries[f"/ac/{key}"] = record.to_msgpack()
    fault_server.fault = Fault(applies=lambda method, path: "/cas/" in path, status=200,
                               stream=HUGE, declare=declare)
    log: list[str] = []
    with HttpStore(fault_server.url, timeout=5) as remote:
        cache = ArtifactCache(LocalStore(tmp_path / "cache"), remote, log=log.append)
        tracemalloc.start()
        try:
            assert cache.lookup(key) is None
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert peak < 4 * 1024 * 1024
    assert fault_server.streamed < 64 * 1024 * 1024
    assert len(log) == 1 and f"more than the {len(data):,} bytes" in log[0]
    assert "ignored it" in log[0]


# --- 6. what a server sends is escaped before it is printed -------------------------------


@pytest.mark.slow
def test_control_characters_from_the_server_are_escaped(
    crate: Path, fault_server: FaultServer, reference: Reference,
) -> None:
    fault_server.fault = Fault(status=500, reason=f"Bad{CONTROL[:5]}", body=CONTROL.encode(),
                               headers={"Content-Type": "text/plain"})
    run = bundle(crate, env=remote_env(fault_server))
    assert_built(run, crate, reference.dist)
    assert len(run.warnings) == 1, run.stderr
    assert not any(c in run.stderr for c in "\x1b\x07\x00\x08")
    assert "HTTP 500" in run.warnings[0]
    assert r"\x1b]0;owned\x07\x1b[2J\x00\x08" in run.warnings[0]  # shown, escaped


def test_a_garbage_status_line_is_escaped(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(4)
        port = sock.getsockname()[1]

        def answer() -> None:
            for _ in range(3):
                conn, _ = sock.accept()
                with conn:
                    conn.recv(65536)
                    conn.sendall(f"HTTP/1.1 2{CONTROL}00 OK\r\n\r\n".encode("latin-1"))

        thread = threading.Thread(target=answer, daemon=True)
        thread.start()
        log: list[str] = []
        with HttpStore(f"http://127.0.0.1:{port}", timeout=2) as remote:
            cache = ArtifactCache(LocalStore(tmp_path / "cache"), remote, log=log.append)
            assert cache.lookup("ab" * 32) is None
        thread.join(5)
    assert len(log) == 1 and log[0].isprintable()
    assert "BadStatusLine" in log[0] and r"\x1b]0;owned" in log[0]


# --- 8. the token goes with writes, to the configured host only ---------------------------


@pytest.mark.slow
def test_token_is_sent_with_writes_only(
    crate: Path, nginx_server: NginxServer, reference: Reference, tmp_path: Path,
) -> None:
    base = nginx_server.new_prefix()
    env = {"RUST_HMR_REMOTE_CACHE": base, "RUST_HMR_CACHE_TOKEN": nginx_server.token}
    writer = copy_crate(reference.source, tmp_path / "writer")
    assert bundle(writer, env=env).warnings == []
    pushed = nginx_server.requests(base)
    assert {r.method for r in pushed} >= {"GET", "PUT"}
    assert all(r.auth == ("good" if r.method == "PUT" else "none") for r in pushed), pushed

    run = bundle(crate, env={**env, "RUST_HMR_CACHE_READ_ONLY": "1"})
    assert_built(run, crate, reference.dist)
    assert run.warnings == []
    read = nginx_server.requests(base)[len(pushed):]
    assert read and {r.method for r in read} <= {"GET", "HEAD"}
    assert {r.auth for r in read} == {"none"}  # a read-only job never shows its token


@pytest.mark.slow
def test_token_never_follows_a_redirect_to_another_host(
    crate: Path, fault_server: FaultServer, reference: Reference,
) -> None:
    elsewhere = FaultServer("127.0.0.2")
    try:
        fault_server.fault = Fault(applies=lambda method, path: method == "PUT", status=307,
                                   reason="Temporary Redirect",
                                   headers={"Location": f"{elsewhere.url}/cas/x"})
        run = bundle(crate, env=remote_env(fault_server, "s3cret"))
        assert_built(run, crate, reference.dist)
        assert elsewhere.seen == []
    finally:
        elsewhere.stop()
    puts = [s for s in fault_server.seen if s.method == "PUT"]
    assert len(puts) == 1 and puts[0].authorization == "Bearer s3cret"
    assert all(s.authorization is None for s in fault_server.seen if s.method != "PUT")
    assert len(run.warnings) == 1, run.stderr
    assert "redirect" in run.warnings[0] and "127.0.0.2" in run.warnings[0]
    assert "writes to it are off" in run.warnings[0]
