"""The headless host: runs a main module in wasmtime and applies patches to it.

    host = Host("target/.../app.wasm", echo=True)
    host.call("app_init")
    patch = host.instantiate(patch_bytes)   # links against the main instance, in its Store

Tests and benchmarks drive it; an application can embed it the same way.
"""

from rust_hmr.host._host import HasModulePath, Host, HostTrap, ModuleInstance, ModuleSource
from rust_hmr.host._imports import HostError, ImportMap, Missing, UnresolvedImportError
from rust_hmr.host._module_cache import (
    CACHE_DIR_NAME,
    CompiledModule,
    cache_key,
    engine,
    load_module,
)

__all__ = [
    "CACHE_DIR_NAME",
    "CompiledModule",
    "HasModulePath",
    "Host",
    "HostError",
    "HostTrap",
    "ImportMap",
    "Missing",
    "ModuleInstance",
    "ModuleSource",
    "UnresolvedImportError",
    "cache_key",
    "engine",
    "load_module",
]
