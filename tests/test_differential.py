"""Differential tests on the interp example: edits patched into a running interpreter must
answer what a fresh build answers (the method: tests/differential.py; the edits:
tests/interp_edits.py).

One case per class of patch bug found on a real interpreter, a long scripted session, and random
sequences from the catalogue. Every case asserts that no patch answered WRONG; a class case also
says which outcome is acceptable: a patch, or a full reload whose reason names what changed in
readable words. Classes 3, 4 and 6 are everyday edits that a patch must handle: a reload there
loses the app's state for nothing, so it fails the case too.

`RUST_HMR_DIFF_EDITS=N` makes each random sequence N edits long (default 8);
`RUST_HMR_DIFF_SEEDS=a,b,...` picks its seeds (default 1,2; 1 under CI=true).
"""

from __future__ import annotations

import os
import random
from collections.abc import Sequence
from pathlib import Path

import pytest
from conftest import EXAMPLES
from differential import Differential, Edit, Outcome, RevertFile, readable, tally, wrong
from interp_edits import (
    ADD_FIRST,
    ADD_LAST,
    ADD_MIDDLE,
    BINDING_FIELD,
    BODY_EQ,
    BODY_EXCLAIM,
    BODY_HOOK,
    BODY_LEN,
    BODY_PLUS,
    CATALOGUE,
    COMPILE_ERROR,
    ENUM_MIDDLE,
    ERROR_VARIANT,
    FORMAT_LIST,
    HELPER_ADD,
    HELPER_CALL,
    HELPER_CHANGE,
    MSG_DIVIDE,
    MSG_TYPE,
    MSG_UNBOUND,
    ONE_MODULE,
    REMOVE_LESS,
    RENAME_BINDING,
    RETYPE_USES,
    SIGNATURE,
    STD_HASHSET,
    STD_LOWER,
    STD_PANIC,
    STD_REPEAT,
    STD_UPPER,
    TWO_MODULES,
    TYPE_NAME,
    WORKLOAD,
)

from rust_hmr.toolchain import Toolchain

pytestmark = [pytest.mark.slow, pytest.mark.differential]


def session(tmp_path: Path, toolchain: Toolchain) -> Differential:
    return Differential(EXAMPLES / "interp", tmp_path, toolchain, WORKLOAD)


def assert_right(outcomes: Sequence[Outcome]) -> None:
    assert not wrong(outcomes), "patches answered WRONG:\n" + tally(outcomes)


def assert_patched(outcomes: Sequence[Outcome]) -> None:
    """Every edit gave a patch (that answered right)."""
    assert_right(outcomes)
    reloads = [o for o in outcomes if o.result != "patch"]
    assert not reloads, "expected patches:\n" + "\n".join(map(str, reloads))


def assert_patched_or_reloaded(outcomes: Sequence[Outcome], *names: str) -> None:
    """Every edit gave a right patch, or a full reload whose reason names one of `names`
    without mangled symbols."""
    assert_right(outcomes)
    for outcome in outcomes:
        if outcome.result == "full-reload":
            assert readable(outcome.reason), f"mangled names in the reason: {outcome}"
            assert any(name in outcome.reason for name in names), (
                f"the reason names none of {names}: {outcome}")
        else:
            assert outcome.result == "patch", str(outcome)


# One case per class


def test_closure_renumbering(tmp_path: Path, toolchain: Toolchain) -> None:
    """Class 1: closures are named by their index in `install`; the builtins table holds fn
    pointers to them. Adding or removing one must not make `=` run `*`."""
    s = session(tmp_path, toolchain)
    outcomes = s.run([ADD_FIRST, REMOVE_LESS, ADD_LAST, BODY_EQ])
    assert_patched_or_reloaded(outcomes, "install", "closure")


def test_heap_layouts(tmp_path: Path, toolchain: Toolchain) -> None:
    """Class 2: values of a changed type live on the heap (a HashMap in a thread_local): no
    static changed size, yet old values can't be read with the new layout."""
    s = session(tmp_path, toolchain)
    outcomes = s.run([ENUM_MIDDLE, ENUM_MIDDLE.reverted(), BINDING_FIELD])
    assert_patched_or_reloaded(outcomes, "Value", "Binding")


def test_patched_code_calls_the_newest_copy(tmp_path: Path, toolchain: Toolchain) -> None:
    """Class 3: a patch with `type-of` (env) and `type_name` (value), then one with only
    `type_name`: the patched `type-of` must call the newest `type_name`."""
    s = session(tmp_path, toolchain)
    assert_patched(s.run([TWO_MODULES, ONE_MODULE]))


def test_functions_only_a_patch_has(tmp_path: Path, toolchain: Toolchain) -> None:
    """Class 4: a helper added by one patch, called from another module by the next, changed by
    the one after."""
    s = session(tmp_path, toolchain)
    assert_patched(s.run([HELPER_ADD, HELPER_CALL, HELPER_CHANGE]))


def test_a_function_internal_to_its_unit_in_the_main_module(tmp_path: Path,
                                                             toolchain: Toolchain) -> None:
    """Class 4 after a reload: in the new main module value::shout is internal to its unit
    (only Display calls it), so not exported. A patch that calls it from env makes it
    external; the next patch, with env's unit alone, must still reach its newest code (found
    by the differential run of seed 4: the patch imported it by a name nothing exports)."""
    s = session(tmp_path, toolchain)
    outcomes = s.run([HELPER_ADD, RETYPE_USES, HELPER_CALL, BODY_HOOK])
    assert [o.result for o in outcomes] == ["patch", "full-reload", "patch", "patch"], (
        tally(outcomes))
    assert_right(outcomes)


def test_renamed_and_retyped_types(tmp_path: Path, toolchain: Toolchain) -> None:
    """Class 5: renaming the bindings' type renames every instantiation of the HashMap code;
    retyping a field changes them again."""
    s = session(tmp_path, toolchain)
    outcomes = s.run([RENAME_BINDING, RETYPE_USES, RENAME_BINDING.reverted()])
    assert_patched_or_reloaded(outcomes, "Slot", "Binding", "uses")


def test_std_functions_the_app_never_called(tmp_path: Path, toolchain: Toolchain) -> None:
    """Class 6: to_uppercase, repeat, to_lowercase, a HashSet<char>, a formatted panic."""
    s = session(tmp_path, toolchain)
    assert_patched(s.run([STD_REPEAT, STD_UPPER, STD_LOWER, STD_HASHSET, STD_PANIC]))


# Across the crates of a workspace


def test_edits_across_the_crates_of_a_workspace(tmp_path: Path, toolchain: Toolchain) -> None:
    """examples/workspace: every kind of the workspace catalogue once, in member crates and in
    the app, each compared with a fresh build of the whole workspace. The layout edit and its
    undo reload, naming the type; the rename may reload; everything else patches."""
    import workspace_edits as ws

    s = Differential(EXAMPLES / "workspace", tmp_path, toolchain, ws.WORKLOAD)
    outcomes = s.run([
        ws.UI_EURO, ws.MODEL_CENTS, ws.TOTAL_FOLD, ws.TAX_ADD, ws.TAX_CALL, ws.UI_SHOUT,
        ws.TAX_CALL.reverted(), ws.MOST_ADD, ws.RENAME_ITEM, ws.RENAME_ITEM.reverted(),
        ws.ITEM_FIELD, ws.ITEM_FIELD.reverted(), ws.MOST_ADD.reverted(), ws.UI_EURO.reverted(),
        ws.PRICE_UNIT,
        ws.COMPILE_ERROR, ws.COMPILE_ERROR.reverted(), ws.TOTAL_FOLD.reverted(), ws.TOTAL_LESS])
    assert [o.result for o in outcomes].count("compile-error") == 1
    assert sum(o.compared for o in outcomes) >= 5 * (len(outcomes) - 1)  # the probes ran
    assert_right(outcomes)
    reloads = {o.edit: o.reason for o in outcomes if o.result == "full-reload"}
    layout = {ws.ITEM_FIELD.name, ws.ITEM_FIELD.reverted().name}
    # The rename changes the cart's type (a RefCell<Vec<Entry>>): its static can't be kept.
    rename = {ws.RENAME_ITEM.name, ws.RENAME_ITEM.reverted().name}
    assert layout <= reloads.keys() <= layout | rename, tally(outcomes)
    assert all("model::Item" in reloads[name] for name in layout), reloads
    assert all(readable(reason) for reason in reloads.values()), reloads


# Long and random sequences


LONG_SESSION: tuple[Edit | RevertFile, ...] = (
    BODY_PLUS, MSG_DIVIDE, FORMAT_LIST, BODY_HOOK, BODY_PLUS.reverted(), TYPE_NAME, HELPER_ADD,
    BODY_EQ, HELPER_CALL, MSG_UNBOUND, HELPER_CHANGE, RevertFile("error.rs"), SIGNATURE,
    BODY_EXCLAIM, COMPILE_ERROR, COMPILE_ERROR.reverted(), FORMAT_LIST.reverted(), ADD_MIDDLE,
    BODY_LEN, TWO_MODULES, ONE_MODULE, MSG_TYPE, SIGNATURE.reverted(), ERROR_VARIANT, STD_LOWER,
    HELPER_CALL.reverted(), HELPER_CHANGE.reverted(), HELPER_ADD.reverted(),
    RevertFile("value.rs"), BODY_PLUS, RevertFile("env.rs"), REMOVE_LESS, MSG_DIVIDE,
)


@pytest.mark.skipif(bool(os.environ.get("CI")), reason="a long run: CI runs the bounded set "
                    "(the class cases and one random walk per example); bench/differential.py "
                    "runs longer walks")
def test_a_long_session(tmp_path: Path, toolchain: Toolchain) -> None:
    """33 edits in a row across five modules, with reverts, a compile error and its fix."""
    s = session(tmp_path, toolchain)
    outcomes = s.run(LONG_SESSION)
    assert len(outcomes) == len(LONG_SESSION) >= 30
    assert [o.result for o in outcomes].count("compile-error") == 1
    assert sum(o.compared for o in outcomes) > 20 * len(outcomes)  # the probes really ran
    assert_right(outcomes)


EDITS = int(os.environ.get("RUST_HMR_DIFF_EDITS", "8"))
# CI runs a bounded set: one seed per example (bench/differential.py runs the long walks)
_DEFAULT_SEEDS = "1" if os.environ.get("CI") else "1,2"
SEEDS = [int(seed) for seed in os.environ.get("RUST_HMR_DIFF_SEEDS", _DEFAULT_SEEDS).split(",")]


@pytest.mark.parametrize("seed", SEEDS)
def test_random_edits(tmp_path: Path, toolchain: Toolchain, seed: int) -> None:
    s = session(tmp_path, toolchain)
    outcomes = s.random_walk(CATALOGUE, EDITS, random.Random(seed))
    assert len(outcomes) == EDITS
    assert_right(outcomes)


@pytest.mark.parametrize("seed", SEEDS)
def test_random_edits_to_a_workspace(tmp_path: Path, toolchain: Toolchain, seed: int) -> None:
    import workspace_edits as ws

    s = Differential(EXAMPLES / "workspace", tmp_path, toolchain, ws.WORKLOAD)
    outcomes = s.random_walk(ws.CATALOGUE, EDITS, random.Random(seed))
    assert len(outcomes) == EDITS
    assert_right(outcomes)


def test_the_catalogue_applies_and_reverts() -> None:
    """Every edit applies to the example (after the edit it builds on) and its revert gives the
    sources back; no probe is compared where a builtin exists on one side only."""
    from differential import Sources
    from interp_edits import comparable

    original: Sources = {p.name: p.read_text() for p in (EXAMPLES / "interp" / "src").glob("*.rs")}
    starts = [original, HELPER_ADD.apply(original), TWO_MODULES.apply(original)]
    for edit in CATALOGUE:
        start = next((s for s in starts if edit.applies(s)), None)
        assert start is not None, edit.name
        assert edit.reverted().apply(edit.apply(start)) == start, edit.name
    added = ADD_FIRST.apply(original)
    assert not comparable("(neg x)", original, added)
    assert comparable("(+ x 1)", original, added) and comparable("(foo 1)", original, added)
    assert not comparable("builtins()", original, added)
    assert comparable("builtins()", added, added)
    # Undoing a removal that never happened would register `<` twice (the edit after "add abs
    # in the middle"); a count that differs is not compared even where the names agree.
    middle = ADD_MIDDLE.apply(original)
    assert not REMOVE_LESS.reverted().applies(middle)
    assert REMOVE_LESS.reverted().applies(ADD_MIDDLE.apply(REMOVE_LESS.apply(original)))
    twice = {**middle, "env.rs": middle["env.rs"].replace(
        'env.builtin("abs"', 'env.builtin("+", |_| Ok(Value::Int(0)));\n    env.builtin("abs"')}
    assert not comparable("builtins()", middle, twice)
