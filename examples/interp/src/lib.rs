//! The interp example: a small interpreter for a prefix language (`(+ 1 2)`, `(def x 5)`,
//! `(concat "a" "b")`). Its global environment lives in a `thread_local!` and holds what a hot
//! patch finds hardest to keep right: values on the heap (a HashMap of bindings, lists,
//! strings), the builtins as plain fn pointers made from closures, and boxed closures (hooks).
//! The differential tests (tests/differential.py) edit it and compare the patched app with a
//! fresh build.

mod env;
mod error;
mod eval;
mod lexer;
mod parser;
mod value;

use std::cell::RefCell;
use std::sync::atomic::{AtomicI32, Ordering};

/// How many times `eval` was called.
static EVALS: AtomicI32 = AtomicI32::new(0);

thread_local! {
    /// The text of the last answer or error message, for `result_ptr` / `result_len`.
    static RESULT: RefCell<String> = RefCell::new(String::new());
}

/// `len` bytes for the host to write a program into; give them back with `free`.
#[no_mangle]
pub extern "C" fn alloc(len: usize) -> *mut u8 {
    let mut buffer = Vec::<u8>::with_capacity(len.max(1));
    let ptr = buffer.as_mut_ptr();
    std::mem::forget(buffer);
    ptr
}

/// Frees memory from `alloc`.
///
/// # Safety
/// `ptr` and `len` must come from one `alloc` call.
#[no_mangle]
pub unsafe extern "C" fn free(ptr: *mut u8, len: usize) {
    drop(Vec::from_raw_parts(ptr, 0, len.max(1)));
}

/// Evaluates the program in `len` bytes of UTF-8 at `ptr`: 0 when it answered, 1 on an error.
/// The answer (or the error message) is then at `result_ptr()`, `result_len()` bytes long.
///
/// # Safety
/// `ptr..ptr + len` must be readable memory.
#[no_mangle]
pub unsafe extern "C" fn eval(ptr: *const u8, len: usize) -> i32 {
    EVALS.fetch_add(1, Ordering::SeqCst);
    let bytes = std::slice::from_raw_parts(ptr, len);
    let (code, text) = match std::str::from_utf8(bytes) {
        Ok(source) => match eval::run(source) {
            Ok(value) => (0, value.to_string()),
            Err(err) => (1, err.to_string()),
        },
        Err(_) => (1, String::from("the program is not UTF-8")),
    };
    RESULT.with(|result| *result.borrow_mut() = text);
    code
}

/// Where the last answer's text is.
#[no_mangle]
pub extern "C" fn result_ptr() -> i32 {
    RESULT.with(|result| result.borrow().as_ptr() as i32)
}

/// The length in bytes of the last answer's text.
#[no_mangle]
pub extern "C" fn result_len() -> i32 {
    RESULT.with(|result| result.borrow().len() as i32)
}

/// How many times `eval` was called.
#[no_mangle]
pub extern "C" fn evals() -> i32 {
    EVALS.load(Ordering::SeqCst)
}

/// How many global bindings `def` and `push` made.
#[no_mangle]
pub extern "C" fn bindings() -> i32 {
    env::binding_count() as i32
}

/// How many times global bindings were read, added up.
#[no_mangle]
pub extern "C" fn total_uses() -> i32 {
    env::total_uses() as i32
}

/// How many builtins the environment has.
#[no_mangle]
pub extern "C" fn builtins() -> i32 {
    env::builtin_count() as i32
}

/// How many times a hook ran.
#[no_mangle]
pub extern "C" fn hook_runs() -> i32 {
    env::hook_runs() as i32
}
