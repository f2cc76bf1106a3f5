"""The signals example (a Leptos-style runtime and a component) driven through the host."""

from __future__ import annotations

from pathlib import Path

import pytest
import wasmtime
from conftest import text_hash

from rust_hmr.host import Host, HostTrap

pytestmark = pytest.mark.slow

SIGNALS = 4  # count, name, rendered text, render count
EFFECTS = 2  # render, log


def rendered(host: Host) -> str:
    """The app's current text, read from its memory and checked against its checksum."""
    text = host.read_str(host.call("app_render_ptr"), host.call("app_render_len"))
    assert host.call("app_render_hash") == text_hash(text)
    return text


def set_name(host: Host, name: str) -> None:
    data = name.encode()
    ptr = host.call("app_alloc", len(data))
    host.write_bytes(ptr, data)
    host.call("app_set_name", ptr, len(data))
    host.call("app_free", ptr, len(data))


@pytest.fixture
def app(signals_debug_wasm: Path) -> Host:
    return Host(signals_debug_wasm)


def test_the_module_imports_only_the_log_function(app: Host) -> None:
    imports = [(imp.module, imp.name) for imp in app.compiled.module.imports]
    assert imports == [("env", "log")]
    assert "app_init" in app.exports and "__stack_pointer" in app.exports


def test_the_runtime_and_the_component_are_separate_crates(signals_crate: Path) -> None:
    # The runtime is examples/reactive, a path dependency the copy brought beside the crate.
    sources = {path.name for path in (signals_crate / "src").glob("*.rs")}
    assert {"lib.rs", "app.rs"} <= sources
    runtime = signals_crate.parent / "reactive"
    assert 'reactive = { path = "../reactive" }' in (signals_crate / "Cargo.toml").read_text()
    assert "thread_local!" in (runtime / "src" / "lib.rs").read_text()


def test_scripted_session(app: Host) -> None:
    assert app.call("app_init") == SIGNALS
    assert rendered(app) == "Hello, world! count = 0"
    assert app.call("app_renders") == 1
    assert app.call("effect_runs") == EFFECTS  # each effect ran once when created
    assert app.logs == ["render #1: Hello, world! count = 0", "signals app ready"]

    assert [app.call("app_click") for _ in range(3)] == [1, 2, 3]
    assert rendered(app) == "Hello, world! count = 3"
    assert app.call("app_renders") == 4
    # A click re-runs the render effect, whose writes queue the log effect once. The render
    # count is read untracked: tracked, the render effect would re-trigger itself forever.
    assert app.call("effect_runs") == EFFECTS + 3 * EFFECTS

    set_name(app, "Ferris")
    assert rendered(app) == "Hello, Ferris! count = 3"
    set_name(app, "Zoë 🦀")
    assert rendered(app) == "Hello, Zoë 🦀! count = 3"
    assert app.call("app_render_len") == len("Hello, Zoë 🦀! count = 3".encode())
    assert app.call("app_click") == 4
    assert app.call("app_count") == 4
    assert app.call("signal_count") == SIGNALS  # renders reuse the signals, never add
    assert app.call("effect_runs") == EFFECTS + 6 * EFFECTS
    assert app.logs == [
        "render #1: Hello, world! count = 0",
        "signals app ready",
        "render #2: Hello, world! count = 1",
        "render #3: Hello, world! count = 2",
        "render #4: Hello, world! count = 3",
        "render #5: Hello, Ferris! count = 3",
        "render #6: Hello, Zoë 🦀! count = 3",
        "render #7: Hello, Zoë 🦀! count = 4",
    ]


def test_init_is_idempotent(app: Host) -> None:
    app.call("app_init")
    app.call("app_click")
    assert app.call("app_init") == SIGNALS
    assert rendered(app) == "Hello, world! count = 1"
    assert app.call("app_renders") == 2
    assert app.logs.count("signals app ready") == 1


def test_each_host_has_its_own_app(app: Host, signals_debug_wasm: Path) -> None:
    app.call("app_init")
    app.call("app_click")
    other = Host(signals_debug_wasm)
    assert other.compiled.from_cache
    other.call("app_init")
    assert rendered(other) == "Hello, world! count = 0"
    assert rendered(app) == "Hello, world! count = 1"
    assert other.logs == app.logs[:2]


def test_a_missing_runtime_panics_like_leptos(app: Host) -> None:
    # What the seed's patched component met: a runtime that is not there. The panic hook
    # sends the message through env.log, and the trap quotes it.
    assert app.stack_pointer is not None
    stack_top = app.stack_pointer.value(app.store)
    with pytest.raises(HostTrap, match=r"(?s)^signal_count\(\) trapped.*no reactive runtime"):
        app.call("signal_count")
    with pytest.raises(HostTrap, match=r"(?s)^app_click\(\) trapped.*app not mounted") as err:
        app.call("app_click")
    assert err.value.trap_code == wasmtime.TrapCode.UNREACHABLE
    assert err.value.logs == [app.logs[-1]]
    # The runtime let go of its RefCell before panicking (a trap runs no destructor), and the
    # host put the stack pointer back: the app still starts.
    assert app.stack_pointer.value(app.store) == stack_top
    assert app.call("app_init") == SIGNALS
    assert app.call("app_click") == 1


def test_echo_prints_the_log(signals_debug_wasm: Path, capsys: pytest.CaptureFixture[str]) -> None:
    Host(signals_debug_wasm, echo=True).call("app_init")
    assert capsys.readouterr().out == "render #1: Hello, world! count = 0\nsignals app ready\n"
