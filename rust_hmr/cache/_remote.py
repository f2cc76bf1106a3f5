"""The remote store: plain HTTP on `<base>/ac/<key>` and `<base>/cas/<hash>`.

GET reads (200, or 404 for a miss), HEAD asks, PUT writes (200, 201 or 204), so nginx with
WebDAV PUT or a Bazel-style HTTP cache serves it as is. With a token every request carries
`Authorization: Bearer <token>` (servers usually check it on writes only). A read-only store
never sends a PUT: `put` raises `ReadOnlyStore` before touching the network.

Each request gets `timeout` seconds per socket operation and `retries` more tries after a
connection failure, a timeout or a 5xx; a 401/403/405 is final. Connections are kept alive,
one per thread (and per process, after a fork).

The store also carries the "circuit breaker" the cache consults: after the first failure
(`disable`) it reports itself unavailable, so a down or refusing server costs one warning
and one timeout per process, not one per request.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import socket
import threading
import time
import weakref
from urllib.parse import urlsplit

from rust_hmr.cache._errors import ReadOnlyStore, RemoteError, RemoteRefused, RemoteUnavailable
from rust_hmr.cache._store import Kind, Store

_RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})
_REFUSED = {
    401: "it does not take the token (check RUST_HMR_CACHE_TOKEN)",
    403: "the token has no right to do this",
    405: "the server takes no such method (nginx: `dav_methods PUT;`)",
}
_BACKOFF_SECONDS = 0.1


class HttpStore(Store):
    """A remote cache server reached over HTTP(S) with the standard library's http.client.

    `base_url` may have a path (`http://cache:8080/rust-hmr`); entries go below it.
    """

    def __init__(self, base_url: str, token: str | None = None, read_only: bool = False,
                 timeout: float = 5.0, retries: int = 2) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"a remote cache URL is http(s)://host[:port][/path], "
                             f"got {base_url!r}")
        if parts.query or parts.fragment:
            raise ValueError(f"a remote cache URL has no query or fragment: {base_url!r}")
        if retries < 0 or timeout <= 0:
            raise ValueError("retries must be >= 0 and timeout > 0")
        self.base_url = base_url.rstrip("/")
        self.token = token or None
        self.read_only = read_only
        self.timeout = timeout
        self.retries = retries
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._prefix = parts.path.rstrip("/")
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: list[http.client.HTTPConnection] = []
        self._down: RemoteError | None = None
        self._writes_refused: RemoteError | None = None
        weakref.finalize(self, _close_all, self._open)

    def __str__(self) -> str:
        return f"remote cache {self.base_url}"

    def url(self, kind: Kind, key: str) -> str:
        """The entry's URL."""
        return f"{self.base_url}/{kind}/{key}"

    # The circuit breaker

    def available(self, write: bool = False) -> bool:
        """False once the server was found down (or, for writes, refused a write)."""
        if self._down is not None:
            return False
        return not (write and (self.read_only or self._writes_refused is not None))

    def disable(self, error: RemoteError, write: bool = False) -> bool:
        """Stop using the server after `error`: for everything, or only for writes when it
        refused a write. True the first time, so the caller warns once."""
        with self._lock:
            if self._down is not None:
                return False
            if write and isinstance(error, RemoteRefused):
                if self._writes_refused is not None:
                    return False
                self._writes_refused = error
                return True
            self._down = error
            return True

    def close(self) -> None:
        """Closes the kept-alive connections (they reopen when needed)."""
        _close_all(self._open)

    def __enter__(self) -> HttpStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Store backend

    def _read(self, kind: Kind, key: str) -> bytes | None:
        status, body = self._request("GET", kind, key)
        return body if status == 200 else None

    def _exists(self, kind: Kind, key: str) -> bool:
        return self._request("HEAD", kind, key)[0] == 200

    def _write(self, kind: Kind, key: str, data: bytes) -> None:
        if self.read_only:
            raise ReadOnlyStore(f"{self} is read-only: no PUT of {kind}/{key}")
        self._request("PUT", kind, key, data)

    # HTTP

    def _request(self, method: str, kind: Kind, key: str,
                 body: bytes | None = None) -> tuple[int, bytes]:
        """(status, body) of a 2xx or 404 answer; `RemoteError` for anything else."""
        path = f"{self._prefix}/{kind}/{key}"
        headers = {"User-Agent": "rust-hmr-cache"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if body is not None:
            headers["Content-Type"] = "application/octet-stream"
        failure = ""
        tries = self.retries + 1
        for attempt in range(tries):
            if attempt:
                time.sleep(_BACKOFF_SECONDS * 2 ** (attempt - 1))
            try:
                status, data = self._exchange(method, path, body, headers)
            except (OSError, http.client.HTTPException) as err:
                failure = self._describe(err)
                continue
            if status in _REFUSED:
                why = _REFUSED[status]
                if status == 401 and not self.token:
                    why = "no token was sent (set RUST_HMR_CACHE_TOKEN)"
                raise RemoteRefused(f"{self.base_url} refused a {method} with HTTP {status}: "
                                    f"{why}", status)
            if status in _RETRY_STATUS:
                failure = f"HTTP {status}"
                continue
            if 200 <= status < 300 or status == 404:
                return status, data
            raise RemoteError(f"{self.base_url}: {method} /{kind}/{key[:16]}... answered "
                              f"HTTP {status}", status)
        times = "once" if tries == 1 else f"{tries} times"
        raise RemoteUnavailable(f"{self.base_url} is unavailable: {failure} (tried {times})")

    def _exchange(self, method: str, path: str, body: bytes | None,
                  headers: dict[str, str]) -> tuple[int, bytes]:
        """One request on this thread's connection. A kept-alive connection the server
        closed meanwhile fails at once; that costs a reconnect, not one of the retries."""
        conn, reused = self._connection()
        while True:
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self._forget(conn)
                if not reused:
                    raise
                conn, reused = self._connection()
                continue
            except BaseException:
                self._forget(conn)
                raise
            if response.will_close:
                self._forget(conn)
            return response.status, data

    def _connection(self) -> tuple[http.client.HTTPConnection, bool]:
        """This thread's connection, and whether it was used before."""
        conn = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == os.getpid():
            return conn, True
        cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        conn = cls(self._host, self._port, timeout=self.timeout)
        self._local.conn, self._local.pid = conn, os.getpid()
        with self._lock:
            self._open.append(conn)
        return conn, False

    def _forget(self, conn: http.client.HTTPConnection) -> None:
        conn.close()
        if getattr(self._local, "conn", None) is conn:
            self._local.conn = None
        with self._lock, contextlib.suppress(ValueError):
            self._open.remove(conn)

    def _describe(self, err: BaseException) -> str:
        if isinstance(err, ConnectionRefusedError):
            return "connection refused"
        if isinstance(err, TimeoutError | socket.timeout):
            return f"no answer within {self.timeout:g} s"
        if isinstance(err, socket.gaierror):
            return f"unknown host {self._host!r}"
        return f"{type(err).__name__}: {err}" if str(err) else type(err).__name__


def _close_all(connections: list[http.client.HTTPConnection]) -> None:
    for conn in list(connections):
        conn.close()
    connections.clear()
