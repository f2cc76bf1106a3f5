"""The dev loop's moments that plugins can hook, and how a hook is run."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["CompileErrorEvent", "PatchEvent", "ReloadEvent", "run_hook"]


@dataclass(frozen=True)
class PatchEvent:
    """A patch went to the pages: its number and the functions whose code changed."""

    crate: Path
    patch: int
    changed: tuple[str, ...]


@dataclass(frozen=True)
class ReloadEvent:
    """A full build went to the pages, which load it again; `reason` says why."""

    crate: Path
    reason: str


@dataclass(frozen=True)
class CompileErrorEvent:
    """The build failed: `summary` is one line, `diagnostics` rustc's output."""

    crate: Path
    summary: str
    diagnostics: str


def run_hook(plugins: Sequence[Any], hook: str, event: object,
             echo: Callable[[str], None]) -> None:
    """Call `hook` on every plugin that has it. A hook that raises is reported in one line and
    the others still run: a plugin's bug must not stop the dev loop."""
    for plugin in plugins:
        method = getattr(plugin, hook, None)
        if method is None:
            continue
        try:
            method(event)
        except Exception as err:  # user code
            echo(f"plugin {plugin.name}: {hook} failed: {type(err).__name__}: {err}")
