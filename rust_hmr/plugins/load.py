"""Finding the plugins a crate names: entry points first, then `module:attribute`."""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

__all__ = ["ENTRY_POINT_GROUP", "Plugin", "PluginError", "load_plugins"]

ENTRY_POINT_GROUP = "rust_hmr.plugins"


class PluginError(ValueError):
    """A plugin can't be found or loaded, or refused a file; the message is one line for the
    user, naming the plugin (and the file and line where there is one)."""


@runtime_checkable
class Plugin(Protocol):
    name: str


@functools.cache
def _entry_points() -> dict[str, importlib.metadata.EntryPoint]:
    """The installed plugins by name, looked up once per process: scanning the installed
    distributions costs milliseconds, and every compile of a crate with plugins asks."""
    return {ep.name: ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}


def load_plugins(names: Sequence[str]) -> tuple[Any, ...]:
    """The plugins `names` name, in order (each once)."""
    found = _entry_points()
    plugins = []
    for name in dict.fromkeys(names):
        target = _load(name, found)
        plugin = target() if isinstance(target, type) else target
        if not isinstance(getattr(plugin, "name", None), str):
            raise PluginError(f"plugin {name!r} has no `name` (a string): is it a plugin?")
        if getattr(plugin, "transform", None) is not None and not callable(plugin.transform):
            raise PluginError(f"plugin {name!r}: `transform` is not callable")
        plugins.append(plugin)
    return tuple(plugins)


def _load(name: str, entry_points: dict[str, importlib.metadata.EntryPoint]) -> Any:
    try:
        if name in entry_points:
            return entry_points[name].load()
        module, sep, attribute = name.partition(":")
        if not sep:
            known = ", ".join(sorted(entry_points)) or "none"
            raise PluginError(f"no plugin named {name!r} (installed: {known}; or name one "
                              f"as module:attribute)")
        target: Any = importlib.import_module(module)
        for part in attribute.split("."):
            target = getattr(target, part)
        return target
    except PluginError:
        raise
    except Exception as err:  # a plugin is user code: any failure to load it is its own
        raise PluginError(f"cannot load plugin {name!r}: {type(err).__name__}: {err}") from None
