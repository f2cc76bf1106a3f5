"""The `hot-hook` plugin: `#[hot_hook]` on a function makes rust-hmr call it after each hot
patch, in its newest version, without the export written by hand.

    [package.metadata.rust-hmr]
    plugins = ["hot-hook"]

    #[hot_hook]
    fn refresh() {
        render();
    }

The attribute's line becomes the export the runtime calls (`rust_hmr_after_patch`), which
calls the function; every other line stays as it was. So an error in the hook (a function that
takes arguments, say) points at the attribute's line in the user's file. One hook per file.
"""

from __future__ import annotations

import re

from rust_hmr.plugins.load import PluginError

__all__ = ["HOOK_EXPORT", "HotHook"]

HOOK_EXPORT = "rust_hmr_after_patch"

_ATTRIBUTE = re.compile(r"^(\s*)#\[hot_hook\]\s*$")
_FUNCTION = re.compile(r"^\s*(?:pub(?:\([^)]*\))?\s+)?(?:(?:const|async|unsafe)\s+)*fn\s+"
                       r"([A-Za-z_][A-Za-z0-9_]*)")
_TAKES_ARGUMENTS = re.compile(r"\bfn\s+\w+\s*(?:<[^>]*>)?\s*\(\s*[^\s)]")
_BETWEEN = re.compile(r"^\s*(?:$|//|#\[)")  # blank lines, comments, other attributes


class HotHook:
    """Turns `#[hot_hook]` into the after-patch export (see the module's docstring)."""

    name = "hot-hook"
    version = "1"

    def transform(self, file: str, text: str) -> str:
        if "#[hot_hook]" not in text:
            return text
        lines = text.split("\n")
        hooks = [(i, m[1]) for i, line in enumerate(lines) if (m := _ATTRIBUTE.match(line))]
        if len(hooks) > 1:
            first, second = hooks[0][0] + 1, hooks[1][0] + 1
            raise PluginError(f"{file}:{second}: a second #[hot_hook] (the first is at line "
                              f"{first}): one hook per file")
        for at, indent in hooks:
            function, line = _function_after(lines, at)
            if function is None:
                raise PluginError(f"{file}:{at + 1}: #[hot_hook] must stand on its own line "
                                  f"just before a function")
            if _TAKES_ARGUMENTS.search(lines[line]):
                raise PluginError(f"{file}:{line + 1}: the #[hot_hook] function `{function}` "
                                  f"takes arguments: rust-hmr calls it with none")
            lines[at] = (f'{indent}#[no_mangle] pub extern "C" fn {HOOK_EXPORT}() '
                         f"{{ {function}() }}")
        return "\n".join(lines)


def _function_after(lines: list[str], at: int) -> tuple[str | None, int]:
    """The name of the function the attribute at line `at` stands on, and its line."""
    for number in range(at + 1, len(lines)):
        found = _FUNCTION.match(lines[number])
        if found:
            return found[1], number
        if not _BETWEEN.match(lines[number]):
            break
    return None, at
