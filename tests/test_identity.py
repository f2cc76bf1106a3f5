"""Matching closures by place through the edit's text diff (`rust_hmr.link.identity`), and the
line maps it reads (`rust_hmr.link.sources`), on hand-made declarations: no build needed."""

from __future__ import annotations

from pathlib import Path

from rust_hmr.link.identity import Decl, _match_group
from rust_hmr.link.sources import SourceHistory, line_map, snapshot

OLD = """fn install() {
    add(|x| x + 1);
    add(|x| x * 2);
    add(|x| x - 3);
}
"""


def history(tmp_path: Path, old: str, new: str) -> SourceHistory:
    crate = tmp_path / "crate"
    (crate / "src").mkdir(parents=True, exist_ok=True)
    store = tmp_path / "store"
    (crate / "src" / "lib.rs").write_text(old)
    live = snapshot(crate, store)
    (crate / "src" / "lib.rs").write_text(new)
    return SourceHistory(store, live, snapshot(crate, store))


def closures(lines: list[int], names: list[str]) -> list[Decl]:
    return [Decl(name, "src/lib.rs", line) for name, line in zip(names, lines, strict=True)]


def test_line_map_follows_unchanged_lines() -> None:
    lines = line_map("a\nb\nc\n", "a\nnew\nb\nc\n")
    assert (lines(1), lines(2), lines(3)) == (1, 3, 4)
    changed = line_map("a\nb\nc\n", "a\nB\nc\n")
    assert changed(2) is None and changed(3) == 3


def test_snapshot_skips_build_outputs(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "lib.rs").write_text("fn a() {}\n")
    (tmp_path / "target" / "debug").mkdir(parents=True)
    (tmp_path / "target" / "debug" / "build.rs").write_text("// generated\n")
    assert set(snapshot(tmp_path, tmp_path / ".store")) == {"src/lib.rs"}


def test_a_closure_added_first_renames_the_others_to_their_own_items(tmp_path: Path) -> None:
    new = OLD.replace("    add(|x| x + 1);", "    add(|x| x * 100);\n    add(|x| x + 1);")
    sources = history(tmp_path, OLD, new)
    old = closures([2, 3, 4], ["c0", "c1", "c2"])
    matched = _match_group(old, closures([2, 3, 4, 5], ["c0", "c1", "c2", "c3"]), sources)
    assert matched == {"c0": None, "c1": "c0", "c2": "c1", "c3": "c2"}


def test_a_closure_removed_shifts_the_later_ones_back(tmp_path: Path) -> None:
    new = OLD.replace("    add(|x| x * 2);\n", "")
    sources = history(tmp_path, OLD, new)
    matched = _match_group(closures([2, 3, 4], ["c0", "c1", "c2"]),
                           closures([2, 3], ["c0", "c1"]), sources)
    assert matched == {"c0": "c0", "c1": "c2"}


def test_an_edited_closure_keeps_its_name_when_nothing_was_renumbered(tmp_path: Path) -> None:
    new = OLD.replace("|x| x * 2", "|x| x * 3")
    sources = history(tmp_path, OLD, new)
    old = closures([2, 3, 4], ["c0", "c1", "c2"])
    assert _match_group(old, closures([2, 3, 4], ["c0", "c1", "c2"]), sources) == {
        "c0": "c0", "c1": "c1", "c2": "c2"}


def test_an_edited_closure_beside_a_new_one_is_a_new_item(tmp_path: Path) -> None:
    """Its line changed and the group was renumbered: which live closure it is can't be told."""
    new = OLD.replace("    add(|x| x + 1);", "    add(|x| x * 100);\n    add(|x| x + 1);")
    new = new.replace("|x| x * 2", "|x| x * 3")
    sources = history(tmp_path, OLD, new)
    old = closures([2, 3, 4], ["c0", "c1", "c2"])
    matched = _match_group(old, closures([2, 3, 4, 5], ["c0", "c1", "c2", "c3"]), sources)
    assert matched == {"c0": None, "c1": "c0", "c2": None, "c3": "c2"}


def test_two_closures_on_an_edited_line_are_new_items(tmp_path: Path) -> None:
    """They may have swapped places on the line: a name proves nothing there."""
    old_text = "fn f() {\n    a.map(|x| x).filter(|y| y);\n}\n"
    new_text = "fn f() {\n    a.filter(|y| y).map(|x| x);\n}\n"
    sources = history(tmp_path, old_text, new_text)
    old = closures([2, 2], ["c0", "c1"])
    assert _match_group(old, closures([2, 2], ["c0", "c1"]), sources) == {"c0": None, "c1": None}
