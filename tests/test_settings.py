"""Settings errors as the user meets them: each bad Cargo.toml gives one line naming the file
or setting and what was expected, and an exit status, from every command that reads it.
`rust-hmr` runs as a subprocess (the installed entry point), as the user runs it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from rust_hmr.settings import SettingsError, load_settings

RUST_HMR = str(Path(sys.executable).with_name("rust-hmr"))
PACKAGE = b'[package]\nname = "demo"\nversion = "0.1.0"\n'
METADATA = PACKAGE + b"[package.metadata.rust-hmr]\n"
CACHE_ENV = ("RUST_HMR_REMOTE_CACHE", "RUST_HMR_CACHE_TOKEN", "RUST_HMR_CACHE_READ_ONLY")

# Cargo.toml bytes -> the error, `{manifest}` standing for the file's path as given.
BAD_MANIFESTS = {
    "invalid UTF-8": (b'[package]\nname = "d\xffmo"\n',
                      "cannot read {manifest}: not UTF-8 text (byte 0xff at offset 19)"),
    "metadata = 5": (PACKAGE + b"metadata = 5\n",
                     "{manifest}: package.metadata must be a table, got an integer 5"),
    "package = string": (b'package = "demo"\n',
                         "{manifest}: package must be a table, got a string 'demo'"),
    "rust-hmr = array": (PACKAGE + b'[package.metadata]\nrust-hmr = ["x"]\n',
                         "{manifest}: package.metadata.rust-hmr must be a table, got an "
                         "array ['x']"),
    "ftp remote cache": (METADATA + b'remote-cache = "ftp://x"\n',
                         "remote-cache (from Cargo.toml): expected http(s)://host[:port][/path],"
                         " got 'ftp://x'"),
    "remote cache with a query": (METADATA + b'remote-cache = "http://h/c?x=1"\n',
                                  "remote-cache (from Cargo.toml): expected a URL without query "
                                  "or fragment, got 'http://h/c?x=1'"),
    "remote cache port not a number": (METADATA + b'remote-cache = "http://h:port/c"\n',
                                       "remote-cache (from Cargo.toml): expected "
                                       "http(s)://host[:port][/path], got 'http://h:port/c'"),
    "not TOML": (PACKAGE + b"metadata = \n",
                 "cannot read {manifest}: Invalid value (at line 4, column 12)"),
}


def rust_hmr(*args: str, cwd: Path, env: dict[str, str] | None = None,
             ) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in CACHE_ENV}
    return subprocess.run([RUST_HMR, *args], cwd=cwd, env={**clean, **(env or {})},
                          capture_output=True, text=True, timeout=60)


def crate_with(tmp_path: Path, manifest: bytes) -> Path:
    crate = tmp_path / "demo"
    (crate / "src").mkdir(parents=True)
    (crate / "src" / "lib.rs").write_text("pub fn f() {}\n")
    (crate / "Cargo.toml").write_bytes(manifest)
    return crate


@pytest.mark.parametrize("case", BAD_MANIFESTS)
@pytest.mark.parametrize("command", [("dev", "demo", "--port", "0"), ("bundle", "demo")],
                         ids=["dev", "bundle"])
def test_a_bad_cargo_toml_is_one_line_and_status_2(tmp_path: Path, case: str,
                                                   command: tuple[str, ...]) -> None:
    manifest, message = BAD_MANIFESTS[case]
    crate_with(tmp_path, manifest)
    done = rust_hmr(*command, cwd=tmp_path)
    expected = "error: " + message.format(manifest=Path("demo") / "Cargo.toml")
    assert (done.returncode, done.stderr, done.stdout) == (2, expected + "\n", "")


@pytest.mark.parametrize("case", ["invalid UTF-8", "metadata = 5", "ftp remote cache"])
def test_cache_stats_gives_the_same_line(tmp_path: Path, case: str) -> None:
    manifest, message = BAD_MANIFESTS[case]
    crate_with(tmp_path, manifest)
    done = rust_hmr("cache", "stats", "demo", cwd=tmp_path)
    expected = "Error: " + message.format(manifest=Path("demo") / "Cargo.toml")
    assert (done.returncode, done.stderr) == (1, expected + "\n")


def test_remote_cache_from_the_environment_and_command_line_is_checked(tmp_path: Path) -> None:
    crate_with(tmp_path, PACKAGE)
    done = rust_hmr("dev", "demo", env={"RUST_HMR_REMOTE_CACHE": "ftp://x"}, cwd=tmp_path)
    assert (done.returncode, done.stderr) == (
        2, "error: remote-cache (from RUST_HMR_REMOTE_CACHE): expected "
           "http(s)://host[:port][/path], got 'ftp://x'\n")
    done = rust_hmr("bundle", "demo", "--remote-cache", "cache:8080", cwd=tmp_path)
    assert (done.returncode, done.stderr) == (
        2, "error: remote-cache (from the command line): expected "
           "http(s)://host[:port][/path], got 'cache:8080'\n")


@pytest.mark.parametrize("url", ["http://cache.internal:8080/rust-hmr", "https://h",
                                 "http://[::1]:9/c/", "  http://h/x  ", ""])
def test_good_remote_cache_urls_are_taken(tmp_path: Path, url: str) -> None:
    crate = crate_with(tmp_path, METADATA + f'remote-cache = "{url}"\n'.encode())
    assert load_settings(crate, env={}).remote_cache == url.strip()


def test_settings_errors_are_value_errors(tmp_path: Path) -> None:
    crate = crate_with(tmp_path, PACKAGE + b"metadata = 5\n")
    with pytest.raises(ValueError, match=r"package\.metadata must be a table"):
        load_settings(crate, env={})
    (crate / "Cargo.toml").unlink()
    (crate / "Cargo.toml").mkdir()
    with pytest.raises(SettingsError, match=r"cannot read .*Cargo.toml: Is a directory"):
        load_settings(crate, env={})
