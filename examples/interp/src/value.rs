//! Values: what programs compute and what the global environment keeps, on the heap.

use std::fmt;

use crate::error::EvalError;

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Nil,
    Bool(bool),
    Int(i64),
    Str(String),
    List(Vec<Value>),
}

impl Value {
    /// The name of the value's type, as error messages and `type-of` say it.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Nil => "nil",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Str(_) => "string",
            Value::List(_) => "list",
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Nil => write!(f, "nil"),
            Value::Bool(b) => write!(f, "{}", if *b { "true" } else { "false" }),
            Value::Int(n) => write!(f, "{}", n),
            Value::Str(s) => write!(f, "\"{}\"", s),
            Value::List(items) => {
                write!(f, "[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        write!(f, " ")?;
                    }
                    write!(f, "{}", item)?;
                }
                write!(f, "]")
            }
        }
    }
}

/// The integer in `value`, or a type error.
pub fn int(value: &Value) -> Result<i64, EvalError> {
    match value {
        Value::Int(n) => Ok(*n),
        other => Err(EvalError::Type { expected: "int", got: other.type_name() }),
    }
}

/// The text in `value`, or a type error.
pub fn text(value: &Value) -> Result<&str, EvalError> {
    match value {
        Value::Str(s) => Ok(s),
        other => Err(EvalError::Type { expected: "string", got: other.type_name() }),
    }
}

/// The items of the list in `value`, or a type error.
pub fn items(value: &Value) -> Result<&[Value], EvalError> {
    match value {
        Value::List(items) => Ok(items),
        other => Err(EvalError::Type { expected: "list", got: other.type_name() }),
    }
}

/// Checks that builtin `name` got `expected` arguments.
pub fn arity(name: &'static str, args: &[Value], expected: usize) -> Result<(), EvalError> {
    if args.len() == expected {
        Ok(())
    } else {
        Err(EvalError::Arity { name, expected, got: args.len() })
    }
}
