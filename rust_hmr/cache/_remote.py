"""The remote store: plain HTTP on `<base>/ac/<key>` and `<base>/cas/<hash>`.

GET reads (200, or 404 for a miss), HEAD asks, PUT writes (200, 201 or 204), so nginx with
WebDAV PUT or a Bazel-style HTTP cache serves it as is. The token goes with PUTs only, as
`Authorization: Bearer <token>`; reads carry none, and a read-only store sends no PUT at all
(`put` raises `ReadOnlyStore` before touching the network). A redirect is refused, never
followed, so the token can't reach another host.

What a slow, trickling or lying server can cost is bounded:
- each request has a deadline, `timeout` seconds plus one per MiB of its body (a PUT's, or a
  blob's whose size its record names), for connecting, every retry and the last byte; each
  socket read waits only until then, so a server that trickles a byte at a time can't
  stretch a request past it;
- bodies are capped: a record at `MAX_RECORD_BYTES`, a blob at the size its record names
  (else `max_blob`). A longer one is refused from its Content-Length, or as soon as it runs
  past, and never read whole (`CorruptEntry`: the cache ignores that entry);
- the circuit breaker (`Breaker`) turns the store off for the process after the first failed
  request, after `strike_limit` strikes (an answer that took over `slow` seconds, an entry
  that was corrupt or too long), or once the requests took `deadline` seconds in all (a long
  process earns `EARN_RATE` s more per second it runs); a refused write turns off writes
  only.

Retries: `retries` more tries after a connection failure or a 5xx, while the deadline lasts;
a 401/403/405 or a redirect is final. Connections are kept alive, one per thread (and per
process, after a fork).
"""

from __future__ import annotations

import contextlib
import functools
import http.client
import io
import math
import os
import socket
import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast
from urllib.parse import urlsplit

from rust_hmr.cache._errors import (
    CorruptEntry,
    ReadOnlyStore,
    RemoteError,
    RemoteRefused,
    RemoteUnavailable,
    quoted,
)
from rust_hmr.cache._store import Kind, Store

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

MAX_RECORD_BYTES = 1 << 20  # records are a few hundred bytes; anything near this is a lie
MAX_BLOB_BYTES = 512 << 20  # a blob whose record names no size
EARN_RATE = 0.1
_MIN_RATE = float(1 << 20)  # bytes per second a request's deadline allows for its body
_ERROR_BODY_BYTES = 4096  # read of an error answer, for its message
_CHUNK = 1 << 16
_RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})
_REFUSED = {
    401: "it does not take the token (check RUST_HMR_CACHE_TOKEN)",
    403: "the token has no right to do this",
    405: "the server takes no such method (nginx: `dav_methods PUT;`)",
}
_BACKOFF_SECONDS = 0.1


@dataclass
class Breaker:
    """The remote's health in this process: when it went down (or refused writes), how
    many answers were slow or bad, and how much of the time allowed for it is spent."""

    deadline: float  # seconds the remote may take in all (plus what a long run earns)
    strike_limit: int
    started: float = field(default_factory=time.monotonic)
    spent: float = 0.0
    slow: int = 0
    bad: int = 0
    down: RemoteError | None = None
    writes_refused: RemoteError | None = None

    def time_left(self, now: float) -> float:
        """Seconds the remote may still take."""
        return self.deadline + (now - self.started) * EARN_RATE - self.spent

    def struck_out(self) -> bool:
        return self.slow + self.bad >= self.strike_limit


@dataclass
class _Deadline:
    """When the request on a connection must be over; every socket wait is cut to it."""

    at: float = math.inf

    def left(self) -> float:
        left = self.at - time.monotonic()
        if left <= 0:
            raise TimeoutError("the request's deadline passed")
        return left


class _DeadlineReader(io.RawIOBase):
    """A socket's bytes, each receive waiting at most until the deadline. It holds the file
    http.client made of the socket, so the socket stays open until this reader closes (as
    http.client expects of a response to a request on a connection it then closes)."""

    def __init__(self, sock: socket.socket, deadline: _Deadline, holder: io.IOBase) -> None:
        super().__init__()
        self._sock = sock
        self._deadline = deadline
        self._holder = holder

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        self._sock.settimeout(self._deadline.left())
        return self._sock.recv_into(buffer)

    def close(self) -> None:
        self._holder.close()
        super().close()


class _Response(http.client.HTTPResponse):
    """http.client's response, reading through a `_DeadlineReader` (status line, headers
    and body alike: http.client's own reads would wait `timeout` per receive, forever)."""

    def __init__(self, sock: socket.socket, debuglevel: int = 0, method: str | None = None,
                 url: str | None = None, *, deadline: _Deadline) -> None:
        super().__init__(sock, debuglevel, method, url)
        self.fp = io.BufferedReader(_DeadlineReader(sock, deadline, self.fp), _CHUNK)


@dataclass(frozen=True)
class _Answer:
    status: int
    reason: str
    body: bytes  # the whole body of a 2xx; of anything else, its start
    complete: bool  # False when the body ran past its cap
    waited: float  # seconds from the request sent to the status line
    location: str
    content_type: str


class HttpStore(Store):
    """A remote cache server reached over HTTP(S) with the standard library's http.client.

    `base_url` may have a path (`http://cache:8080/rust-hmr`); entries go below it.
    """

    def __init__(self, base_url: str, token: str | None = None, read_only: bool = False,
                 timeout: float = 5.0, retries: int = 2, deadline: float = 15.0,
                 slow: float = 1.0, strike_limit: int = 3,
                 max_blob: int = MAX_BLOB_BYTES) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"a remote cache URL is http(s)://host[:port][/path], "
                             f"got {base_url!r}")
        if parts.query or parts.fragment:
            raise ValueError(f"a remote cache URL has no query or fragment: {base_url!r}")
        if retries < 0 or timeout <= 0 or deadline <= 0 or slow <= 0 or strike_limit < 1:
            raise ValueError("retries must be >= 0, strike_limit >= 1, timeout, deadline and "
                             "slow > 0")
        self.base_url = base_url.rstrip("/")
        self.token = token or None
        self.read_only = read_only
        self.timeout = timeout
        self.retries = retries
        self.slow = slow
        self.max_blob = max_blob
        self.breaker = Breaker(deadline, strike_limit)
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._prefix = parts.path.rstrip("/")
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: list[http.client.HTTPConnection] = []
        weakref.finalize(self, _close_all, self._open)

    def __str__(self) -> str:
        return f"remote cache {self.base_url}"

    def url(self, kind: Kind, key: str) -> str:
        """The entry's URL."""
        return f"{self.base_url}/{kind}/{key}"

    # The circuit breaker

    def available(self, write: bool = False) -> bool:
        """False once the server was found down (or, for writes, refused a write)."""
        if self.breaker.down is not None:
            return False
        return not (write and (self.read_only or self.breaker.writes_refused is not None))

    def disable(self, error: RemoteError, write: bool = False) -> bool:
        """Stop using the server after `error`: for everything, or only for writes when it
        refused a write. True the first time, so the caller warns once."""
        breaker = self.breaker
        with self._lock:
            if breaker.down is not None:
                return False
            if write and isinstance(error, RemoteRefused):
                if breaker.writes_refused is not None:
                    return False
                breaker.writes_refused = error
                return True
            breaker.down = error
            return True

    def close(self) -> None:
        """Closes the kept-alive connections (they reopen when needed)."""
        _close_all(self._open)

    def __enter__(self) -> HttpStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Store backend

    def get(self, kind: Kind, key: str, size: int | None = None) -> bytes | None:
        """The entry, as `Store.get`; a bad entry (corrupt, or longer than `size`) is also a
        strike against the server."""
        try:
            return super().get(kind, key, size)
        except CorruptEntry:
            with self._lock:
                self.breaker.bad += 1
            raise

    def _read(self, kind: Kind, key: str, size: int | None) -> bytes | None:
        if kind == "ac":
            cap, why = MAX_RECORD_BYTES, "a record"
        elif size is None:
            cap, why = self.max_blob, "a blob"
        else:
            cap, why = min(size, self.max_blob), "the blob its record names"
        status, body = self._request("GET", kind, key, cap=cap, expected=size or 0)
        if status == 200 and body is None:
            raise CorruptEntry(kind, key, str(self),
                               f"the server sent more than the {cap:,} bytes of {why}")
        return body if status == 200 else None

    def _exists(self, kind: Kind, key: str) -> bool:
        return self._request("HEAD", kind, key)[0] == 200

    def _write(self, kind: Kind, key: str, data: bytes) -> None:
        if self.read_only:
            raise ReadOnlyStore(f"{self} is read-only: no PUT of {kind}/{key}")
        self._request("PUT", kind, key, body=data)

    # HTTP

    def _request(self, method: str, kind: Kind, key: str, body: bytes | None = None,
                 cap: int = 0, expected: int = 0) -> tuple[int, bytes | None]:
        """(status, body) of a 2xx or 404 answer, the body None when it ran past `cap`;
        `RemoteError` for anything else. Counts its time and its slowness."""
        start = time.monotonic()
        allowed = self.timeout + (len(body) if body is not None else expected) / _MIN_RATE
        given = min(allowed, self._time_left(start))
        try:
            return self._tries(method, kind, key, body, cap, start + given,
                               self._given(given, allowed))
        finally:
            with self._lock:
                self.breaker.spent += time.monotonic() - start

    def _given(self, given: float, allowed: float) -> str:
        """How long a request was given, for the message when it runs out."""
        if given >= allowed:
            return f"{_seconds(given)} s"
        return (f"{_seconds(given)} s, all that was left of this run's time for the remote "
                f"(remote-cache-deadline, {_seconds(self.breaker.deadline)} s)")

    def _time_left(self, now: float) -> float:
        """The time the breaker still allows; `RemoteUnavailable` when it allows none."""
        breaker = self.breaker
        if breaker.struck_out():
            strikes = []
            if breaker.slow:
                strikes.append(f"{breaker.slow} answers took over {_seconds(self.slow)} s each")
            if breaker.bad:
                strikes.append(f"{breaker.bad} entries were corrupt or too long")
            raise RemoteUnavailable(f"{self.base_url} is unreliable: {' and '.join(strikes)}")
        left = breaker.time_left(now)
        if left <= 0:
            raise RemoteUnavailable(f"{self.base_url} is too slow: its requests took "
                                    f"{_seconds(breaker.spent)} s in all, more than this run "
                                    f"allows (remote-cache-deadline, "
                                    f"{_seconds(breaker.deadline)} s)")
        return left

    def _tries(self, method: str, kind: Kind, key: str, body: bytes | None, cap: int,
               deadline: float, given: str) -> tuple[int, bytes | None]:
        path = f"{self._prefix}/{kind}/{key}"
        headers = {"User-Agent": "rust-hmr-cache"}
        if method == "PUT":
            headers["Content-Type"] = "application/octet-stream"
            if self.token:
                headers["Authorization"] = f"Bearer {self.token}"
        failure, tried = "", 0
        for attempt in range(self.retries + 1):
            pause = _BACKOFF_SECONDS * 2 ** (attempt - 1) if attempt else 0.0
            if time.monotonic() + pause >= deadline:
                break
            time.sleep(pause)
            tried += 1
            try:
                answer = self._exchange(method, path, body, headers, cap, deadline)
            except (OSError, http.client.HTTPException) as err:
                failure = self._describe(err, given)
                continue
            if answer.waited > self.slow:
                with self._lock:
                    self.breaker.slow += 1
            status = answer.status
            if status in _REFUSED or 300 <= status < 400:
                raise RemoteRefused(self._refusal(method, answer), status)
            if status in _RETRY_STATUS:
                failure = f"HTTP {status}{_detail(answer)}"
                continue
            if 200 <= status < 300 or status == 404:
                return status, answer.body if answer.complete else None
            raise RemoteError(f"{self.base_url}: {method} /{kind}/{key[:16]}... answered "
                              f"HTTP {status}{_detail(answer)}", status)
        if not tried:
            failure = failure or self._describe(TimeoutError(), given)
        times = "once" if tried == 1 else f"{tried} times"
        raise RemoteUnavailable(f"{self.base_url} is unavailable: {failure} (tried {times})")

    def _refusal(self, method: str, answer: _Answer) -> str:
        status = answer.status
        if 300 <= status < 400:
            where = f" to {quoted(answer.location)}" if answer.location else ""
            return (f"{self.base_url} answered a {method} with a redirect (HTTP {status}"
                    f"{where}): redirects are not followed, so that the token never goes to "
                    f"another host; set remote-cache to the final URL")
        why = _REFUSED[status]
        if status == 401 and method != "PUT":
            why = ("it wants a token for reads, and the token goes with writes only "
                   "(the server must let anyone GET and HEAD)")
        elif status == 401 and not self.token:
            why = "no token was sent (set RUST_HMR_CACHE_TOKEN)"
        return f"{self.base_url} refused a {method} with HTTP {status}: {why}{_said(answer)}"

    def _exchange(self, method: str, path: str, body: bytes | None, headers: dict[str, str],
                  cap: int, deadline: float) -> _Answer:
        """One request on this thread's connection. A kept-alive connection the server
        closed meanwhile fails at once; that costs a reconnect, not one of the retries."""
        conn, reused = self._connection()
        while True:
            self._local.deadline.at = deadline
            try:
                answer, done = self._send(conn, method, path, body, headers, cap)
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self._forget(conn)
                if not reused:
                    raise
                conn, reused = self._connection()
                continue
            except BaseException:
                self._forget(conn)
                raise
            if not done:
                self._forget(conn)
            return answer

    def _send(self, conn: http.client.HTTPConnection, method: str, path: str,
              body: bytes | None, headers: dict[str, str], cap: int) -> tuple[_Answer, bool]:
        """The answer, and whether the connection can carry another request."""
        left = self._local.deadline.left()
        if conn.sock is None:
            conn.timeout = left  # connect (and TLS handshake) within the deadline
        else:
            conn.sock.settimeout(left)  # sendall: the whole body within it
        conn.request(method, path, body=body, headers=headers)
        sent = time.monotonic()
        response = conn.getresponse()
        waited = time.monotonic() - sent
        if not 200 <= response.status < 300:
            cap = _ERROR_BODY_BYTES
        data, complete = _read_capped(response, cap)
        answer = _Answer(response.status, response.reason or "", data, complete, waited,
                         response.getheader("Location") or "",
                         response.getheader("Content-Type") or "")
        return answer, complete and not response.will_close

    def _connection(self) -> tuple[http.client.HTTPConnection, bool]:
        """This thread's connection, and whether it was used before."""
        conn = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == os.getpid():
            return conn, True
        cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        conn = cls(self._host, self._port, timeout=self.timeout)
        deadline = _Deadline()
        response_class = functools.partial(_Response, deadline=deadline)
        # typeshed says a class; http.client only calls it like one, which the partial does
        conn.response_class = cast(type[http.client.HTTPResponse], response_class)
        self._local.conn, self._local.pid, self._local.deadline = conn, os.getpid(), deadline
        with self._lock:
            self._open.append(conn)
        return conn, False

    def _forget(self, conn: http.client.HTTPConnection) -> None:
        conn.close()
        if getattr(self._local, "conn", None) is conn:
            self._local.conn = None
        with self._lock, contextlib.suppress(ValueError):
            self._open.remove(conn)

    def _describe(self, err: BaseException, given: str) -> str:
        if isinstance(err, ConnectionRefusedError):
            return "connection refused"
        if isinstance(err, TimeoutError | socket.timeout):
            return f"no complete answer within {given}"
        if isinstance(err, socket.gaierror):
            return f"unknown host {self._host!r}"
        if isinstance(err, http.client.HTTPException):  # its text is the server's bytes
            text = str(err)
            return f"{type(err).__name__}: {quoted(text)}" if text else type(err).__name__
        return f"{type(err).__name__}: {err}" if str(err) else type(err).__name__


def _read_capped(response: http.client.HTTPResponse, cap: int) -> tuple[bytes, bool]:
    """Up to `cap` bytes of the body, and whether that was all of it. A body that says it
    is longer is not read at all; one that does not say is read to one byte past `cap`."""
    if response.length is not None and response.length > cap:
        return b"", False
    chunks: list[bytes] = []
    total = 0
    while total <= cap:
        chunk = response.read(min(_CHUNK, cap + 1 - total))
        if not chunk:
            return b"".join(chunks), True
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)[:cap], False


def _detail(answer: _Answer) -> str:
    """The reason phrase, and what the body says, of an answer that is not a success."""
    reason = f" {quoted(answer.reason)}" if answer.reason else ""
    return reason + _said(answer)


def _said(answer: _Answer) -> str:
    """What a short, non-HTML error body says (Bazel-style caches answer plain text)."""
    if not answer.body.strip() or answer.content_type.lower().startswith("text/html"):
        return ""
    more = "" if answer.complete else "..."
    return f"; the server says {quoted(answer.body.strip())}{more}"


def _seconds(value: float) -> str:
    """0.3 -> "0.3", 5.0 -> "5", 9.77 -> "9.8"."""
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _close_all(connections: list[http.client.HTTPConnection]) -> None:
    for conn in list(connections):
        conn.close()
    connections.clear()
