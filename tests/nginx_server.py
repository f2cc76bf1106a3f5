"""A real nginx for the tests: a remote cache on 127.0.0.1 with WebDAV PUT and a bearer token.

    nginx -p <dir> -c <dir>/nginx.conf -e <dir>/error.log -g 'daemon off;'

Everything lives in one temporary directory (config, document root, logs, nginx's temp paths),
on a free port; the system's nginx service and its config are never touched. GET and HEAD are
open; any other method needs `Authorization: Bearer <token>`, else 401 (a `map` on method and
header, since Debian's nginx 1.22 allows no `return` inside `limit_except`).

For fault drills (bench/remote_soak.py), a running server can be throttled (`throttle`: nginx's
`limit_rate`, applied by a reload), paused (`pause`/`resume`: SIGSTOP, so connections are
accepted by the kernel and never answered), stopped and started again on its port (`restart`).

Fixtures (import the `*_fixture` functions into a conftest or a test module; pytest knows them
by the names below, so test parameters of those names don't shadow the imports):
- `nginx_server` (session): one server; `nginx_cache` gives each test its own URL prefix on it,
  as `(base_url, token)`;
- `nginx_factory`: starts more servers (another token), all stopped after the test.

Without nginx the fixtures fail with how to install it: the cache tests are not optional.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

NGINX_MISSING = (
    "nginx is needed for the remote-cache tests and was not found on PATH or in /usr/sbin; "
    "install it (Debian: apt-get install -y nginx; ./run setup does it)"
)
_START_SECONDS = 10.0
_TOKEN_RE = re.compile(r"[A-Za-z0-9._~+/=-]+")

_CONFIG = """\
worker_processes 1;
{user}pid {dir}/nginx.pid;
lock_file {dir}/nginx.lock;
error_log {dir}/error.log warn;

events {{ worker_connections 256; }}

http {{
    default_type application/octet-stream;
    log_format cache '$request_method $request_uri $status $auth_state';
    access_log {dir}/access.log cache;
    client_body_temp_path {dir}/tmp/body;
    proxy_temp_path {dir}/tmp/proxy;
    fastcgi_temp_path {dir}/tmp/fastcgi;
    uwsgi_temp_path {dir}/tmp/uwsgi;
    scgi_temp_path {dir}/tmp/scgi;

    map $http_authorization $auth_state {{
        "" none;
        "Bearer {token}" good;
        default bad;
    }}
    map "$request_method:$http_authorization" $write_denied {{
        default 1;
        "~^(GET|HEAD):" 0;
        "PUT:Bearer {token}" 0;
    }}

    server {{
        listen 127.0.0.1:{port};
        root {dir}/root;
        client_max_body_size 0;
        {limit}
        location / {{
            if ($write_denied) {{ return 401; }}
            dav_methods PUT;
            create_full_put_path on;
            dav_access user:rw group:r all:r;
        }}
    }}
}}
"""


@dataclass(frozen=True)
class Request:
    """One line of the access log."""

    method: str
    path: str
    status: int
    auth: str  # "none", "good" (the server's token) or "bad"


@dataclass
class NginxServer:
    """A running nginx; `root` is its document root, so `<root><path>` is what a URL holds."""

    url: str  # http://127.0.0.1:PORT
    token: str
    dir: Path
    process: subprocess.Popen[bytes]
    _prefixes: set[str] = field(default_factory=set)

    @property
    def root(self) -> Path:
        return self.dir / "root"

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def new_prefix(self) -> str:
        """A base URL of its own (`<url>/<random>`), so tests sharing the server don't meet."""
        prefix = uuid.uuid4().hex[:12]
        self._prefixes.add(prefix)
        return f"{self.url}/{prefix}"

    def file_of(self, base_url: str, kind: str, key: str) -> Path:
        """The file that holds `<base_url>/<kind>/<key>`."""
        if not base_url.startswith(self.url):
            raise ValueError(f"{base_url} is not served by {self.url}")
        return self.root / base_url[len(self.url):].strip("/") / kind / key

    def requests(self, base_url: str | None = None) -> list[Request]:
        """Every request the server has logged (under `base_url` when given). nginx writes a
        log line after the answer, so a marker request is sent and awaited first."""
        marker = f"/__sync__/{uuid.uuid4().hex}"
        try:
            urllib.request.urlopen(self.url + marker, timeout=5).close()
        except urllib.error.HTTPError as err:  # 404, as it should
            err.close()
        deadline = time.monotonic() + 5
        while True:
            lines = self._log_lines()
            if any(f" {marker} " in line for line in lines):
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"nginx did not log {marker}")
            time.sleep(0.01)
        prefix = "" if base_url is None else base_url[len(self.url):].rstrip("/") + "/"
        found = []
        for line in lines:
            method, path, status, auth = line.split(" ")
            if path.startswith("/__sync__/") or not path.startswith(prefix):
                continue
            found.append(Request(method, path, int(status), auth))
        return found

    def _log_lines(self) -> list[str]:
        try:
            return (self.dir / "access.log").read_text().splitlines()
        except FileNotFoundError:
            return []

    def stop(self) -> None:
        """Fast shutdown (SIGTERM), then SIGKILL if nginx lingers."""
        if self.process.poll() is None:
            self.resume()  # a stopped process takes no SIGTERM
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def throttle(self, rate: str = "") -> None:
        """Answers trickle at `rate` per connection ("4k": 4 KiB/s), or at full speed for "".
        nginx reloads its configuration; the old workers finish what they were sending."""
        _write_config(self.dir, self.port, self.token, rate)
        self.process.send_signal(signal.SIGHUP)
        time.sleep(0.3)  # the new workers start within a few milliseconds

    def pause(self) -> None:
        """Freezes nginx (master and workers): the kernel still accepts connections."""
        os.killpg(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.killpg(self.process.pid, signal.SIGCONT)

    def restart(self) -> NginxServer:
        """Stops this server and starts another on the same port and directory (served
        files kept); AssertionError when the port was taken meanwhile."""
        self.stop()
        return start_nginx(self.dir, self.token, port=self.port)


def find_nginx() -> str:
    """The nginx binary; AssertionError with the install hint when there is none."""
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    if found is None:
        raise AssertionError(NGINX_MISSING)
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _write_config(workdir: Path, port: int, token: str, rate: str = "") -> Path:
    conf = workdir / "nginx.conf"
    # As root, nginx's workers would run as nobody, who can't enter a 0700 temp dir.
    user = "user root;\n" if os.geteuid() == 0 else ""
    limit = f"limit_rate {rate};" if rate else ""
    conf.write_text(_CONFIG.format(dir=workdir, port=port, token=token, user=user, limit=limit))
    return conf


def start_nginx(workdir: Path, token: str | None = None, attempts: int = 5,
                port: int | None = None) -> NginxServer:
    """An nginx serving `workdir/root` on a free port (or `port`), its config and logs in
    `workdir`. It runs in a session of its own, so that `pause` reaches its workers."""
    nginx = find_nginx()
    token = token or secrets.token_hex(16)
    if not _TOKEN_RE.fullmatch(token):
        raise ValueError(f"token {token!r} would need quoting in nginx.conf")
    (workdir / "root").mkdir(parents=True, exist_ok=True)
    (workdir / "tmp").mkdir(exist_ok=True)
    last_error = ""
    fixed = port
    for _ in range(1 if fixed else attempts):  # another process may take the free port first
        port = fixed or free_port()
        conf = _write_config(workdir, port, token)
        (workdir / "error.log").unlink(missing_ok=True)
        process = subprocess.Popen(
            [nginx, "-p", str(workdir), "-c", str(conf), "-e", str(workdir / "error.log"),
             "-g", "daemon off;"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            start_new_session=True,
        )
        server = NginxServer(f"http://127.0.0.1:{port}", token, workdir, process)
        if _wait_ready(server):
            process.stderr.close()  # type: ignore[union-attr]
            return server
        server.stop()
        stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
        process.stderr.close()  # type: ignore[union-attr]
        last_error = stderr + _read(workdir / "error.log")
        if "Address already in use" not in last_error:
            break
    raise AssertionError(f"nginx did not start:\n{last_error.strip()}")


def _wait_ready(server: NginxServer) -> bool:
    deadline = time.monotonic() + _START_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", server.port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.02)
    return False


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except FileNotFoundError:
        return ""


@pytest.fixture(scope="session", name="nginx_server")
def nginx_server_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NginxServer]:
    """One nginx for the whole session (about 20 ms to start, but tests share it)."""
    server = start_nginx(tmp_path_factory.mktemp("nginx"))
    yield server
    server.stop()


@pytest.fixture(name="nginx_cache")
def nginx_cache_fixture(nginx_server: NginxServer) -> tuple[str, str]:
    """`(base_url, token)` of an empty remote cache of this test's own."""
    return nginx_server.new_prefix(), nginx_server.token


@pytest.fixture(name="nginx_factory")
def nginx_factory_fixture(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., NginxServer]]:
    """`start(token=None)`: another nginx, stopped after the test."""
    started: list[NginxServer] = []

    def start(token: str | None = None) -> NginxServer:
        server = start_nginx(tmp_path_factory.mktemp("nginx"), token)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
