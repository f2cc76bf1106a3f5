//! Tokens to one expression.

use crate::error::EvalError;
use crate::lexer::{tokenize, Token};

#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    Int(i64),
    Str(String),
    Sym(String),
    Call(Vec<Expr>),
}

/// The one expression `source` holds.
pub fn parse(source: &str) -> Result<Expr, EvalError> {
    let tokens = tokenize(source)?;
    let mut pos = 0;
    let expr = parse_expr(&tokens, &mut pos)?;
    if pos != tokens.len() {
        return Err(EvalError::Parse(format!("unexpected input after token {}", pos)));
    }
    Ok(expr)
}

fn parse_expr(tokens: &[Token], pos: &mut usize) -> Result<Expr, EvalError> {
    let token = tokens
        .get(*pos)
        .ok_or_else(|| EvalError::Parse(String::from("unexpected end of input")))?;
    *pos += 1;
    match token {
        Token::Int(n) => Ok(Expr::Int(*n)),
        Token::Str(s) => Ok(Expr::Str(s.clone())),
        Token::Sym(s) => Ok(Expr::Sym(s.clone())),
        Token::Close => Err(EvalError::Parse(String::from("unexpected `)`"))),
        Token::Open => {
            let mut items = Vec::new();
            loop {
                match tokens.get(*pos) {
                    None => return Err(EvalError::Parse(String::from("missing `)`"))),
                    Some(Token::Close) => {
                        *pos += 1;
                        return Ok(Expr::Call(items));
                    }
                    Some(_) => items.push(parse_expr(tokens, pos)?),
                }
            }
        }
    }
}
