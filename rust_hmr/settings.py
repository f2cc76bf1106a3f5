"""A crate's rust-hmr settings: `[package.metadata.rust-hmr]` in its Cargo.toml.

Each setting has one entry in `SETTINGS` (its Cargo.toml key, kind, default and help); the
command-line options of `doit bundle`, `doit dev` and `rust-hmr bundle` are generated from that
table, so a setting is spelled the same everywhere. Where a value comes from, last one wins:

    default < Cargo.toml < environment (remote-cache, cache-read-only) < dodo.py < command line

```toml
[package.metadata.rust-hmr]
dist-dir = "public"
wasm-opt = "-Oz"
remote-cache = "http://cache.internal:8080/rust-hmr"
```

Exceptions: `SettingsError` (a ValueError) names the setting, where the bad value came from,
and what was expected.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "SETTINGS",
    "Setting",
    "Settings",
    "SettingsError",
    "load_settings",
    "parse_size",
    "plugin_names",
]

METADATA_KEY = "rust-hmr"


class SettingsError(ValueError):
    """A setting's value is malformed, or Cargo.toml names a setting that does not exist."""


def parse_size(text: str | int) -> int:
    """Bytes from `1000000`, `"512 MiB"`, `"2G"`, `"10 kB"` (k/M/G are powers of 1024 too)."""
    if isinstance(text, int) and not isinstance(text, bool):
        if text < 0:
            raise ValueError("a size can't be negative")
        return text
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmMgGtT]?)(?:i?[bB])?\s*", str(text))
    if match is None:
        raise ValueError(f"expected a size such as 2GiB or 500MB, got {text!r}")
    scale = 1024 ** " KMGT".index(match[2].upper() or " ")
    return int(float(match[1]) * scale)


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


def _boolean(value: Any) -> bool | None:
    """True or False for the words of either (a TOML boolean too), else None."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    return True if text in _TRUE else False if text in _FALSE else None


def _parse_bool(value: Any) -> bool:
    answer = _boolean(value)
    if answer is None:
        raise ValueError(f"expected true or false, got {value!r}")
    return answer


def _parse_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(f"expected an integer, got {value!r}")
    try:
        number = int(str(value).strip(), 10) if not isinstance(value, int) else value
    except ValueError:
        raise ValueError(f"expected an integer, got {value!r}") from None
    if number < 0:
        raise ValueError(f"expected a non-negative integer, got {number}")
    return number


def _parse_seconds(value: Any) -> float:
    """Seconds, more than 0: `5`, `2.5`, `"10s"`."""
    text = str(value).strip().removesuffix("s").strip()
    try:
        seconds = float(text) if not isinstance(value, bool) else -1.0
    except ValueError:
        seconds = -1.0
    if not 0 < seconds < float("inf"):
        raise ValueError(f"expected a number of seconds above 0, got {value!r}")
    return seconds


def _parse_str(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {value!r}")
    return value


def _parse_url(value: Any) -> str:
    """An http(s) base URL without query or fragment, or "" for none (the remote cache)."""
    text = _parse_str(value).strip()
    if not text:
        return ""
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 (raises ValueError for a port that is not a number)
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"expected http(s)://host[:port][/path], got {text!r}")
    if parts.query or parts.fragment:
        raise ValueError(f"expected a URL without query or fragment, got {text!r}")
    return text


def _parse_wasm_opt(value: Any) -> str:
    """wasm-opt's arguments, or "" for off: `true` is "-O", `false`/"off" is ""."""
    answer = _boolean(value)
    if answer is not None:
        return "-O" if answer else ""
    text = str(value).strip()
    return "" if text.lower() == "none" else text


def _parse_names(value: Any) -> tuple[str, ...]:
    """A list of names; on a command line or in the environment, separated by commas."""
    if isinstance(value, str):
        value = [name.strip() for name in value.split(",") if name.strip()]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) and v for v in value):
        raise ValueError("expected a list of names")
    return tuple(value)


def _parse_strip(value: Any) -> str:
    text = str(value).strip().lower()
    if text not in ("debug", "all", "none"):
        raise ValueError(f"expected debug, all or none, got {value!r}")
    return text


def _parse_port(value: Any) -> int:
    port = _parse_int(value)
    if port > 65535:
        raise ValueError(f"expected a port number up to 65535, got {port}")
    return port


@dataclass(frozen=True)
class Setting:
    """One setting: its Cargo.toml key, how to read a value, its default and its help."""

    key: str
    parse: Callable[[Any], Any]
    default: Any
    help: str
    metavar: str
    env: str | None = None  # an environment variable that overrides Cargo.toml

    @property
    def attr(self) -> str:
        """The Settings attribute (and option name): the key with dashes as underscores."""
        return self.key.replace("-", "_")


SETTINGS: tuple[Setting, ...] = (
    Setting("dist-dir", _parse_str, "dist", "Where `bundle` writes the app, relative to the "
            "crate.", "DIR"),
    Setting("static-dir", _parse_str, "static", "Assets copied into the bundle under hashed "
            "names (an index.html there is the page template).", "DIR"),
    Setting("wasm-opt", _parse_wasm_opt, "-O", "Arguments for binaryen's wasm-opt on the "
            "release module, or false; skipped when wasm-opt is not installed.", "ARGS"),
    Setting("strip", _parse_strip, "debug", "Custom sections to drop from the release module: "
            "debug (DWARF), all (names too) or none.", "WHAT"),
    Setting("reserve-pages", _parse_int, 64, "Memory pages (64 KiB) kept for data that patches "
            "add (dev builds).", "N"),
    Setting("spare-slots", _parse_int, 4096, "Table slots kept for function pointers that "
            "patches add (dev builds).", "N"),
    Setting("cache-dir", _parse_str, "target/rust-hmr/cache", "The local artifact cache, "
            "relative to the crate; several crates may share one.", "DIR"),
    Setting("cache-max-size", parse_size, parse_size("2GiB"), "Size bound of the local cache; "
            "the least recently used entries go first.", "SIZE"),
    Setting("remote-cache", _parse_url, "", "Base URL of a shared HTTP cache (GET/PUT of "
            "<url>/ac/<key> and <url>/cas/<hash>); empty for none.", "URL",
            env="RUST_HMR_REMOTE_CACHE"),
    Setting("cache-read-only", _parse_bool, False, "Read the remote cache, never write to it "
            "(untrusted jobs).", "BOOL", env="RUST_HMR_CACHE_READ_ONLY"),
    Setting("remote-cache-timeout", _parse_seconds, 5.0, "Deadline of one request to the "
            "remote cache, plus 1 s per MiB of body.", "SECONDS", env="RUST_HMR_REMOTE_TIMEOUT"),
    Setting("remote-cache-deadline", _parse_seconds, 15.0, "Time the remote cache may take "
            "in one run, in all; past it the remote is off.", "SECONDS",
            env="RUST_HMR_REMOTE_DEADLINE"),
    Setting("plugins", _parse_names, (), "Source-modifier plugins, by entry point name "
            "(group rust_hmr.plugins) or as module:attribute.", "NAMES"),
    Setting("host", _parse_str, "127.0.0.1", "Address the dev server listens on.", "ADDR"),
    Setting("port", _parse_port, 8000, "Port of the dev server.", "PORT"),
)
_BY_KEY = {s.key: s for s in SETTINGS}


@dataclass(frozen=True)
class Settings:
    """A crate's settings after every source was applied; `origin` says where each came from."""

    dist_dir: str = "dist"
    static_dir: str = "static"
    wasm_opt: str = "-O"
    strip: str = "debug"
    reserve_pages: int = 64
    spare_slots: int = 4096
    cache_dir: str = "target/rust-hmr/cache"
    cache_max_size: int = 2 * 1024**3
    remote_cache: str = ""
    cache_read_only: bool = False
    remote_cache_timeout: float = 5.0
    remote_cache_deadline: float = 15.0
    plugins: tuple[str, ...] = ()
    host: str = "127.0.0.1"
    port: int = 8000
    origin: Mapping[str, str] = field(default_factory=dict, compare=False)

    def path(self, crate_dir: Path, attr: str) -> Path:
        """A directory setting (`dist_dir`, `static_dir`, `cache_dir`) resolved against the
        crate directory."""
        value: str = getattr(self, attr)
        return (crate_dir / value).resolve()

    def as_dict(self) -> dict[str, Any]:
        """The values by Cargo.toml key."""
        return {s.key: getattr(self, s.attr) for s in SETTINGS}


def read_metadata(crate_dir: Path) -> dict[str, Any]:
    """The `[package.metadata.rust-hmr]` table of the crate's Cargo.toml ({} when absent).

    Raises SettingsError when the file can't be read, is not UTF-8 or not TOML, or when
    `package`, `package.metadata` or the table itself is something other than a table."""
    manifest = crate_dir / "Cargo.toml"
    try:
        table = tomllib.loads(manifest.read_bytes().decode("utf-8"))
    except OSError as err:
        raise SettingsError(f"cannot read {manifest}: {err.strerror or err}") from None
    except UnicodeDecodeError as err:
        raise SettingsError(f"cannot read {manifest}: not UTF-8 text (byte "
                            f"0x{err.object[err.start]:02x} at offset {err.start})") from None
    except tomllib.TOMLDecodeError as err:
        raise SettingsError(f"cannot read {manifest}: {err}") from None
    path = ""
    for key in ("package", "metadata", METADATA_KEY):
        path = f"{path}.{key}" if path else key
        value = table.get(key, {})
        if not isinstance(value, dict):
            raise SettingsError(f"{manifest}: {path} must be a table, got "
                                f"{_toml_type(value)} {value!r}")
        table = value
    return table


def plugin_names(crate_dir: Path) -> tuple[str, ...]:
    """The crate's `plugins` setting alone (every compile reads it; the other settings are
    its callers' business)."""
    value = read_metadata(crate_dir).get("plugins")
    return () if value is None else _checked(_BY_KEY["plugins"], value, "Cargo.toml")


def _toml_type(value: Any) -> str:
    """What a TOML value is, in TOML's words."""
    kinds = ((bool, "a boolean"), (int, "an integer"), (float, "a float"), (str, "a string"),
             (list, "an array"))
    return next((name for kind, name in kinds if isinstance(value, kind)), "a date or time")


def load_settings(
    crate_dir: Path | str,
    *overrides: tuple[str, Mapping[str, Any]],
    env: Mapping[str, str] | None = None,
) -> Settings:
    """The crate's settings: defaults, then Cargo.toml, then the environment, then each
    `(origin, values)` layer of `overrides` in order (values by key, `dist-dir`, or by
    attribute, `dist_dir`; None values are skipped). `origin` names the layer in errors."""
    crate_dir = Path(crate_dir)
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    where: dict[str, str] = {}
    for key, value in read_metadata(crate_dir).items():
        setting = _lookup(key, f"{crate_dir / 'Cargo.toml'} [package.metadata.{METADATA_KEY}]")
        values[setting.attr] = _checked(setting, value, "Cargo.toml")
        where[setting.attr] = "Cargo.toml"
    for setting in SETTINGS:
        if setting.env and env.get(setting.env):
            values[setting.attr] = _checked(setting, env[setting.env], setting.env)
            where[setting.attr] = setting.env
    for origin, layer in overrides:
        for key, value in layer.items():
            if value is None:
                continue
            setting = _lookup(key, origin)
            values[setting.attr] = _checked(setting, value, origin)
            where[setting.attr] = origin
    return Settings(**values, origin=where)


def _lookup(key: str, place: str) -> Setting:
    setting = _BY_KEY.get(key.replace("_", "-"))
    if setting is None:
        import difflib

        close = difflib.get_close_matches(key, _BY_KEY, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        known = ", ".join(_BY_KEY)
        raise SettingsError(f"{place}: unknown setting {key!r}{hint}; known: {known}")
    return setting


def _checked(setting: Setting, value: Any, origin: str) -> Any:
    try:
        return setting.parse(value)
    except ValueError as err:
        raise SettingsError(f"{setting.key} (from {origin}): {err}") from None
