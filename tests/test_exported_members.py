"""The public names: `__all__` sorted, complete, and every name importable."""

import importlib

import pytest


@pytest.mark.parametrize("module", ["rust_hmr", "rust_hmr.wasm", "rust_hmr.host", "rust_hmr.cache",
                                    "rust_hmr.link", "rust_hmr.prepare", "rust_hmr.shim",
                                    "rust_hmr.server", "rust_hmr.server.protocol",
                                    "rust_hmr.runtime", "rust_hmr.dwarf", "rust_hmr.backtrace",
                                    "rust_hmr.dwarf.lines"])
def test_all_is_sorted_and_importable(module: str) -> None:
    mod = importlib.import_module(module)
    names = mod.__all__
    assert names == sorted(names, key=lambda n: (n.startswith("_"), n))
    for name in names:
        assert getattr(mod, name) is not None, f"{module}.{name}"


def test_package_exports_the_public_api() -> None:
    import rust_hmr

    public = {"Build", "BuildError", "CompileError", "FullReload", "Host", "Patch", "Project"}
    assert public <= set(rust_hmr.__all__)
