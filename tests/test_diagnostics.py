"""What a user reads when a build fails: the summary line, rustc's diagnostics with warnings, and
a link error's own cause first, in the terminal and in the page's overlay."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from conftest import EXAMPLES, copy_crate

from rust_hmr import diagnostics
from rust_hmr.dev import DevLoop

LINK_FAILURE = """   Compiling counter v0.1.0 (/x)
error: linking with `/x/target/rust-hmr/rust-hmr-linker` failed: exit status: 1
  |
  = note: "/x/target/rust-hmr/rust-hmr-linker" "-flavor" "wasm" "--export" "add" "-o" "a.wasm"
  = note: wasm-ld: error: function signature mismatch: log
          >>> defined as (i32, i32) -> void in counter.rcgu.o
          >>> defined as (f64) -> f64 in compiler_builtins.rcgu.o


error: could not compile `counter` due to previous error
"""
ICE = """   Compiling counter v0.1.0 (/x)
thread 'rustc' panicked at 'called `Option::unwrap()` on a `None` value', compiler/x.rs:1:1
note: the compiler unexpectedly panicked. this is a bug.
error: could not compile `counter`
"""


def test_summary_names_the_first_error_and_its_place() -> None:
    stderr = ("   Compiling counter v0.1.0 (/x)\n"
              "\x1b[1merror[E0308]\x1b[0m: mismatched types\n"
              "  --> src/lib.rs:22:5\n   |\n"
              "error: could not compile `counter` due to previous error\n")
    assert diagnostics.summary(stderr) == "error[E0308]: mismatched types at src/lib.rs:22:5"
    assert diagnostics.summary("error: expected `;`\n") == "error: expected `;`"
    assert diagnostics.summary("") == "the build failed"
    assert diagnostics.summary("   Compiling a v1 (/x)\nsomething odd\n") == "something odd"


def test_a_link_error_shows_the_linkers_cause_first_and_folds_the_command_line() -> None:
    assert diagnostics.summary(LINK_FAILURE) == (
        "link error: function signature mismatch: log >>> defined as (i32, i32) -> void in "
        "counter.rcgu.o >>> defined as (f64) -> f64 in compiler_builtins.rcgu.o")
    text = diagnostics.readable(LINK_FAILURE)
    assert text.splitlines()[0].startswith("error: function signature mismatch: log")
    assert '"--export"' not in text
    assert "(the linker's command line, 7 arguments, folded)" in text
    assert "Compiling" not in text


def test_a_rustc_crash_names_the_panic() -> None:
    assert diagnostics.summary(ICE) == (
        "rustc crashed (an internal compiler error): panicked at 'called `Option::unwrap()` "
        "on a `None` value', compiler/x.rs:1:1")


def test_counts_skip_cargos_closing_lines() -> None:
    stderr = ("warning: unused variable: `x`\nerror[E0308]: mismatched types\n"
              "warning: `counter` (lib) generated 1 warning\n"
              "error: could not compile `counter` due to previous error; 1 warning emitted\n")
    assert diagnostics.counts(stderr) == (1, 1)
    assert diagnostics.counts(LINK_FAILURE) == (1, 0)


def start_failing(crate: Path) -> tuple[DevLoop, list[str]]:
    lines: list[str] = []
    loop = DevLoop(crate, echo=lines.append)

    async def run() -> None:
        await loop.start()
        await loop.close()

    asyncio.run(run())
    return loop, lines


@pytest.mark.slow
def test_the_terminal_shows_rustcs_diagnostics_with_warnings_and_a_count(
        tmp_path: Path) -> None:
    crate = copy_crate(EXAMPLES / "counter", tmp_path / "counter")
    label = crate / "src" / "label.rs"
    label.write_text(label.read_text().replace(
        'String::from("one click")', "{ let _parens = (3); 1 }"))
    loop, lines = start_failing(crate)
    said = "\n".join(lines)
    assert "warning: unnecessary parentheses" in said  # an early lint: it comes with errors
    assert "error[E0308]" in said and "--> src/label.rs" in said
    assert "does not compile yet: error[E0308]: mismatched types at " \
        "src/label.rs:6:35 (1 error, 1 warning)" in said
    assert "error: error" not in said
    assert loop.server.state.error is not None


@pytest.mark.slow
def test_a_link_error_in_the_dev_loop_leads_with_the_linkers_error(tmp_path: Path) -> None:
    crate = copy_crate(EXAMPLES / "counter", tmp_path / "counter")
    with (crate / "src" / "page.rs").open("a") as page:
        page.write('extern "C" { fn log(ptr: *const u8, len: usize); }\n'
                   '#[no_mangle] pub extern "C" fn hello() { unsafe { log("hi".as_ptr(), 2) } }\n')
    _loop, lines = start_failing(crate)
    said = "\n".join(lines)
    assert "does not compile yet: link error: function signature mismatch: log" in said
    first = said.split("building counter…\n", 1)[1]
    first = "\n".join(line for line in first.splitlines() if not line.startswith("  Compiling"))
    assert first.startswith("error: function signature mismatch: log"), first[:300]
    assert '"-flavor"' not in said
