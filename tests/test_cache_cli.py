"""`rust-hmr cache stats|verify|gc`, and the cache a crate's settings name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from rust_hmr.cache import ArtifactCache, action_key, blob_hash
from rust_hmr.cli.cmd_cache import cache_command, human_size

MANIFEST = '[package]\nname = "demo"\nversion = "0.1.0"\nedition = "2021"\n'
ENV_NAMES = ("RUST_HMR_REMOTE_CACHE", "RUST_HMR_CACHE_TOKEN", "RUST_HMR_CACHE_READ_ONLY")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def crate(tmp_path: Path) -> Path:
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "Cargo.toml").write_text(MANIFEST)
    return tmp_path / "demo"


def fill(crate: Path, n: int = 3) -> ArtifactCache:
    cache = ArtifactCache.from_settings(crate)
    for i in range(n):
        cache.store(action_key("s", 1, "", [str(i)], {}), {"out": bytes([i]) * 1000})
    return cache


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cache_command, list(args), env=env)
    return result.exit_code, result.output


def test_default_location_and_settings(crate: Path) -> None:
    cache = ArtifactCache.from_settings(crate)
    assert cache.local.root == crate / "target" / "rust-hmr" / "cache"
    assert cache.local.max_bytes == 2 * 1024**3
    assert cache.remote is None


def test_settings_from_cargo_toml_and_environment(crate: Path, tmp_path: Path) -> None:
    (crate / "Cargo.toml").write_text(
        MANIFEST + '\n[package.metadata.rust-hmr]\ncache-dir = "../shared"\n'
        'cache-max-size = "10 MiB"\n'
    )
    env = {"RUST_HMR_REMOTE_CACHE": "http://cache.invalid:8080/hmr",
           "RUST_HMR_CACHE_TOKEN": "tok", "RUST_HMR_CACHE_READ_ONLY": "1"}
    with ArtifactCache.from_settings(crate, env=env) as cache:
        assert cache.local.root.resolve() == tmp_path / "shared"
        assert cache.local.max_bytes == 10 * 1024**2
        assert cache.remote is not None
        assert (cache.remote.base_url, cache.remote.token, cache.remote.read_only) == (
            "http://cache.invalid:8080/hmr", "tok", True)


def test_a_directory_without_cargo_toml_gets_the_defaults(tmp_path: Path) -> None:
    env = {"RUST_HMR_REMOTE_CACHE": "http://h:1", "RUST_HMR_CACHE_READ_ONLY": "no"}
    with ArtifactCache.from_settings(tmp_path, env=env) as cache:
        assert cache.local.root == tmp_path / "target" / "rust-hmr" / "cache"
        assert cache.remote is not None and not cache.remote.read_only


def test_stats_of_an_empty_cache(crate: Path) -> None:
    code, out = run("stats", str(crate))
    assert code == 0, out
    assert "records    0" in out and "remote cache none" in out
    assert not (crate / "target").exists()  # looking creates nothing


def test_stats(crate: Path) -> None:
    fill(crate)
    code, out = run("stats", str(crate), env={"RUST_HMR_REMOTE_CACHE": "http://h:8080/c",
                                             "RUST_HMR_CACHE_READ_ONLY": "1"})
    assert code == 0, out
    assert "records    3" in out and "blobs      3" in out and "2.9 KiB" in out
    assert "of 2.0 GiB" in out and "least recently" in out
    assert "remote cache http://h:8080/c (read-only)" in out
    code, out = run("stats", str(crate), env={"RUST_HMR_REMOTE_CACHE": "http://h:8080/c"})
    assert "remote cache http://h:8080/c (read-write, but no token)" in out
    code, out = run("stats", "--json", str(crate))
    data = json.loads(out)
    assert (data["local"]["records"], data["local"]["blob_bytes"]) == (3, 3000)


def test_verify(crate: Path) -> None:
    cache = fill(crate)
    code, out = run("verify", str(crate))
    assert (code, out.strip().endswith("checked 3 records and 3 blobs, all good")) == (0, True)
    digest = blob_hash(bytes([1]) * 1000)
    cache.local.path("cas", digest).write_bytes(b"bad")
    code, out = run("verify", str(crate))
    assert code == 1
    assert "dropped 2 bad entries" in out and f"cas/{digest}: content hashes to" in out
    assert "output blobs missing: out" in out
    assert run("verify", str(crate))[0] == 0


def test_gc(crate: Path) -> None:
    fill(crate)
    code, out = run("gc", str(crate))
    assert code == 0 and "removed 0 entries" in out, out
    code, out = run("gc", str(crate), "--max-size", "0")
    assert code == 0 and "removed 6 entries (3.2 KiB)" in out and "0 B in 0 entries" in out
    code, out = run("gc", str(crate), "--max-size", "lots")
    assert code == 2 and "--max-size" in out


def test_bad_settings_are_reported(crate: Path) -> None:
    (crate / "Cargo.toml").write_text(MANIFEST + '\n[package.metadata.rust-hmr]\ncach-dir = "x"\n')
    code, out = run("stats", str(crate))
    assert code == 1 and "cach-dir" in out and "cache-dir" in out


@pytest.mark.parametrize(("size", "text"), [
    (0, "0 B"), (1023, "1023 B"), (1536, "1.5 KiB"), (5 * 1024**2, "5.0 MiB"),
    (3 * 1024**4, "3072.0 GiB"),
])
def test_human_size(size: int, text: str) -> None:
    assert human_size(size) == text
