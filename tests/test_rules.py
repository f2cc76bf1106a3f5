"""The rule set: stages as doit tasks, blake3 up-to-date checks, settings, the doit commands.

Builds run `python -m doit` in a copy of examples/counter with a dodo.py of one import and one
call; `-r json` tells which tasks ran. The helpers here serve test_bundle.py too.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import types
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import EXAMPLES, copy_crate

from rust_hmr.rules.checkers import Blake3Checker
from rust_hmr.settings import SETTINGS, Settings, SettingsError, load_settings, parse_size

DODO = 'from rust_hmr.rules import crate_tasks\n\nglobals().update(crate_tasks("."))\n'
# The doit commands, registered the way doit's INI configuration does it, so the tests
# do not depend on the package's entry points being installed.
DOIT_CFG = ("[COMMAND]\nbundle = rust_hmr.rules.commands:BundleCommand\n"
            "dev = rust_hmr.rules.commands:DevCommand\n")
STAGES = ["toolchain", "compile", "compile:dev", "compile:release", "prepare", "optimize",
          "bundle", "hot", "hot:compile", "hot:patch"]  # no dev build yet: no hot:unit
BUNDLE_STAGES = {"toolchain", "compile:release", "optimize", "bundle"}
CACHE_ENV = ("RUST_HMR_REMOTE_CACHE", "RUST_HMR_CACHE_TOKEN", "RUST_HMR_CACHE_READ_ONLY")


def make_crate(dest: Path, dodo: bool = True) -> Path:
    """A copy of examples/counter with a dodo.py (and the doit commands registered)."""
    crate = copy_crate(EXAMPLES / "counter", dest)
    if dodo:
        (crate / "dodo.py").write_text(DODO)
    (crate / "doit.cfg").write_text(DOIT_CFG)
    return crate


def base_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in CACHE_ENV}
    env.update(extra or {})
    return env


@dataclass
class DoitRun:
    code: int
    results: dict[str, str]  # task name -> success, up-to-date, fail
    stdout: str
    stderr: str

    @property
    def ran(self) -> set[str]:
        """The stages that executed (the `compile` group itself has no action)."""
        return {name for name, result in self.results.items()
                if result != "up-to-date" and name != "compile"}


def doit(crate: Path, *args: str, env: Mapping[str, str] | None = None,
         report: bool = True, check: bool = True) -> DoitRun:
    """`python -m doit ARGS` in `crate`; with `report`, doit's JSON reporter says what ran."""
    cmd = [sys.executable, "-m", "doit", *args]
    if report:  # options go after the command name, or first (for the implicit `run`)
        at = 1 if args and args[0] in ("bundle", "run") else 0
        cmd[3 + at:3 + at] = ["-r", "json"]
    done = subprocess.run(cmd, cwd=crate, env=base_env(env), capture_output=True, text=True,
                          timeout=600, check=False)
    results: dict[str, str] = {}
    if report and done.stdout.strip().startswith("{"):
        report_data = json.loads(done.stdout)
        results = {t["name"]: t["result"] for t in report_data["tasks"]}
    run = DoitRun(done.returncode, results, done.stdout, done.stderr)
    if check and run.code != 0:
        raise AssertionError(f"doit {' '.join(args)} exited {run.code}:\n{run.stdout}\n"
                             f"{run.stderr}")
    return run


def snapshot(*roots: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under `roots`: bytes and mtime (ns)."""
    found = {}
    for root in roots:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                found[str(path)] = (path.read_bytes(), path.stat().st_mtime_ns)
    return found


def dist_files(crate: Path, dist: str = "dist") -> dict[str, bytes]:
    root = crate / dist
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def crate(tmp_path: Path) -> Path:
    return make_crate(tmp_path / "counter")


# --- settings and checkers, no build -------------------------------------------------------


def write_metadata(crate: Path, text: str) -> None:
    manifest = crate / "Cargo.toml"
    manifest.write_text(manifest.read_text() + f"\n[package.metadata.rust-hmr]\n{text}\n")


def test_settings_layers(crate: Path) -> None:
    write_metadata(crate, 'dist-dir = "public"\nport = 9000\nwasm-opt = false\n'
                          'cache-max-size = "512 MiB"')
    settings = load_settings(crate, ("dodo.py", {"port": 9100}), env={})
    assert settings.dist_dir == "public"
    assert settings.port == 9100
    assert settings.wasm_opt == ""
    assert settings.cache_max_size == 512 * 1024**2
    assert settings.origin == {"dist_dir": "Cargo.toml", "port": "dodo.py",
                               "wasm_opt": "Cargo.toml", "cache_max_size": "Cargo.toml"}
    env = {"RUST_HMR_REMOTE_CACHE": "http://127.0.0.1:1/c", "RUST_HMR_CACHE_READ_ONLY": "1"}
    settings = load_settings(crate, ("the command line", {"remote-cache": "http://x/y"}),
                             env=env)
    assert settings.remote_cache == "http://x/y"
    assert settings.cache_read_only is True
    assert settings.path(crate, "dist_dir") == (crate / "public").resolve()


def test_settings_table_matches_the_dataclass() -> None:
    defaults = Settings()
    assert [s.attr for s in SETTINGS] == [
        f for f in Settings.__dataclass_fields__ if f != "origin"]
    for setting in SETTINGS:
        assert getattr(defaults, setting.attr) == setting.default, setting.key


def test_settings_errors_name_the_setting_and_the_source(crate: Path) -> None:
    write_metadata(crate, 'dist_dri = "x"')
    with pytest.raises(SettingsError, match=r"unknown setting 'dist_dri' \(did you mean"):
        load_settings(crate, env={})
    (crate / "Cargo.toml").write_text((EXAMPLES / "counter" / "Cargo.toml").read_text())
    with pytest.raises(SettingsError, match=r"port \(from the command line\): expected an "
                                            r"integer, got 'eighty'"):
        load_settings(crate, ("the command line", {"port": "eighty"}), env={})
    with pytest.raises(SettingsError, match="strip"):
        load_settings(crate, ("dodo.py", {"strip": "everything"}), env={})
    assert parse_size("2G") == 2 * 1024**3
    assert parse_size(1000) == 1000
    with pytest.raises(ValueError):
        parse_size("lots")


def test_blake3_checker_trusts_bytes_not_mtimes(tmp_path: Path) -> None:
    checker = Blake3Checker()
    path = tmp_path / "lib.rs"
    path.write_text("fn a() {}\n")
    state = checker.get_state(str(path), None)
    assert state is not None
    assert checker.get_state(str(path), state) is None  # unchanged: nothing to save
    os.utime(path, ns=(1, 1))  # a different mtime, the same bytes
    assert not checker.check_modified(str(path), path.stat(), state)
    path.write_text("fn b() {}\n")  # the same size, other bytes
    os.utime(path, ns=(1, 1))
    assert checker.check_modified(str(path), path.stat(), state)
    assert checker.check_modified(str(path), path.stat(), (0, "md5-state"))


def test_public_names_are_sorted() -> None:
    import rust_hmr.rules
    import rust_hmr.settings

    for module in (rust_hmr.rules, rust_hmr.settings):
        assert module.__all__ == sorted(module.__all__)
        for name in module.__all__:
            assert getattr(module, name) is not None


def test_doit_list_reads_like_the_pipeline(crate: Path) -> None:
    run = doit(crate, "list", report=False)
    names = [line.split()[0] for line in run.stdout.splitlines() if line.strip()]
    assert names == STAGES


def test_crate_tasks_rejects_a_directory_without_cargo_toml(tmp_path: Path) -> None:
    (tmp_path / "dodo.py").write_text(DODO)
    run = doit(tmp_path, "list", report=False, check=False)
    assert run.code == 3
    assert "is not a cargo crate (no Cargo.toml)" in run.stderr


# --- builds ------------------------------------------------------------------------------

@pytest.mark.slow
def test_second_bundle_runs_no_stage_and_changes_no_file(crate: Path) -> None:
    first = doit(crate, "bundle")
    assert first.ran == BUNDLE_STAGES
    before = snapshot(crate / "dist", crate / "target" / "rust-hmr" / "stages")
    second = doit(crate, "bundle")
    assert second.ran == set()
    assert set(second.results) >= BUNDLE_STAGES
    assert snapshot(crate / "dist", crate / "target" / "rust-hmr" / "stages") == before
    quiet = doit(crate, "bundle", report=False)
    assert quiet.stdout == ""
    assert quiet.stderr == "up to date\n"


@pytest.mark.slow
def test_an_edit_reruns_only_the_stages_downstream_of_it(crate: Path) -> None:
    doit(crate, "bundle")
    wasm_before = (crate / "target/rust-hmr/stages/compile-release/counter.wasm").read_bytes()

    # A comment at the end of a source: cargo runs, its output is the same bytes, so the
    # stages after it stay up to date (their inputs are compared by content).
    with (crate / "src" / "label.rs").open("a") as f:
        f.write("// a comment\n")
    run = doit(crate, "bundle")
    assert run.ran == {"compile:release"}
    assert (crate / "target/rust-hmr/stages/compile-release/counter.wasm").read_bytes() \
        == wasm_before

    # A change of code: everything after the toolchain.
    label = crate / "src" / "label.rs"
    label.write_text(label.read_text().replace("nothing yet", "zero so far"))
    dist_before = dist_files(crate)
    run = doit(crate, "bundle")
    assert run.ran == {"compile:release", "optimize", "bundle"}
    assert dist_files(crate) != dist_before

    # A new asset: only the bundle.
    (crate / "static").mkdir()
    (crate / "static" / "site.css").write_text("body { margin: 0 }\n")
    run = doit(crate, "bundle")
    assert run.ran == {"bundle"}
    assert any(name.startswith("site.") for name in dist_files(crate))

    # A rust-hmr setting in Cargo.toml: not the compile (the metadata table is left out of
    # its inputs), but the stages that use it.
    write_metadata(crate, 'strip = "all"')
    run = doit(crate, "bundle")
    assert run.ran == {"optimize", "bundle"}


@pytest.mark.slow
def test_settings_from_the_command_line(crate: Path) -> None:
    run = doit(crate, "bundle", "dist-dir=public", "--wasm-opt", "false")
    assert run.ran == BUNDLE_STAGES
    assert (crate / "public" / "manifest.json").is_file()
    assert not (crate / "dist").exists()
    run = doit(crate, "bundle", "--dist-dir", "www", "--strip", "everything", check=False)
    assert run.code == 3
    assert "strip (from the command line): expected debug, all or none" in run.stderr
    # `doit clean bundle` removes what the bundle wrote, and only that.
    (crate / "public" / "robots.txt").write_text("User-agent: *\n")
    doit(crate, "clean", "dist-dir=public", "bundle", report=False)
    assert [p.name for p in (crate / "public").iterdir()] == ["robots.txt"]


def test_doit_dev_starts_the_dev_server_for_the_dodo_crate(
    crate: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from doit import doit_cmd

    calls = []

    def run_dev(crate_dir: Path, host: str, port: int, settings: Settings,
                open_browser: bool, hot: bool, rules: Sequence[object]) -> int:
        calls.append((crate_dir, host, port, settings.reserve_pages, open_browser, hot,
                      tuple(rules)))
        return 0

    monkeypatch.setitem(sys.modules, "rust_hmr.dev", types.SimpleNamespace(run_dev=run_dev))
    monkeypatch.delitem(sys.modules, "dodo", raising=False)
    monkeypatch.chdir(crate)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setattr(doit_cmd, "_CMDLINE_VARS", None)  # doit's command-line variables
    write_metadata(crate, "reserve-pages = 16")
    main = doit_cmd.DoitMain(config_filenames=(), extra_config={"COMMAND": {
        "dev": "rust_hmr.rules.commands:DevCommand"}})
    assert main.run(["dev", "--port", "9123", "host=0.0.0.0"]) == 0
    assert main.run(["dev", "--open", "--no-hot"]) == 0
    assert calls == [(crate.resolve(), "0.0.0.0", 9123, 16, False, True, ()),
                     (crate.resolve(), "127.0.0.1", 8000, 16, True, False, ())]


@pytest.mark.slow
def test_doit_bundle_in_a_crate_without_a_dodo_file(tmp_path: Path) -> None:
    crate = make_crate(tmp_path / "counter", dodo=False)
    (crate / "doit.cfg").unlink()  # the package's entry points register the commands
    listed = doit(crate, "list", report=False).stdout.split()
    assert {"toolchain", "compile:release", "prepare", "optimize", "bundle"} <= set(listed)
    run = doit(crate, "bundle")
    assert run.ran == BUNDLE_STAGES
    assert (crate / "dist" / "index.html").is_file()
    assert doit(crate).ran == set()  # a bare `doit` runs the default task: up to date
    # `doit dev` reaches the dev server: pointed at a port that is taken, it says so and stops.
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = doit(crate, "dev", "--port", str(port), report=False, check=False)
    assert run.code != 0
    assert f"cannot listen on 127.0.0.1:{port}" in run.stderr


@pytest.mark.slow
def test_rust_hmr_bundle_command(tmp_path: Path) -> None:
    crate = make_crate(tmp_path / "counter", dodo=False)
    cmd = [sys.executable, "-c", "from rust_hmr.cli.cmd_bundle import bundle_command as c; "
           "c(prog_name='rust-hmr bundle')", str(crate), "--dist-dir", "site"]
    done = subprocess.run(cmd, env=base_env(), capture_output=True, text=True, check=False,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    assert "compile:release  cargo build --release" in done.stderr
    assert "Compiling counter" in done.stderr  # cargo's own progress, passed through
    assert (crate / "site" / "manifest.json").is_file()


@pytest.mark.slow
def test_a_compile_error_fails_with_rustc_diagnostics_and_keeps_dist(crate: Path) -> None:
    doit(crate, "bundle")
    before = dist_files(crate)
    (crate / "src" / "label.rs").write_text("pub fn render(count: i32) -> String { count }\n")
    run = doit(crate, "bundle", report=False, check=False)
    assert run.code == 1
    assert "error[E0308]: mismatched types" in run.stderr
    assert "error in compile:release: counter did not compile" in run.stderr
    assert "Traceback" not in run.stderr
    assert dist_files(crate) == before


@pytest.mark.slow
def test_dev_stages_prepare_the_module_for_hot_patching(crate: Path) -> None:
    from rust_hmr.host import Host
    from rust_hmr.prepare import SymbolMap

    run = doit(crate, "prepare")
    assert run.ran == {"toolchain", "compile:dev", "prepare"}
    prepared = crate / "target/rust-hmr/stages/prepare"
    symbols = SymbolMap.load(prepared / "symbols.msgpack")
    assert any(f.demangled.startswith("counter::") for f in symbols.hot)
    host = Host((prepared / "counter.wasm").read_bytes())
    assert host.call("increment") == 1
    assert doit(crate, "prepare").ran == set()
    # `prepare` is a cached action: forgotten by doit, it comes back from the cache.
    doit(crate, "forget", "prepare", report=False)
    before = snapshot(prepared)
    run = doit(crate, "prepare")
    assert run.ran == {"prepare"}
    assert snapshot(prepared) == before


def stage_names() -> Iterator[str]:
    from rust_hmr.rules import stage_tasks
    from rust_hmr.rules.crate import Crate

    crate = Crate((EXAMPLES / "counter").resolve(), Settings())
    for task in stage_tasks(crate):
        yield task["basename"] + (f":{task['name']}" if task.get("name") else "")


def test_stage_tasks_are_in_pipeline_order() -> None:
    assert list(stage_names()) == STAGES
