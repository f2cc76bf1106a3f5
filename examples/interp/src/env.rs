//! The global environment, in a `thread_local!`: bindings on the heap, the builtins as plain
//! fn pointers and the hooks as boxed closures. `install` registers them, in order, the first
//! time a program runs; a hot patch must keep every pointer it stored meaning the same code.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use crate::error::EvalError;
use crate::value::{arity, int, items, text, Value};

/// A builtin: made from a closure that captures nothing.
pub type Builtin = fn(&[Value]) -> Result<Value, EvalError>;

/// A hook: a closure that keeps what it captured, boxed.
pub type Hook = Box<dyn Fn(&Value) -> Result<Value, EvalError>>;

/// A global variable and how many times programs read it.
pub struct Binding {
    pub value: Value,
    pub uses: u32,
}

pub struct Env {
    pub bindings: HashMap<String, Binding>,
    pub builtins: Vec<(&'static str, Builtin)>,
    pub hooks: Vec<(&'static str, Hook)>,
}

thread_local! {
    static GLOBAL: RefCell<Env> = RefCell::new(Env::new());
    static HOOK_RUNS: Cell<u32> = Cell::new(0);
}

impl Env {
    fn new() -> Env {
        let mut env = Env { bindings: HashMap::new(), builtins: Vec::new(), hooks: Vec::new() };
        install(&mut env);
        env
    }

    fn builtin(&mut self, name: &'static str, f: Builtin) {
        self.builtins.push((name, f));
    }

    fn hook(&mut self, name: &'static str, hook: Hook) {
        self.hooks.push((name, hook));
    }
}

/// Registers the builtins and the hooks, in the order programs can't see.
fn install(env: &mut Env) {
    env.builtin("+", |args| {
        let mut sum = 0;
        for arg in args {
            sum += int(arg)?;
        }
        Ok(Value::Int(sum))
    });
    env.builtin("-", |args| {
        arity("-", args, 2)?;
        Ok(Value::Int(int(&args[0])? - int(&args[1])?))
    });
    env.builtin("*", |args| {
        let mut product = 1;
        for arg in args {
            product *= int(arg)?;
        }
        Ok(Value::Int(product))
    });
    env.builtin("/", |args| {
        arity("/", args, 2)?;
        let divisor = int(&args[1])?;
        if divisor == 0 {
            return Err(EvalError::DivideByZero);
        }
        Ok(Value::Int(int(&args[0])? / divisor))
    });
    env.builtin("=", |args| {
        arity("=", args, 2)?;
        Ok(Value::Bool(args[0] == args[1]))
    });
    env.builtin("<", |args| {
        arity("<", args, 2)?;
        Ok(Value::Bool(int(&args[0])? < int(&args[1])?))
    });
    env.builtin("concat", |args| {
        let mut out = String::new();
        for arg in args {
            out.push_str(text(arg)?);
        }
        Ok(Value::Str(out))
    });
    env.builtin("len", |args| {
        arity("len", args, 1)?;
        match &args[0] {
            Value::Str(s) => Ok(Value::Int(s.chars().count() as i64)),
            other => Ok(Value::Int(items(other)?.len() as i64)),
        }
    });
    env.builtin("list", |args| Ok(Value::List(args.to_vec())));
    env.builtin("nth", |args| {
        arity("nth", args, 2)?;
        let list = items(&args[0])?;
        let index = int(&args[1])?;
        match usize::try_from(index).ok().and_then(|i| list.get(i)) {
            Some(item) => Ok(item.clone()),
            None => Err(EvalError::Index { index, len: list.len() }),
        }
    });
    env.builtin("type-of", |args| {
        arity("type-of", args, 1)?;
        Ok(Value::Str(args[0].type_name().to_string()))
    });
    env.builtin("max", |args| {
        let mut best = None;
        for arg in args {
            let n = int(arg)?;
            best = Some(best.map_or(n, |b: i64| b.max(n)));
        }
        Ok(best.map_or(Value::Nil, Value::Int))
    });
    env.builtin("rev", |args| {
        arity("rev", args, 1)?;
        match &args[0] {
            Value::Str(s) => Ok(Value::Str(s.chars().rev().collect())),
            other => Ok(Value::List(items(other)?.iter().rev().cloned().collect())),
        }
    });
    let factor = 2;
    env.hook("double", Box::new(move |v| Ok(Value::Int(int(v)? * factor))));
    let suffix = String::from("!");
    env.hook("exclaim", Box::new(move |v| Ok(Value::Str(format!("{}{}", text(v)?, suffix)))));
}

/// The builtin called `name`, copied out so that no borrow is held while it runs.
pub fn builtin(name: &str) -> Option<Builtin> {
    GLOBAL.with(|g| g.borrow().builtins.iter().find(|(n, _)| *n == name).map(|(_, f)| *f))
}

/// Runs hook `name` on `value`.
pub fn run_hook(name: &str, value: &Value) -> Result<Value, EvalError> {
    HOOK_RUNS.with(|runs| runs.set(runs.get() + 1));
    GLOBAL.with(|g| {
        let env = g.borrow();
        match env.hooks.iter().find(|(n, _)| *n == name) {
            Some((_, hook)) => hook(value),
            None => Err(EvalError::Unbound(name.to_string())),
        }
    })
}

/// The value of global `name`; counts the use.
pub fn lookup(name: &str) -> Result<Value, EvalError> {
    GLOBAL.with(|g| match g.borrow_mut().bindings.get_mut(name) {
        Some(binding) => {
            binding.uses += 1;
            Ok(binding.value.clone())
        }
        None => Err(EvalError::Unbound(name.to_string())),
    })
}

/// Sets global `name` to `value`; a binding that exists keeps its use count.
pub fn define(name: &str, value: Value) {
    GLOBAL.with(|g| {
        let mut env = g.borrow_mut();
        match env.bindings.get_mut(name) {
            Some(binding) => binding.value = value,
            None => {
                env.bindings.insert(name.to_string(), Binding { value, uses: 0 });
            }
        }
    })
}

/// Appends `value` to the list in global `name` (a new empty list if there is none yet);
/// returns the list's new length.
pub fn push(name: &str, value: Value) -> Result<usize, EvalError> {
    GLOBAL.with(|g| {
        let mut env = g.borrow_mut();
        let binding = env
            .bindings
            .entry(name.to_string())
            .or_insert_with(|| Binding { value: Value::List(Vec::new()), uses: 0 });
        match &mut binding.value {
            Value::List(items) => {
                items.push(value);
                Ok(items.len())
            }
            other => Err(EvalError::Type { expected: "list", got: other.type_name() }),
        }
    })
}

/// How many times global `name` was read.
pub fn uses(name: &str) -> Result<u32, EvalError> {
    GLOBAL.with(|g| match g.borrow().bindings.get(name) {
        Some(binding) => Ok(binding.uses),
        None => Err(EvalError::Unbound(name.to_string())),
    })
}

pub fn binding_count() -> usize {
    GLOBAL.with(|g| g.borrow().bindings.len())
}

pub fn total_uses() -> u32 {
    GLOBAL.with(|g| g.borrow().bindings.values().map(|b| b.uses).sum())
}

pub fn builtin_count() -> usize {
    GLOBAL.with(|g| g.borrow().builtins.len())
}

pub fn hook_runs() -> u32 {
    HOOK_RUNS.with(Cell::get)
}
