"""rust-hmr: build Rust crates to WebAssembly and hot-swap changed code into the running app.

The public names load on first use: the linker shim (`python -m rust_hmr.shim`) runs at every
link and must not pay for importing the whole package.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["Build", "BuildError", "CompileError", "FullReload", "Host", "Patch", "Project",
           "__version__"]

_LAZY = {
    "Build": "rust_hmr._project",
    "Project": "rust_hmr._project",
    "BuildError": "rust_hmr.cargo_build",
    "CompileError": "rust_hmr.cargo_build",
    "Host": "rust_hmr.host",
    "Patch": "rust_hmr.link.outcomes",
    "FullReload": "rust_hmr.link.outcomes",
}

if TYPE_CHECKING:
    from rust_hmr._project import Build, Project
    from rust_hmr.cargo_build import BuildError, CompileError
    from rust_hmr.host import Host
    from rust_hmr.link.outcomes import FullReload, Patch


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'rust_hmr' has no attribute {name!r}")
