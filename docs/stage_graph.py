"""Draws the rule set's stage graph, as doit sees it, into docs/stages.png.

    .venv/bin/python docs/stage_graph.py [CRATE]      (default: examples/counter)

A stage feeds another when one of its targets is the other's file dependency (or the other
names it in task_dep). Stages stand in columns by their depth in the graph. The hot path's
units (`hot:unit:<unit>`, one per codegen unit of the last dev build) are drawn as one box.
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from rust_hmr.rules.crate import Crate
from rust_hmr.rules.pipeline import stage_tasks
from rust_hmr.settings import load_settings

ROOT = Path(__file__).resolve().parent.parent


def edges(tasks: list[dict]) -> set[tuple[str, str]]:
    made = {target: name for name, task in tasks for target in task.get("targets", [])}
    found = set()
    for name, task in tasks:
        for dep in task.get("file_dep", []):
            if dep in made and made[dep] != name:
                found.add((made[dep], name))
        for dep in task.get("task_dep", []):
            found.add((dep, name))
    return found


UNIT = "hot:unit:"


def collapse_units(tasks: list[tuple[str, dict]]) -> list[tuple[str, dict]]:
    """The unit tasks as one, named for how many there are."""
    units = [task for name, task in tasks if name.startswith(UNIT)]
    if not units:
        return tasks
    one = f"{UNIT}<unit> x{len(units)}"
    merged = {"doc": "one per codegen unit: its object parsed",
              "task_dep": sorted({d for t in units for d in t.get("task_dep", [])}),
              "file_dep": []}
    rest = []
    for name, task in tasks:
        if name.startswith(UNIT):
            if one not in dict(rest):
                rest.append((one, merged))
            continue
        deps = [one if d.startswith(UNIT) else d for d in task.get("task_dep", [])]
        rest.append((name, {**task, "task_dep": list(dict.fromkeys(deps))}))
    return rest


def depths(names: list[str], links: set[tuple[str, str]]) -> dict[str, int]:
    depth = dict.fromkeys(names, 0)
    for _ in names:  # longest path, by relaxation
        for a, b in links:
            depth[b] = max(depth[b], depth[a] + 1)
    return depth


def main() -> None:
    crate_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "examples" / "counter"
    crate = Crate(crate_dir.resolve(), load_settings(crate_dir.resolve()))
    tasks = [(t["basename"] + (f":{t['name']}" if t.get("name") else ""), t)
             for t in stage_tasks(crate) if t.get("actions")]
    tasks = collapse_units(tasks)
    names = [name for name, _ in tasks]
    docs = {name: task.get("doc", "") for name, task in tasks}
    links = edges(tasks)
    depth = depths(names, links)
    columns: dict[int, list[str]] = {}
    for name in names:
        columns.setdefault(depth[name], []).append(name)
    place = {name: (d * 3.2, -i * 1.3 - (0.65 if len(col) == 1 and d else 0))
             for d, col in columns.items() for i, name in enumerate(col)}
    fig, ax = plt.subplots(figsize=(3.3 * len(columns), 1.4 * max(map(len, columns.values()))
                                    + 1.2))
    for a, b in sorted(links):
        (x0, y0), (x1, y1) = place[a], place[b]
        ax.annotate("", xy=(x1 - 1.05, y1), xytext=(x0 + 1.05, y0),
                    arrowprops={"arrowstyle": "-|>", "color": "#555", "lw": 1.2})
    for name, (x, y) in place.items():
        ax.text(x, y, name, ha="center", va="center", fontsize=11, family="monospace",
                bbox={"boxstyle": "round,pad=0.5", "fc": "#eef3fb", "ec": "#4a6fa5"})
        ax.text(x, y - 0.42, docs[name][:34] + ("…" if len(docs[name]) > 34 else ""),
                ha="center", va="top", fontsize=7, color="#555")
    ax.set_xlim(-1.6, 3.2 * (len(columns) - 1) + 1.6)
    ax.set_ylim(min(y for _, y in place.values()) - 1.2, 0.8)
    ax.axis("off")
    ax.set_title(f"rust-hmr stages for {crate.name} (doit tasks; arrows: outputs -> inputs)",
                 fontsize=11)
    out = ROOT / "docs" / "stages.png"
    fig.savefig(out, dpi=110, bbox_inches="tight")
    print(f"wrote {out.relative_to(ROOT)}: {len(names)} stages, {len(links)} links")


if __name__ == "__main__":
    main()
