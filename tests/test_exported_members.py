"""The public names: `__all__` sorted, complete, and every name importable."""

import importlib
import inspect

import pytest


@pytest.mark.parametrize("module", ["rust_hmr", "rust_hmr.wasm", "rust_hmr.host", "rust_hmr.cache",
                                    "rust_hmr.link", "rust_hmr.prepare", "rust_hmr.shim",
                                    "rust_hmr.server", "rust_hmr.server.protocol",
                                    "rust_hmr.runtime", "rust_hmr.dwarf", "rust_hmr.backtrace",
                                    "rust_hmr.dwarf.lines", "rust_hmr.rules", "rust_hmr.bindgen",
                                    "rust_hmr.watch", "rust_hmr.compile_inputs",
                                    "rust_hmr.diagnostics", "rust_hmr.atomic",
                                    "rust_hmr.rules.custom"])
def test_all_is_sorted_complete_and_importable(module: str) -> None:
    mod = importlib.import_module(module)
    names = mod.__all__
    # sorted as ruff's RUF022 sorts: CONSTANTS, then Classes, then functions
    assert names == sorted(names, key=lambda n: (not n.isupper(), not n[:1].isupper(), n))
    for name in names:
        assert getattr(mod, name) is not None, f"{module}.{name}"
    # Complete: every public class and function of the module's own (defined in it, or for a
    # package in one of its modules) is in __all__; names it imports from elsewhere are not
    # its API, and a helper it keeps for itself takes a leading underscore.
    home = mod.__name__ + ("." if hasattr(mod, "__path__") else "")
    own = {name for name, value in vars(mod).items()
           if not name.startswith("_") and (inspect.isclass(value) or inspect.isfunction(value))
           and (value.__module__ + ".").startswith(home)}
    assert own <= set(names), f"{module}: not in __all__: {sorted(own - set(names))}"


def test_package_exports_the_public_api() -> None:
    import rust_hmr

    public = {"Build", "BuildError", "CompileError", "FullReload", "Host", "Patch", "Project"}
    assert public <= set(rust_hmr.__all__)
