"""Source-modifier plugins: Python objects that rewrite a crate's Rust sources before cargo
compiles them, and may hook the dev loop.

A crate names its plugins in Cargo.toml:

    [package.metadata.rust-hmr]
    plugins = ["hot-hook", "my_tools.routes:Routes"]

A name is looked up among the entry points of group `rust_hmr.plugins` (rust-hmr registers
its own `hot-hook` there), or imported as `module:attribute`. The attribute is a class, made
without arguments, or a ready object. What a plugin may have (only `name` is required):

    name: str
    version: str                    a new version rewrites every file
    transform(file, text) -> str    the new text of one `.rs` file (`file` is its path in the
                                    workspace, `src/lib.rs`). It must keep each line where it
                                    is, so that rustc's diagnostics and the debug info point at
                                    the user's own lines: a transform that changes the number
                                    of lines is refused.
    after_patch(event), after_reload(event), on_compile_error(event)
                                    the dev loop's moments (`PatchEvent`, `ReloadEvent`,
                                    `CompileErrorEvent`)

With plugins, cargo builds a transformed tree (`rust_hmr.plugins.tree`): the workspace as the
user wrote it, linked file by file into `target/rust-hmr/plugged/`, with the transformed
sources written in place of their originals, each only when its text changed, so that cargo's
incremental cache holds.
"""

from rust_hmr.plugins.events import CompileErrorEvent, PatchEvent, ReloadEvent, run_hook
from rust_hmr.plugins.load import ENTRY_POINT_GROUP, Plugin, PluginError, load_plugins

__all__ = [
    "ENTRY_POINT_GROUP",
    "CompileErrorEvent",
    "PatchEvent",
    "Plugin",
    "PluginError",
    "ReloadEvent",
    "load_plugins",
    "run_hook",
]
