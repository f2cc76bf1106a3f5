"""`rust-hmr cache stats|verify|gc [CRATE]`: look into a crate's artifact cache and tidy it.

The cache is the one the crate's settings name (`cache-dir`, `cache-max-size`, `remote-cache`,
`cache-read-only` in `[package.metadata.rust-hmr]`, and the environment). Only the local store
is scanned or changed; the remote is shown as configured, never contacted.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import click

from rust_hmr.cache import ArtifactCache, CacheStats

_crate_argument = click.argument(
    "crate", default=".", type=click.Path(file_okay=False, path_type=Path)
)


@click.group("cache")
def cache_command() -> None:
    """Inspect and tidy a crate's artifact cache (the local store)."""


@cache_command.command("stats", short_help="What the cache holds, where its remote is.")
@_crate_argument
@click.option("--json", "as_json", is_flag=True, help="Print the numbers as JSON.")
def stats_command(crate: Path, as_json: bool) -> None:
    """What the cache holds and where its remote is."""
    stats = _open(crate).stats()
    if as_json:
        data = asdict(stats)
        data["local"]["root"] = str(stats.local.root)
        data["local"]["total_bytes"] = stats.local.total_bytes
        click.echo(json.dumps(data, indent=2))
        return
    for line in stats_lines(stats):
        click.echo(line)


@cache_command.command("verify", short_help="Check every entry; drop the bad ones.")
@_crate_argument
def verify_command(crate: Path) -> None:
    """Check every blob against its hash and every record against its blobs; drop the bad
    ones (the next build makes them again). Exit status 1 when something was wrong."""
    cache = _open(crate)
    before = cache.local.stats()
    with _changing(cache):
        problems = cache.verify()
    checked = f"{_count(before.records, 'record')} and {_count(before.blobs, 'blob')}"
    if not problems:
        click.echo(f"{cache.local.root}: checked {checked}, all good")
        return
    click.echo(f"{cache.local.root}: checked {checked}; dropped "
               f"{_count(len(problems), 'bad entry', 'bad entries')}:")
    for problem in problems:
        click.echo(f"  {problem}")
    raise SystemExit(1)


@cache_command.command("gc", short_help="Evict down to the size bound.")
@_crate_argument
@click.option("--max-size", "max_size", metavar="SIZE",
              help="Evict down to this size (2GiB, 500M, 0 to empty it); "
                   "default: the cache-max-size setting.")
def gc_command(crate: Path, max_size: str | None) -> None:
    """Evict the least recently used entries down to the size bound, and remove what
    interrupted writes left behind."""
    from rust_hmr.settings import parse_size

    cache = _open(crate)
    try:
        limit = cache.local.max_bytes if max_size is None else parse_size(max_size)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--max-size") from None
    with _changing(cache):
        result = cache.gc(limit)
    temp = f", {_count(result.temp_removed, 'stale temporary file')}" \
        if result.temp_removed else ""
    click.echo(f"{cache.local.root}: removed {_count(result.removed, 'entry', 'entries')} "
               f"({human_size(result.freed_bytes)}){temp}; {human_size(result.kept_bytes)} in "
               f"{_count(result.kept, 'entry', 'entries')} left (limit {human_size(limit)})")


def stats_lines(stats: CacheStats) -> list[str]:
    """The readable form of `stats`."""
    local = stats.local
    share = 100 * local.total_bytes / local.max_bytes if local.max_bytes else 100.0
    lines = [
        f"local cache  {local.root}",
        f"  records    {local.records:<8} {human_size(local.record_bytes)}",
        f"  blobs      {local.blobs:<8} {human_size(local.blob_bytes)}",
        f"  total      {human_size(local.total_bytes)} of {human_size(local.max_bytes)} "
        f"({share:.1f} %)",
    ]
    if local.oldest_ns is not None and local.newest_ns is not None:
        lines.append(f"  used       least recently {_when(local.oldest_ns)}, "
                     f"most recently {_when(local.newest_ns)}")
    if local.temp_files:
        lines.append(f"  leftovers  {_count(local.temp_files, 'temporary file')} of "
                     "interrupted or running writes (gc removes stale ones)")
    if stats.remote_url is None:
        lines.append("remote cache none (set remote-cache in Cargo.toml or "
                     "RUST_HMR_REMOTE_CACHE)")
    else:
        lines.append(f"remote cache {stats.remote_url} ({stats.remote_mode})")
    return lines


def human_size(size: int) -> str:
    """`1536` -> "1.5 KiB"."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def _open(crate: Path) -> ArtifactCache:
    from rust_hmr.settings import SettingsError

    try:
        return ArtifactCache.from_settings(crate)
    except (SettingsError, ValueError) as err:
        raise click.ClickException(str(err)) from None


@contextlib.contextmanager
def _changing(cache: ArtifactCache) -> Iterator[None]:
    """A failed delete (a cache this user can't write, a read-only file system) is a
    one-line error, not a traceback."""
    try:
        yield
    except OSError as err:
        raise click.ClickException(f"cannot change {cache.local.root}: "
                                   f"{err.strerror or err}") from None


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else many or one + 's'}"


def _when(ns: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ns / 1e9))
