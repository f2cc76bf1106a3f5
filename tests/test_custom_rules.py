"""Rules of a user's own in dodo.py: listed by doit, cached by content like the built-in stages,
run again when an input or their code changes, and feeding the compile."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import wasmtime
from test_rules import DOIT_CFG, DoitRun, doit

from rust_hmr.rules.custom import Rule, rule
from rust_hmr.toolchain import Toolchain

MANIFEST = """[package]
name = "greets"
version = "0.1.0"
edition = "2021"

[lib]
crate-type = ["cdylib"]
"""
LIB = """mod generated;

#[no_mangle]
pub extern "C" fn greeting_len() -> u32 { generated::GREETING.len() as u32 }
"""
DODO = '''from rust_hmr.rules import RuleFailed, crate_tasks, rule


@rule(inputs=["words/*.txt"], outputs=["src/generated.rs"], feeds_compile=True)
def greeting(files):
    """src/generated.rs from the words in words/"""
    words = [files[name].decode().strip() for name in sorted(files)]
    if "forbidden" in words:
        raise RuleFailed("the word 'forbidden' is not allowed")
    text = " ".join(words){transform}
    return {{"src/generated.rs": f"pub const GREETING: &str = {{text!r}};\\n".replace("'", '"')
            .encode()}}


globals().update(crate_tasks(".", rules=[greeting]))
'''


def write_dodo(crate: Path, transform: str = "") -> None:
    (crate / "dodo.py").write_text(DODO.format(transform=transform))


@pytest.fixture
def crate(tmp_path: Path, toolchain: Toolchain) -> Path:
    crate = tmp_path / "greets"
    (crate / "src").mkdir(parents=True)
    (crate / "words").mkdir()
    (crate / "Cargo.toml").write_text(MANIFEST)
    (crate / "src" / "lib.rs").write_text(LIB)
    (crate / "words" / "a.txt").write_text("hello")
    (crate / "words" / "b.txt").write_text("world")
    (crate / "doit.cfg").write_text(DOIT_CFG)
    write_dodo(crate)
    subprocess.run(toolchain.cargo_command("generate-lockfile", "--offline"), cwd=crate,
                   env=toolchain.cargo_env(), check=True, capture_output=True)
    return crate


def greeting_len(crate: Path) -> int:
    entries = json.loads((crate / "dist" / "manifest.json").read_text())["files"]
    wasm = next(e["file"] for e in entries if e["name"] == "greets.wasm")
    engine = wasmtime.Engine()
    store = wasmtime.Store(engine)
    instance = wasmtime.Instance(store, wasmtime.Module.from_file(engine, str(crate / "dist" /
                                                                              wasm)), [])
    func = instance.exports(store)["greeting_len"]
    assert isinstance(func, wasmtime.Func)
    return int(func(store))


def rule_said(run: DoitRun) -> str:
    return next(t["err"] for t in json.loads(run.stdout)["tasks"]
                if t["name"] == "rule:greeting")


@pytest.mark.slow
def test_a_rule_feeds_the_compile_and_is_cached_by_content(crate: Path) -> None:
    listed = doit(crate, "list", report=False).stdout
    assert "rule:greeting" in listed and "src/generated.rs from the words" in listed
    run = doit(crate, "bundle")
    assert {"rule:greeting", "compile:release", "bundle"} <= run.ran
    assert greeting_len(crate) == len("hello world")
    assert doit(crate, "bundle").ran == set()  # nothing changed: nothing runs

    (crate / "words" / "c.txt").write_text("again")  # a new input file
    run = doit(crate, "bundle")
    assert "ran in" in rule_said(run)
    assert greeting_len(crate) == len("hello world again")

    (crate / "words" / "c.txt").unlink()  # back to inputs the cache has seen
    run = doit(crate, "bundle")
    assert "from the cache" in rule_said(run), rule_said(run)
    assert greeting_len(crate) == len("hello world")

    write_dodo(crate, transform=".upper() + '!'")  # the rule's code changed
    run = doit(crate, "bundle")
    assert "ran in" in rule_said(run)
    assert greeting_len(crate) == len("HELLO WORLD!")


@pytest.mark.slow
def test_a_rule_comes_from_a_warm_remote_on_a_clean_checkout(
        crate: Path, tmp_path: Path, nginx_cache: tuple[str, str]) -> None:
    """One checkout runs the rule and fills the remote cache; a second checkout of the same
    sources, with nothing built and an empty local cache, takes the rule's output from the
    remote without running it."""
    url, token = nginx_cache
    env = {"RUST_HMR_REMOTE_CACHE": url, "RUST_HMR_CACHE_TOKEN": token}
    assert "ran in" in rule_said(doit(crate, "rule:greeting", env=env))
    clean = tmp_path / "clean" / "greets"
    shutil.copytree(crate, clean, ignore=shutil.ignore_patterns("target", "src"))
    (clean / "src").mkdir()
    (clean / "src" / "lib.rs").write_text(LIB)  # the checkout has no generated source yet
    run = doit(clean, "rule:greeting", env=env)
    assert "from the cache" in rule_said(run), rule_said(run)
    assert (clean / "src" / "generated.rs").read_bytes() == (
        crate / "src" / "generated.rs").read_bytes()


@pytest.mark.slow
def test_a_failing_rule_is_one_line_and_writes_nothing(crate: Path) -> None:
    doit(crate, "bundle")
    before = (crate / "src" / "generated.rs").read_bytes()
    (crate / "words" / "c.txt").write_text("forbidden")
    run = doit(crate, "bundle", check=False)
    assert run.code != 0
    assert "rule greeting failed: the word 'forbidden' is not allowed" in run.stdout
    assert "Traceback" not in run.stdout + run.stderr
    assert (crate / "src" / "generated.rs").read_bytes() == before


def test_a_rule_must_return_exactly_its_outputs(tmp_path: Path) -> None:
    from rust_hmr.rules.crate import Crate
    from rust_hmr.rules.custom import _run
    from rust_hmr.settings import Settings

    (tmp_path / "Cargo.toml").write_text(MANIFEST)

    @rule(inputs=[], outputs=["out/a.txt", "out/b.txt"])
    def half(files: dict[str, bytes]) -> dict[str, bytes]:
        return {"out/a.txt": b"a", "out/c.txt": b"c"}

    failed = _run(Crate(tmp_path, Settings()), half)
    assert failed is not None
    assert "must return exactly its outputs" in str(failed.message)
    assert "missing ['out/b.txt']" in str(failed.message)
    assert "not declared ['out/c.txt']" in str(failed.message)
    assert not (tmp_path / "out").exists()


def test_rule_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="inside the crate"):
        rule(inputs=[], outputs=["../escape.rs"])
    with pytest.raises(ValueError, match="at least one output"):
        rule(inputs=[], outputs=[])
    made = rule(inputs=["a/*"], outputs=["b"], version=3)(lambda files: {"b": b""})
    assert isinstance(made, Rule) and made.version == 3 and made.task_name == "rule:<lambda>"


def test_the_readmes_rule_example_runs(crate: Path) -> None:
    from test_readme import README, snippets

    section = README.read_text().split("### Rules of your own", 1)[1].split("\n### ", 1)[0]
    [dodo] = snippets("python", section)
    (crate / "dodo.py").write_text(dodo)
    (crate / "icons").mkdir()
    (crate / "icons" / "star.svg").write_text('<svg id="star"/>')
    doit(crate, "rule:icons")
    assert (crate / "src" / "icons.rs").read_text() == \
        'pub const STAR: &str = r#"<svg id="star"/>"#;'


# In the dev loop


@pytest.mark.slow
def test_the_dev_loop_runs_the_rules_before_each_build(tmp_path: Path) -> None:
    """`doit dev` gives the dev loop the dodo.py's rules: an input edited in the running app
    regenerates the source it feeds, and that patches; a failing rule shows like a compile
    error, and the old code runs on."""
    import asyncio
    import time

    from conftest import EXAMPLES, copy_crate

    from rust_hmr.dev import DevLoop
    from rust_hmr.rules import RuleFailed
    from rust_hmr.settings import load_settings

    @rule(inputs=["words/*.txt"], outputs=["src/words.rs"], feeds_compile=True)
    def words(files: dict[str, bytes]) -> dict[str, bytes]:
        """src/words.rs from words/empty.txt"""
        text = files["words/empty.txt"].decode().strip()
        if not text:
            raise RuleFailed("words/empty.txt is empty")
        return {"src/words.rs": f"pub const EMPTY: &str = {json.dumps(text)};\n".encode()}

    crate = copy_crate(EXAMPLES / "counter", tmp_path / "counter")
    (crate / "words").mkdir()
    empty = crate / "words" / "empty.txt"
    empty.write_text("nothing yet\n")
    lib, label = crate / "src" / "lib.rs", crate / "src" / "label.rs"
    lib.write_text(lib.read_text().replace("mod history;", "mod history;\nmod words;"))
    label.write_text(label.read_text().replace('String::from("nothing yet")',
                                               "String::from(crate::words::EMPTY)"))
    lines: list[str] = []
    loop = DevLoop(crate, settings=load_settings(crate), echo=lines.append, rules=[words])
    runner = asyncio.new_event_loop()

    def step(action: Callable[[], object], count: int) -> object:
        action()
        end = time.monotonic() + 120
        while len(loop.reports) < count and time.monotonic() < end:
            runner.run_until_complete(asyncio.sleep(0.05))
        assert len(loop.reports) == count, (loop.reports, lines)
        return loop.reports[-1]

    runner.run_until_complete(loop.start())  # the first build runs the rule: src/words.rs
    try:
        generated = crate / "src" / "words.rs"
        assert generated.read_text() == 'pub const EMPTY: &str = "nothing yet";\n'
        report = step(lambda: empty.write_text("no clicks so far\n"), 1)
        assert report.outcome == "patch", (report, lines)  # type: ignore[attr-defined]
        assert "no clicks so far" in generated.read_text()
        report = step(lambda: empty.write_text("\n"), 2)
        assert report.outcome == "error", report  # type: ignore[attr-defined]
        assert "words/empty.txt is empty" in report.detail  # type: ignore[attr-defined]
        runner.run_until_complete(asyncio.sleep(0.5))
        assert len(loop.reports) == 2, loop.reports  # the rule's own output: no second build
    finally:
        runner.run_until_complete(loop.close())
        runner.close()
