"""The interp example (a small interpreter whose global environment lives in a thread_local!)
built for hot patching and driven through the host: programs in, answers out."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import EXAMPLES, copy_crate
from differential import App

from rust_hmr import Project
from rust_hmr.host import Host
from rust_hmr.toolchain import Toolchain

pytestmark = pytest.mark.slow

BUILTINS = 13  # + - * / = < concat len list nth type-of max rev

SESSION = [
    ("(+ 1 2)", "ok: 3"),
    ("(def x 5)", "ok: 5"),
    ("(* x 3 2)", "ok: 30"),
    ("(- x 7)", "ok: -2"),
    ("(/ x 0)", "error: division by zero"),
    ('(def s "hi")', 'ok: "hi"'),
    ('(concat s " " "there")', 'ok: "hi there"'),
    ("(push xs 1)", "ok: 1"),
    ('(push xs "two")', "ok: 2"),
    ("xs", 'ok: [1 "two"]'),
    ("(len xs)", "ok: 2"),
    ("(nth xs 1)", 'ok: "two"'),
    ("(nth xs 5)", "error: index 5 is out of range for a list of 2"),
    ("(list x (list 1 2) nil true)", "ok: [5 [1 2] nil true]"),
    ("(type-of xs)", 'ok: "list"'),
    ("(= (rev s) \"ih\")", "ok: true"),
    ("(max 3 x 4)", "ok: 5"),
    ("(< x 2)", "ok: false"),
    ("(hook double x)", "ok: 10"),
    ("(hook exclaim s)", 'ok: "hi!"'),
    ("(hook double s)", "error: type error: expected int, got string"),
    ("(len 5)", "error: type error: expected list, got int"),
    ("(- 1)", "error: `-` takes 2 arguments, got 1"),
    ("(nope 1)", "error: unbound symbol `nope`"),
    ("(+ 1", "error: parse error: missing `)`"),
    ('"open', "error: parse error: unterminated string"),
    ("(uses x)", "ok: 7"),  # read by 7 programs; `uses` itself does not count
]


def test_the_crate_has_several_modules() -> None:
    sources = {path.name for path in (EXAMPLES / "interp" / "src").glob("*.rs")}
    assert {"lib.rs", "env.rs", "value.rs", "eval.rs", "error.rs"} <= sources
    assert "thread_local!" in (EXAMPLES / "interp" / "src" / "env.rs").read_text()


def test_scripted_session(tmp_path: Path, toolchain: Toolchain) -> None:
    crate = copy_crate(EXAMPLES / "interp", tmp_path / "interp")
    build = Project(crate, toolchain=toolchain).build()
    host = Host(build)
    app = App(host)
    for program, answer in SESSION:
        assert app.eval(program) == answer, program
    assert host.call("evals") == len(SESSION)
    assert host.call("bindings") == 3
    assert host.call("total_uses") == 7 + 4 + 5  # x, s and xs read
    assert host.call("builtins") == BUILTINS
    assert host.call("hook_runs") == 3
    # A second Host of the same build starts empty: the state is the instance's.
    assert App(Host(build)).eval("x") == "error: unbound symbol `x`"
