"""Fixtures for the signals example: a private copy of the crate, built once per test session.

Imported by conftest.py; `conftest` is imported inside the fixtures, so this module loads
whichever way it is wired in.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rust_hmr.cargo_build import build_wasm
from rust_hmr.toolchain import Toolchain


@pytest.fixture(scope="session")
def signals_crate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of examples/signals, shared by the session's builds of it."""
    from conftest import EXAMPLES, copy_crate

    return copy_crate(EXAMPLES / "signals", tmp_path_factory.mktemp("crates") / "signals")


@pytest.fixture(scope="session")
def signals_debug_wasm(signals_crate: Path, toolchain: Toolchain) -> Path:
    """The signals example built in the dev profile with the HMR link arguments."""
    return build_wasm(signals_crate, "dev", toolchain).path
