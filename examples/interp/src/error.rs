//! What can go wrong in a program, as the user reads it.

use std::fmt;

#[derive(Debug)]
pub enum EvalError {
    Parse(String),
    Unbound(String),
    Type { expected: &'static str, got: &'static str },
    Arity { name: &'static str, expected: usize, got: usize },
    DivideByZero,
    Index { index: i64, len: usize },
}

impl fmt::Display for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EvalError::Parse(message) => write!(f, "parse error: {}", message),
            EvalError::Unbound(name) => write!(f, "unbound symbol `{}`", name),
            EvalError::Type { expected, got } => {
                write!(f, "type error: expected {}, got {}", expected, got)
            }
            EvalError::Arity { name, expected, got } => {
                write!(f, "`{}` takes {} arguments, got {}", name, expected, got)
            }
            EvalError::DivideByZero => write!(f, "division by zero"),
            EvalError::Index { index, len } => {
                write!(f, "index {} is out of range for a list of {}", index, len)
            }
        }
    }
}
