//! Evaluation. `def`, `push`, `uses` and `hook` are special forms; everything else in head
//! position is a builtin. A call evaluates all its arguments, left to right, before it reports
//! the first error: which bindings a program reads depends only on its text.

use crate::env;
use crate::error::EvalError;
use crate::parser::{parse, Expr};
use crate::value::Value;

/// Parses and evaluates one program.
pub fn run(source: &str) -> Result<Value, EvalError> {
    let expr = parse(source)?;
    eval(&expr)
}

fn eval(expr: &Expr) -> Result<Value, EvalError> {
    match expr {
        Expr::Int(n) => Ok(Value::Int(*n)),
        Expr::Str(s) => Ok(Value::Str(s.clone())),
        Expr::Sym(name) => match name.as_str() {
            "nil" => Ok(Value::Nil),
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => env::lookup(name),
        },
        Expr::Call(items) => call(items),
    }
}

fn call(items: &[Expr]) -> Result<Value, EvalError> {
    let (head, rest) = match items.split_first() {
        Some((Expr::Sym(head), rest)) => (head.as_str(), rest),
        Some(_) => return Err(EvalError::Parse(String::from("a call needs a name first"))),
        None => return Ok(Value::Nil),
    };
    match (head, rest) {
        ("def", [Expr::Sym(name), value]) => {
            let value = eval(value)?;
            env::define(name, value.clone());
            Ok(value)
        }
        ("push", [Expr::Sym(name), value]) => {
            let value = eval(value)?;
            Ok(Value::Int(env::push(name, value)? as i64))
        }
        ("uses", [Expr::Sym(name)]) => Ok(Value::Int(env::uses(name)? as i64)),
        ("hook", [Expr::Sym(name), value]) => env::run_hook(name, &eval(value)?),
        ("def" | "push" | "hook", _) => {
            Err(EvalError::Parse(format!("`{}` takes a name and a value", head)))
        }
        _ => {
            let args: Vec<Result<Value, EvalError>> = rest.iter().map(eval).collect();
            let args = args.into_iter().collect::<Result<Vec<Value>, EvalError>>()?;
            match env::builtin(head) {
                Some(f) => f(&args),
                None => Err(EvalError::Unbound(head.to_string())),
            }
        }
    }
}
