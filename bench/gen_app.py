"""A generated app crate for the scale benchmarks: N modules of traits, generics and state.

    .venv/bin/python bench/gen_app.py OUT_DIR --modules 150

Each module has a trait with a default method and two implementations, a generic container
instantiated at four types, generic free functions, a trait object, a `Display` impl, a
`HashMap`, a static and two thread-locals, and calls into the module before it: about 25
source functions a module, and (with std's generics monomorphised into the crate's own codegen
units) a few hundred hot functions. `step` is the function the benchmarks edit (`STEP_VARIANTS`);
the exports `probe(module, n)` (that module's `step(n)`) and `run(module, n)` (its state moves)
reach every module.
"""

import argparse
from pathlib import Path

from patch_latency import CARGO_TOML  # the same std-only cdylib manifest

MODULE_RS = """//! Generated module {i}: traits, generics, a static and two thread-locals.

use std::cell::{{Cell, RefCell}};
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{{AtomicU64, Ordering}};

static HITS: AtomicU64 = AtomicU64::new({i});

thread_local! {{
    static CALLS: Cell<u64> = const {{ Cell::new(0) }};
    static LOG: RefCell<Vec<String>> = RefCell::new(Vec::new());
}}

pub trait Shape {{
    fn area(&self) -> f64;
    fn name(&self) -> String;
    fn scaled(&self, k: f64) -> f64 {{
        self.area() * k
    }}
}}

#[derive(Clone, Debug, PartialEq)]
pub struct Rect {{
    pub w: f64,
    pub h: f64,
}}

#[derive(Clone, Debug, PartialEq)]
pub struct Circle {{
    pub r: f64,
}}

#[derive(Clone, Debug)]
pub enum Item {{
    Rect(Rect),
    Circle(Circle),
    Label(String),
}}

impl Shape for Rect {{
    fn area(&self) -> f64 {{
        self.w * self.h
    }}
    fn name(&self) -> String {{
        format!("rect{i} {{}}x{{}}", self.w, self.h)
    }}
}}

impl Shape for Circle {{
    fn area(&self) -> f64 {{
        3.0 * self.r * self.r
    }}
    fn name(&self) -> String {{
        format!("circle{i} r={{}}", self.r)
    }}
}}

impl fmt::Display for Item {{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {{
        match self {{
            Item::Rect(r) => write!(f, "{{}}", r.name()),
            Item::Circle(c) => write!(f, "{{}}", c.name()),
            Item::Label(s) => write!(f, "label {{s}}"),
        }}
    }}
}}

pub struct Stack<T> {{
    items: Vec<T>,
}}

impl<T: Clone + fmt::Debug> Stack<T> {{
    pub fn new() -> Self {{
        Stack {{ items: Vec::new() }}
    }}
    pub fn push(&mut self, item: T) {{
        self.items.push(item);
    }}
    pub fn pop(&mut self) -> Option<T> {{
        self.items.pop()
    }}
    pub fn peek(&self) -> Option<&T> {{
        self.items.last()
    }}
    pub fn len(&self) -> usize {{
        self.items.len()
    }}
    pub fn describe(&self) -> String {{
        format!("{{:?}}", self.items)
    }}
}}

pub fn total<S: Shape>(shapes: &[S]) -> f64 {{
    shapes.iter().map(|s| s.area()).sum()
}}

pub fn largest<T: PartialOrd + Copy>(xs: &[T]) -> Option<T> {{
    let mut best = *xs.first()?;
    for &x in xs {{
        if x > best {{
            best = x;
        }}
    }}
    Some(best)
}}

pub fn dyn_total(shapes: &[Box<dyn Shape>]) -> f64 {{
    shapes.iter().map(|s| s.scaled(2.0)).sum()
}}

fn record(line: String) {{
    LOG.with(|log| {{
        let mut log = log.borrow_mut();
        log.push(line);
        if log.len() > 8 {{
            log.remove(0);
        }}
    }});
}}

pub fn step(n: i32) -> i32 {{
    n + 1
}}

fn items(n: i32) -> Vec<Item> {{
    vec![
        Item::Rect(Rect {{ w: n as f64, h: 2.0 }}),
        Item::Circle(Circle {{ r: n as f64 }}),
        Item::Label(format!("{i}-{{n}}")),
    ]
}}

fn counts(words: &[String]) -> HashMap<String, usize> {{
    let mut out = HashMap::new();
    for w in words {{
        *out.entry(w.clone()).or_insert(0) += 1;
    }}
    out
}}

pub fn run(n: i32) -> i32 {{
    HITS.fetch_add(1, Ordering::Relaxed);
    CALLS.with(|c| c.set(c.get() + 1));
    let mut ints: Stack<i64> = Stack::new();
    let mut names: Stack<String> = Stack::new();
    let mut things: Stack<Item> = Stack::new();
    let mut rects: Stack<Rect> = Stack::new();
    for item in items(n) {{
        names.push(item.to_string());
        if let Item::Rect(r) = &item {{
            rects.push(r.clone());
        }}
        things.push(item);
    }}
    ints.push(step(n) as i64);
    ints.push({prev}(n) as i64);
    let shapes: Vec<Box<dyn Shape>> = vec![Box::new(Rect {{ w: 1.0, h: n as f64 }}),
                                           Box::new(Circle {{ r: 2.0 }})];
    let area = total(&[Rect {{ w: 1.0, h: 1.0 }}, Rect {{ w: 2.0, h: 3.0 }}])
        + total(&[Circle {{ r: 1.0 }}]) + dyn_total(&shapes);
    let words: Vec<String> = names.describe().split(' ').map(str::to_owned).collect();
    let distinct = counts(&words).len();
    record(format!("{{}} {{}} {{}}", things.len(), rects.describe().len(), area));
    let top = largest(&[ints.pop().unwrap_or(0), ints.peek().copied().unwrap_or(0)]).unwrap_or(0);
    let floats = largest(&[area, 1.0]).unwrap_or(0.0);
    let calls = CALLS.with(|c| c.get()) as i64;
    let logged = LOG.with(|log| log.borrow().len()) as i64;
    (top + distinct as i64 + floats as i64 + calls + logged
        + (HITS.load(Ordering::Relaxed) % 7) as i64) as i32
}}
"""

LIB_RS = """//! Generated app of {count} modules.

{mods}

/// `step(n)` of module `module`.
#[no_mangle]
pub extern "C" fn probe(module: i32, n: i32) -> i32 {{
    match module {{
{probe_arms}
        _ => -1,
    }}
}}

/// `run(n)` of module `module`: its static and thread-locals move.
#[no_mangle]
pub extern "C" fn run(module: i32, n: i32) -> i32 {{
    match module {{
{run_arms}
        _ => -1,
    }}
}}
"""

STEP_VARIANTS = ("    n + 1\n", "    n + 2\n")
"""`step`'s body and its edit: `probe(module, 10)` answers 11, then 12."""


def module_file(i: int) -> str:
    """The source file name of module `i`, under src/."""
    return f"m{i:03}.rs"


def generate(root: Path, modules: int) -> Path:
    """Write the crate `gen<modules>` under `root`; returns its directory."""
    crate = root / f"gen{modules}"
    (crate / "src").mkdir(parents=True)
    (crate / "Cargo.toml").write_text(CARGO_TOML.format(name=f"gen{modules}"))
    for i in range(modules):
        prev = f"super::m{i - 1:03}::step" if i else "step"
        (crate / "src" / module_file(i)).write_text(MODULE_RS.format(i=i, prev=prev))
    (crate / "src" / "lib.rs").write_text(LIB_RS.format(
        count=modules,
        mods="\n".join(f"mod m{i:03};" for i in range(modules)),
        probe_arms="\n".join(f"        {i} => m{i:03}::step(n)," for i in range(modules)),
        run_arms="\n".join(f"        {i} => m{i:03}::run(n)," for i in range(modules)),
    ))
    return crate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="directory to write the crate into")
    parser.add_argument("--modules", type=int, default=150)
    args = parser.parse_args()
    print(generate(args.out, args.modules))


if __name__ == "__main__":
    main()
