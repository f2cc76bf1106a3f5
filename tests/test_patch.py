"""The patch linker's edit matrix: an example is built once, runs in a Host, and is then edited
the way a person edits it (a text replacement in a source file, saved). Every case checks what
`Project.rebuild()` returns *and* that the state the app had before the edit survives it.

Each case works on a private copy of an example. Some cases add a few lines to the copy before
its first build (a "preamble"): code the example does not need itself, but that gives the edit
something to change (a trait object, a generic function, an immutable static).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import wasmtime
from conftest import text_hash

from rust_hmr import Build, CompileError, FullReload, Patch, Project
from rust_hmr.host import Host

pytestmark = pytest.mark.slow

_HASH_SUFFIX = re.compile(r"::h[0-9a-f]{16}$")


def bare(name: str) -> str:
    """A demangled name without its legacy hash suffix (`...::h0123456789abcdef`)."""
    return _HASH_SUFFIX.sub("", name)


def describe(result: object) -> str:
    if isinstance(result, FullReload):
        return f"FullReload: {result.reason}"
    if isinstance(result, CompileError):
        return f"CompileError:\n{result.stderr[-3000:]}"
    return repr(result)


class Session:
    """A private copy of an example, built once and running in a Host; edits patch it."""

    def __init__(self, tmp_path: Path, example: str,
                 preamble: tuple[tuple[str, str, str], ...] = ()) -> None:
        from conftest import EXAMPLES, copy_crate

        self.crate = copy_crate(EXAMPLES / example, tmp_path / example)
        for file, old, new in preamble:
            self.edit(file, old, new)
        self.project = Project(self.crate)
        self.build: Build = self.project.build()
        self.host = Host(self.build)
        self.patches: list[Patch] = []

    def source(self, file: str) -> Path:
        return self.crate / "src" / file

    def edit(self, file: str, old: str, new: str) -> None:
        """Replaces the one occurrence of `old` in src/`file` and saves the file."""
        path = self.source(file)
        text = path.read_text()
        assert text.count(old) == 1, f"src/{file}: {old!r} occurs {text.count(old)} times"
        path.write_text(text.replace(old, new))

    def patch(self, *edits: tuple[str, str, str]) -> Patch:
        """Makes the edits, rebuilds, checks the Patch and applies it to the running host."""
        for file, old, new in edits:
            self.edit(file, old, new)
        result = self.project.rebuild()
        assert isinstance(result, Patch), f"expected a Patch, got {describe(result)}"
        self.check(result)
        self.host.apply(result)
        if not result.empty:
            self.patches.append(result)
        return result

    def check(self, patch: Patch) -> None:
        reserved = self.build.symbols.reserved
        assert {"cargo", "link"} <= patch.timings.keys(), patch.timings
        assert all(seconds >= 0 for seconds in patch.timings.values())
        assert 0 <= patch.ledger_memory_used <= reserved.memory_size
        assert 0 <= patch.ledger_slots_used <= reserved.table_size
        if patch.empty:
            assert (patch.module, patch.functions, patch.objects) == (b"", (), ())
            return
        if self.patches:
            last = self.patches[-1]
            assert patch.id > last.id
            assert patch.ledger_memory_used >= last.ledger_memory_used
            assert patch.ledger_slots_used >= last.ledger_slots_used
        assert patch.objects, "a patch names its dirty units"
        assert patch.placed_bytes >= 0
        wasmtime.Module.validate(self.host.engine, patch.module)
        # Only the dirty units go in: a patch is a small fraction of the main module.
        assert len(patch.module) < self.build.module_path.stat().st_size // 4

    def functions(self, patch: Patch) -> set[str]:
        return {bare(name) for name in patch.functions}

    def call(self, name: str, *args: int) -> object:
        return self.host.call(name, *args)


def calls(session: Session, name: str, times: int, *args: int) -> list[object]:
    return [session.call(name, *args) for _ in range(times)]


# Function bodies, literals, statics and consts


def test_function_body(tmp_path: Path) -> None:
    s = Session(tmp_path, "counter")
    assert calls(s, "increment", 3) == [1, 2, 3]
    assert s.call("add", 4) == 7

    patch = s.patch(("lib.rs", "let value = COUNT.fetch_add(n, Ordering::SeqCst) + n;",
                     "let value = COUNT.fetch_add(2 * n, Ordering::SeqCst) + 2 * n;"))
    assert patch.id == 1
    assert "add" in s.functions(patch)  # #[no_mangle]: the symbol is the plain name
    assert patch.changed == ("add",)  # the unit's other functions are re-sent, not changed
    assert s.call("get") == 7  # the static kept its value
    assert s.call("history_len") == 4 and s.call("history_sum") == 1 + 2 + 3 + 7
    assert s.call("increment") == 9  # increment calls add directly: through its slot
    assert s.call("add", 5) == 19
    assert s.call("history_len") == 6 and s.call("history_sum") == 13 + 9 + 19


def test_nothing_changed_gives_an_empty_patch(tmp_path: Path) -> None:
    s = Session(tmp_path, "counter")
    assert calls(s, "increment", 2) == [1, 2]
    nothing = s.patch()
    assert nothing.empty and nothing.id == 0
    lib = s.source("lib.rs")
    lib.write_text(lib.read_text())  # saved again, unchanged: cargo recompiles, same objects
    again = s.patch()
    assert again.empty and again.id == 0
    assert s.call("increment") == 3 and s.call("history_len") == 3
    real = s.patch(("lib.rs", "    get() + n\n", "    get() + n + 1\n"))
    assert not real.empty and real.functions and real.id == 1
    assert s.patch().empty and s.host.applied == [1]  # nothing since patch 1
    assert s.call("preview_add", 10) == 14


def test_string_literal(tmp_path: Path) -> None:
    s = Session(tmp_path, "counter")
    calls(s, "increment", 2)
    s.call("reset")
    assert s.call("label_hash") == text_hash("nothing yet")

    patch = s.patch(("label.rs", 'String::from("nothing yet")', 'String::from("zero so far")'))
    assert "counter::label::render" in s.functions(patch)
    assert "counter::label::render" in patch.changed  # its literal changed, so it did
    assert patch.placed_bytes >= len("zero so far")  # the new literal lives in reserved pages
    assert s.call("label_hash") == text_hash("zero so far")
    assert s.call("label_len") == len("zero so far")
    assert s.call("history_len") == 2  # the thread_local kept its entries
    assert s.call("increment") == 1
    assert s.call("label_hash") == text_hash("one click")  # the untouched literals still read
    s.call("add", 4)
    assert s.call("label_hash") == text_hash("5 clicks")


def test_immutable_static(tmp_path: Path) -> None:
    """A read-only static's new value must be seen: it is part of the code, not state."""
    s = Session(tmp_path, "counter",
                preamble=(("lib.rs", "const STEP: i32 = 1;", "static STEP: i32 = 1;"),))
    assert calls(s, "increment", 2) == [1, 2]
    s.patch(("lib.rs", "static STEP: i32 = 1;", "static STEP: i32 = 5;"))
    assert s.call("get") == 2
    assert s.call("increment") == 7
    assert s.call("history_len") == 3


def test_const(tmp_path: Path) -> None:
    """A `const` is inlined into its users: the edit changes `increment`'s code."""
    s = Session(tmp_path, "counter")
    assert calls(s, "increment", 2) == [1, 2]
    patch = s.patch(("lib.rs", "const STEP: i32 = 1;", "const STEP: i32 = 3;"))
    assert "increment" in s.functions(patch)
    assert s.call("increment") == 5
    assert s.call("add", 1) == 6  # add itself is unchanged


def test_new_helper_function(tmp_path: Path) -> None:
    s = Session(tmp_path, "counter")
    assert s.call("add", 10) == 10
    assert s.call("preview_add", 3) == 13
    patch = s.patch(("lib.rs", "    get() + n\n}",
                     "    get() + twice(n)\n}\n\nfn twice(n: i32) -> i32 {\n    n * 2\n}"))
    assert "preview_add" in s.functions(patch)
    assert s.call("preview_add", 3) == 16
    assert s.call("get") == 10
    # The helper exists only in patches: changing it again must reach preview_add too.
    s.patch(("lib.rs", "    n * 2\n", "    n * 3\n"))
    assert s.call("preview_add", 3) == 19
    assert s.call("increment") == 11


def test_new_static_keeps_its_value_through_later_patches(tmp_path: Path) -> None:
    s = Session(tmp_path, "counter")
    assert calls(s, "increment", 2) == [1, 2]

    first = s.patch(
        ("lib.rs", "static COUNT: AtomicI32 = AtomicI32::new(0);",
         "static COUNT: AtomicI32 = AtomicI32::new(0);\n\n"
         "/// Everything preview_add was asked, added up.\n"
         "static ASKED: AtomicI32 = AtomicI32::new(100);"),
        ("lib.rs", "    get() + n\n}", "    ASKED.fetch_add(n, Ordering::SeqCst) + n\n}"),
    )
    assert first.placed_bytes >= 4 and first.ledger_memory_used >= 4
    assert s.call("get") == 2  # COUNT is the main module's, not a fresh copy
    assert s.call("preview_add", 1) == 101  # ASKED starts at its initial value
    assert s.call("preview_add", 2) == 103

    # Another patch of the same unit: ASKED is defined in it again, and must keep its address
    # and its value (its initial value must not be written a second time).
    s.patch(("lib.rs", "    add(STEP)\n", "    add(STEP + 1)\n"))
    assert s.call("preview_add", 0) == 103
    assert s.call("increment") == 4

    third = s.patch(("lib.rs", "ASKED.fetch_add(n, Ordering::SeqCst) + n\n",
                     "ASKED.fetch_add(n, Ordering::SeqCst) + n + 1000\n"))
    assert "preview_add" in s.functions(third)
    assert s.call("preview_add", 1) == 104 + 1000
    assert s.call("get") == 4 and s.call("history_len") == 3


def test_closure(tmp_path: Path) -> None:
    s = Session(tmp_path, "counter")
    assert calls(s, "increment", 3) == [1, 2, 3]
    assert s.call("history_sum") == 6
    patch = s.patch(("history.rs", ".map(|&v| v as i64)", ".map(|&v| v as i64 * 10)"))
    assert any(f.startswith("counter::history::sum::{{closure}}") for f in s.functions(patch))
    assert s.call("history_sum") == 60
    assert s.call("history_len") == 3
    assert s.call("increment") == 4
    assert s.call("history_sum") == 100


# Trait objects and generics (preambles: the counter has neither of its own)

DYN_PREAMBLE = """
/// A trait object in a thread-local, made by the main module's code: its vtable and its
/// state were there before any patch.
trait Bonus {
    fn bonus(&self, count: i32) -> i32;
}

struct Scaled {
    factor: i32,
    calls: std::cell::Cell<i32>,
}

impl Bonus for Scaled {
    fn bonus(&self, count: i32) -> i32 {
        self.calls.set(self.calls.get() + 1);
        count * self.factor
    }
}

thread_local! {
    static BONUS: Box<dyn Bonus> =
        Box::new(Scaled { factor: 10, calls: std::cell::Cell::new(0) });
}

#[no_mangle]
pub extern "C" fn bonus() -> i32 {
    BONUS.with(|b| b.bonus(get()))
}
"""


def test_trait_method_through_dyn(tmp_path: Path) -> None:
    s = Session(tmp_path, "counter",
                preamble=(("lib.rs", "mod label;\n", "mod label;\n" + DYN_PREAMBLE),))
    calls(s, "increment", 2)
    assert calls(s, "bonus", 3) == [20, 20, 20]

    # The method behind the existing vtable changes; the object (and its call count) stays.
    patch = s.patch(("lib.rs", "        count * self.factor\n",
                     "        count * self.factor + 1000 * self.calls.get()\n"))
    assert any("as counter::Bonus>::bonus" in f for f in s.functions(patch)), patch.functions
    assert s.call("bonus") == 20 + 4000

    # A new implementation: a new vtable in the reserved pages, its method in a spare slot.
    slots_before = patch.ledger_slots_used
    added = s.patch(
        ("lib.rs", "thread_local! {\n    static BONUS",
         "struct Flat;\n\nimpl Bonus for Flat {\n    fn bonus(&self, count: i32) -> i32 {\n"
         "        count + 1\n    }\n}\n\nthread_local! {\n    static BONUS"),
        ("lib.rs", "    BONUS.with(|b| b.bonus(get()))\n",
         "    let extra: Box<dyn Bonus> = Box::new(Flat);\n"
         "    BONUS.with(|b| b.bonus(get())) + extra.bonus(0)\n"),
    )
    assert added.ledger_slots_used > slots_before
    assert s.call("bonus") == 20 + 5000 + 1
    assert s.call("get") == 2


GENERIC_PREAMBLE = """
fn widen<T: Into<i64>>(value: T) -> i64 {
    value.into()
}

/// Two instantiations of one generic function: widen::<i32> and widen::<u8>.
#[no_mangle]
pub extern "C" fn widened() -> i64 {
    widen(get()) + widen(history_len() as u8)
}
"""


def test_generic_function(tmp_path: Path) -> None:
    s = Session(tmp_path, "counter",
                preamble=(("lib.rs", "mod label;\n", "mod label;\n" + GENERIC_PREAMBLE),))
    calls(s, "increment", 3)
    assert s.call("widened") == 3 + 3
    patch = s.patch(("lib.rs", "    value.into()\n", "    value.into() * 10\n"))
    # Instantiations share one name in `functions`; the answers show both changed.
    assert "counter::widen" in s.functions(patch)
    assert s.call("widened") == 60
    assert s.call("increment") == 4
    assert s.call("widened") == 80


# The signals example: a Leptos-style runtime in a thread_local!


def rendered(host: Host) -> str:
    from test_signals_example import rendered

    return rendered(host)


def set_name(host: Host, name: str) -> None:
    from test_signals_example import set_name

    set_name(host, name)


def test_signals_component_keeps_its_runtime(tmp_path: Path) -> None:
    """The seed's Leptos failure: a patched component must see the main module's runtime."""
    s = Session(tmp_path, "signals")
    host = s.host
    assert s.call("app_init") == 4
    assert calls(s, "app_click", 3) == [1, 2, 3]
    set_name(host, "Ferris")
    assert rendered(host) == "Hello, Ferris! count = 3"
    assert s.call("effect_runs") == 10

    patch = s.patch(("app.rs", 'format!("Hello, {}! count = {}", name, count)',
                     'format!("Hi {}, you clicked {} times", name, count)'))
    assert "signals::app::view" in s.functions(patch)
    assert rendered(host) == "Hello, Ferris! count = 3"  # no render since the patch
    assert s.call("app_click") == 4
    assert rendered(host) == "Hi Ferris, you clicked 4 times"
    assert s.call("app_renders") == 6
    assert s.call("effect_runs") == 12
    assert s.call("signal_count") == 4
    assert host.logs[-1] == "render #6: Hi Ferris, you clicked 4 times"
    assert s.call("app_init") == 4  # mounted once: init finds the app it made
    assert host.logs.count("signals app ready") == 1
    set_name(host, "Zoë")
    assert rendered(host) == "Hi Zoë, you clicked 4 times"

    # The log effect's closure: the runtime holds it as an Rc<dyn Fn()> made before the patch.
    closure = s.patch(("app.rs", 'format!("render #{}: {}", renders.get(), text)',
                       'format!("render {} -> {}", renders.get(), text)'))
    assert any(f.startswith("signals::app::mount::{{closure}}") for f in s.functions(closure))
    assert s.call("app_click") == 5
    assert host.logs[-1] == "render 8 -> Hi Zoë, you clicked 5 times"
    assert s.call("effect_runs") == 16 and s.call("signal_count") == 4

    # A private function that rustc keeps local to its unit (`fn app()` in lib.rs).
    s.patch(("lib.rs", "fn app() -> App {\n", 'fn app() -> App {\n    host::log("app()");\n'))
    assert s.call("app_count") == 5
    assert host.logs[-1] == "app()"


def test_struct_growing_inside_a_static_needs_a_full_reload(tmp_path: Path) -> None:
    s = Session(tmp_path, "signals")
    s.call("app_init")
    assert calls(s, "app_click", 2) == [1, 2]
    s.edit("app.rs", "    pub renders: ReadSignal<u32>,\n}",
           "    pub renders: ReadSignal<u32>,\n    pub started: u32,\n}")
    s.edit("app.rs", "App { count, set_count, set_name, output, renders }",
           "App { count, set_count, set_name, output, renders, started: 7 }")
    result = s.project.rebuild()
    assert isinstance(result, FullReload), describe(result)
    # The type whose layout changed, and how; the thread_local APP holds one.
    assert "struct signals::app::App: field `started: u32` added" in result.reason, result.reason
    assert "_ZN" not in result.reason
    with pytest.raises(TypeError, match="FullReload"):
        s.host.apply(result)
    assert s.call("app_click") == 3  # nothing was applied: the old code runs on
    assert rendered(s.host) == "Hello, world! count = 3"

    # The way on: a new build and a new Host; patching then continues from that build.
    build = s.project.build()
    host = Host(build)
    assert host.call("app_init") == 4 and host.call("app_click") == 1
    s.build, s.host = build, host
    s.patches.clear()
    s.patch(("app.rs", 'format!("Hello, {}! count = {}", name, count)',
             'format!("Hello again, {}! count = {}", name, count)'))
    assert host.call("app_click") == 2
    assert rendered(host) == "Hello again, world! count = 2"


# Signatures, compile errors, undo, a long session


def test_signature_change_with_every_caller(tmp_path: Path) -> None:
    s = Session(tmp_path, "counter")
    assert calls(s, "increment", 2) == [1, 2]
    s.edit("history.rs", "pub fn record(value: i32) {\n    HISTORY.with(|h| h.borrow_mut()"
           ".push(value));", "pub fn record(value: i32, weight: i32) {\n    HISTORY.with(|h| "
           "h.borrow_mut().push(value * weight));")
    s.edit("lib.rs", "history::record(value);", "history::record(value, 2);")
    result = s.project.rebuild()
    if isinstance(result, FullReload):
        assert "counter::history::record" in result.reason, result.reason
        build = s.project.build()
        host = Host(build)
        assert host.call("increment") == 1 and host.call("history_sum") == 2
        return
    assert isinstance(result, Patch), describe(result)
    s.check(result)
    s.host.apply(result)
    assert s.call("get") == 2 and s.call("history_sum") == 3
    assert s.call("increment") == 3
    assert s.call("history_len") == 3 and s.call("history_sum") == 3 + 6
    assert s.call("add", 2) == 5
    assert s.call("history_sum") == 9 + 10


def test_compile_error_keeps_the_old_code_and_the_next_save_patches(tmp_path: Path) -> None:
    s = Session(tmp_path, "counter")
    assert calls(s, "increment", 2) == [1, 2]
    s.edit("lib.rs", "add(STEP)", "add(STEP")
    result = s.project.rebuild()
    assert isinstance(result, CompileError), describe(result)
    assert "error" in result.stderr and "lib.rs" in result.stderr
    with pytest.raises(TypeError, match="CompileError"):
        s.host.apply(result)
    assert s.call("increment") == 3  # the old code answers
    patch = s.patch(("lib.rs", "add(STEP", "add(STEP * 4)"))
    assert patch.id == 1 and "increment" in s.functions(patch)
    assert s.call("increment") == 7
    assert s.call("history_len") == 4


def test_undo_brings_the_old_behaviour_back(tmp_path: Path) -> None:
    s = Session(tmp_path, "counter")
    label = s.source("label.rs")
    original = label.read_text()
    calls(s, "increment", 3)
    assert s.call("label_hash") == text_hash("3 clicks")

    s.patch(("label.rs", 'format!("{} clicks", n)', 'format!("{} taps", n)'))
    assert s.call("label_hash") == text_hash("3 taps")
    label.write_text(original)  # the editor's undo
    undo = s.patch()
    assert "counter::label::render" in s.functions(undo)
    assert s.call("label_hash") == text_hash("3 clicks")
    assert s.call("increment") == 4
    assert s.call("label_hash") == text_hash("4 clicks")
    assert s.call("history_len") == 4


def test_twenty_patches_in_a_row(tmp_path: Path) -> None:
    s = Session(tmp_path, "counter")
    reserved = s.build.symbols.reserved
    label_text, preview_text = 'format!("{} clicks", n)', "    get() + n\n"
    word, offset = "clicks", 0
    memory_used = []
    assert s.call("increment") == 1
    for k in range(1, 21):
        if k % 2:  # odd: the label unit; even: the crate's root unit
            word, new = f"clicks v{k}", f'format!("{{}} clicks v{k}", n)'
            patch = s.patch(("label.rs", label_text, new))
            label_text = new
        else:
            offset, new = k, f"    get() + n + {k}\n"
            patch = s.patch(("lib.rs", preview_text, new))
            preview_text = new
        assert patch.id == k
        assert s.call("increment") == 1 + k  # one click before the first patch
        count = 1 + k
        assert s.call("label_hash") == text_hash(f"{count} {word}"), k
        assert s.call("preview_add", 1) == count + 1 + offset, k
        memory_used.append(patch.ledger_memory_used)
    assert memory_used == sorted(memory_used), memory_used
    assert memory_used[-1] <= reserved.memory_size
    assert s.call("history_len") == 21


def test_a_patch_calls_the_apps_own_imports(tmp_path: Path) -> None:
    """The page interface is an import of the main module, not an export: a patch of the unit
    that calls it imports it as the object does, even when rustc mangles its symbol name
    (#[link(wasm_import_module = "env")])."""
    s = Session(tmp_path, "counter", preamble=(
        ("page.rs", 'extern "C" {', '#[link(wasm_import_module = "env")]\nextern "C" {'),))
    s.call("increment")
    s.call("render")
    assert s.host.page["count"] == "one click"
    s.patch(("page.rs", "unsafe { dom_set_text(id.as_ptr(), id.len(), text.as_ptr(), text.len()) }",
             "let text = format!(\"[{}]\", text);\n"
             "    unsafe { dom_set_text(id.as_ptr(), id.len(), text.as_ptr(), text.len()) }"))
    s.call("render")
    assert s.host.page["count"] == "[one click]"
    assert s.call("get") == 1


# Calls between patches: through slots, whichever patch defined the callee


def test_a_patch_calls_the_newest_code_of_a_function_an_earlier_patch_also_sent(
        tmp_path: Path) -> None:
    """Patch 1 sends two units; patch 2 changes only one of them. The other unit's code in
    patch 1 must call the newest code, not patch 1's own copy."""
    s = Session(tmp_path, "counter")
    s.call("add", 5)
    s.patch(("label.rs", 'format!("{} clicks", n)', 'format!("{} taps", n)'),
            ("lib.rs", "label::render(get()).len() as i32",
             "label::render(get()).len() as i32 + 1000"))
    assert s.call("label_len") == len("5 taps") + 1000
    s.patch(("label.rs", 'format!("{} taps", n)', 'format!("{} presses", n)'))
    assert s.call("label_len") == len("5 presses") + 1000  # patch 1's label_len, newest render
    assert s.call("label_hash") == text_hash("5 presses")


def test_a_function_only_an_earlier_patch_has(tmp_path: Path) -> None:
    """Patch 1 adds a helper; patch 2, in another unit, calls it; patch 3 changes it, and the
    caller of patch 2 sees the change."""
    s = Session(tmp_path, "counter")
    s.call("add", 2)
    s.patch(("label.rs", "pub fn render(count: i32) -> String {",
             "pub fn loud(text: String) -> String {\n    format!(\"{}!\", text)\n}\n\n"
             "pub fn render(count: i32) -> String {"),
            ("label.rs", 'n => format!("{} clicks", n),', 'n => loud(format!("{} clicks", n)),'))
    assert s.call("label_hash") == text_hash("2 clicks!")
    s.patch(("lib.rs", "label::render(get()).len() as i32",
             "label::loud(label::render(get())).len() as i32"))
    assert s.call("label_len") == len("2 clicks!!")
    s.patch(("label.rs", 'format!("{}!", text)', 'format!("{}?", text)'))
    assert s.call("label_len") == len("2 clicks??")
    assert s.call("label_hash") == text_hash("2 clicks?")
    assert s.call("get") == 2 and s.call("history_len") == 1


# Closures renumbered by an edit: a slot never receives another closure's code

OPS_PREAMBLE = """
/// A table of fn pointers made from closures, kept in state: what renumbering would break.
type Op = fn(i32) -> i32;

thread_local! {
    static OPS: std::cell::RefCell<Vec<Op>> = std::cell::RefCell::new(Vec::new());
}

fn install() -> Vec<Op> {
    vec![
        |x| x + 1,
        |x| x * 2,
        |x| x - 3,
    ]
}

#[no_mangle]
pub extern "C" fn ops_init() -> i32 {
    OPS.with(|ops| *ops.borrow_mut() = install());
    OPS.with(|ops| ops.borrow().len() as i32)
}

#[no_mangle]
pub extern "C" fn op(k: i32, x: i32) -> i32 {
    OPS.with(|ops| ops.borrow()[k as usize](x))
}
"""


def test_a_closure_added_before_others_leaves_stored_pointers_their_own_code(
        tmp_path: Path) -> None:
    s = Session(tmp_path, "counter",
                preamble=(("lib.rs", "mod label;\n", "mod label;\n" + OPS_PREAMBLE),))
    assert s.call("ops_init") == 3
    assert [s.call("op", k, 5) for k in range(3)] == [6, 10, 2]
    s.patch(("lib.rs", "    vec![\n        |x| x + 1,", "    vec![\n        |x| x * 100,\n"
             "        |x| x + 1,"))
    assert [s.call("op", k, 5) for k in range(3)] == [6, 10, 2]  # the table made before
    s.patch(("lib.rs", "        |x| x * 2,", "        |x| x * 3,"))
    assert [s.call("op", k, 5) for k in range(3)] == [6, 15, 2]  # the edited one, only it
    assert s.call("ops_init") == 4
    assert [s.call("op", k, 5) for k in range(4)] == [500, 6, 15, 2]
    s.patch(("lib.rs", "        |x| x * 100,\n", ""))  # and removed again
    assert [s.call("op", k, 5) for k in range(4)] == [500, 6, 15, 2]
    assert s.call("ops_init") == 3
    assert [s.call("op", k, 5) for k in range(3)] == [6, 15, 2]


HOOKS_PREAMBLE = """
thread_local! {
    static HOOKS: std::cell::RefCell<Vec<Box<dyn Fn(i32) -> i32>>> =
        std::cell::RefCell::new(Vec::new());
}

/// Boxes a closure that captures `base` and keeps it: its environment lives on the heap.
#[no_mangle]
pub extern "C" fn hook_add(base: i32) -> i32 {
    let hook: Box<dyn Fn(i32) -> i32> = Box::new(move |x| x + base);
    HOOKS.with(|h| h.borrow_mut().push(hook));
    HOOKS.with(|h| h.borrow().len() as i32)
}

#[no_mangle]
pub extern "C" fn hook_run(k: i32, x: i32) -> i32 {
    HOOKS.with(|h| h.borrow()[k as usize](x))
}
"""


def test_a_boxed_closure_that_captures_more_needs_a_full_reload(tmp_path: Path) -> None:
    """The closure boxed before the edit holds the old captures: the new code can't read them,
    and the old code would answer differently from a fresh build. Only a reload is right."""
    s = Session(tmp_path, "counter",
                preamble=(("lib.rs", "mod label;\n", "mod label;\n" + HOOKS_PREAMBLE),))
    assert s.call("hook_add", 1) == 1
    assert s.call("hook_run", 0, 5) == 6
    s.edit("lib.rs", "Box::new(move |x| x + base);",
           "{\n        let scale = 10i64;\n"
           "        Box::new(move |x| x * scale as i32 + base)\n    };")
    result = s.project.rebuild()
    assert isinstance(result, FullReload), describe(result)
    assert "closure of counter::hook_add at src/lib.rs:" in result.reason, result.reason
    assert s.call("hook_run", 0, 5) == 6  # nothing was applied
    host = Host(s.project.build())
    assert host.call("hook_add", 1) == 1 and host.call("hook_run", 0, 5) == 51


def test_a_closure_that_is_never_stored_changes_freely(tmp_path: Path) -> None:
    """An iterator's closures on an edited line, beside a new one: none of them is held in
    state, so the edit patches."""
    s = Session(tmp_path, "counter")
    assert calls(s, "increment", 3) == [1, 2, 3]
    s.patch(("history.rs", ".map(|&v| v as i64).sum()",
             ".map(|&v| v as i64).filter(|&v| v > 1).map(|v| v * 10).sum()"))
    assert s.call("history_sum") == 50
    s.patch(("history.rs", ".filter(|&v| v > 1).map(|v| v * 10)", ".map(|v| v + 1)"))
    assert s.call("history_sum") == 9
    assert s.call("increment") == 4 and s.call("history_sum") == 14


TWO_METHODS = (
    ("lib.rs", "mod label;\n", "mod label;\n" + DYN_PREAMBLE),
    ("lib.rs", "    fn bonus(&self, count: i32) -> i32;\n",
     "    fn bonus(&self, count: i32) -> i32;\n    fn extra(&self) -> i32;\n"),
    ("lib.rs", "impl Bonus for Scaled {\n",
     "impl Bonus for Scaled {\n    fn extra(&self) -> i32 {\n        7\n    }\n\n"),
    ("lib.rs", "BONUS.with(|b| b.bonus(get()))",
     "BONUS.with(|b| b.bonus(get()) * 100 + b.extra())"),
)


@pytest.mark.parametrize(("old", "new", "reason"), [
    ("    fn extra(&self) -> i32;\n", "    fn extra(&self) -> i32;\n    fn more(&self) -> i32 {\n"
     "        1\n    }\n", "method table of <counter::Scaled as counter::Bonus> changed (2 → 3"),
    ("    fn bonus(&self, count: i32) -> i32;\n    fn extra(&self) -> i32;\n",
     "    fn extra(&self) -> i32;\n    fn bonus(&self, count: i32) -> i32;\n",
     "methods of counter::Bonus for counter::Scaled changed their order or names (bonus, extra"),
], ids=["method added", "methods reordered"])
def test_a_trait_whose_methods_moved_needs_a_full_reload(tmp_path: Path, old: str, new: str,
                                                         reason: str) -> None:
    """The trait object in the thread-local was made with the old method table: new code
    calling method k through it would run another method."""
    s = Session(tmp_path, "counter", preamble=TWO_METHODS)
    s.call("increment")
    assert s.call("bonus") == 1007
    s.edit("lib.rs", old, new)
    if "more" in new:
        s.edit("lib.rs", "b.bonus(get()) * 100 + b.extra()", "b.bonus(get()) * 100 + b.more()")
    result = s.project.rebuild()
    assert isinstance(result, FullReload), describe(result)
    assert reason in result.reason, result.reason
    assert s.call("bonus") == 1007  # nothing was applied
