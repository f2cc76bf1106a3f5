//! Source text to tokens.

use crate::error::EvalError;

#[derive(Clone, Debug, PartialEq)]
pub enum Token {
    Open,
    Close,
    Int(i64),
    Str(String),
    Sym(String),
}

pub fn tokenize(source: &str) -> Result<Vec<Token>, EvalError> {
    let mut tokens = Vec::new();
    let mut chars = source.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '(' {
            chars.next();
            tokens.push(Token::Open);
        } else if c == ')' {
            chars.next();
            tokens.push(Token::Close);
        } else if c == '"' {
            chars.next();
            let mut s = String::new();
            loop {
                match chars.next() {
                    Some('"') => break,
                    Some(c) => s.push(c),
                    None => return Err(EvalError::Parse(String::from("unterminated string"))),
                }
            }
            tokens.push(Token::Str(s));
        } else {
            let mut word = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() || c == '(' || c == ')' || c == '"' {
                    break;
                }
                word.push(c);
                chars.next();
            }
            tokens.push(match word.parse::<i64>() {
                Ok(n) => Token::Int(n),
                Err(_) => Token::Sym(word),
            });
        }
    }
    Ok(tokens)
}
