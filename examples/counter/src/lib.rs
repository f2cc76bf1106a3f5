//! The counter example: a tiny app whose state lives in a plain static and in a
//! `thread_local!`, the two places a hot patch must never reset. Tests drive its exports
//! headless; `rust-hmr dev examples/counter` serves it as a page (index.html).

mod history;
mod label;
mod page;

use std::sync::atomic::{AtomicI32, Ordering};

/// The current count. A plain static: a patch must bind to this one, not bring a copy.
static COUNT: AtomicI32 = AtomicI32::new(0);

/// How much one click adds.
const STEP: i32 = 1;

/// Adds one step and returns the new count.
#[no_mangle]
pub extern "C" fn increment() -> i32 {
    add(STEP)
}

/// Adds `n` and returns the new count.
#[no_mangle]
pub extern "C" fn add(n: i32) -> i32 {
    let value = COUNT.fetch_add(n, Ordering::SeqCst) + n;
    history::record(value);
    value
}

/// What the count would be after `add(n)`, without changing it.
#[no_mangle]
pub extern "C" fn preview_add(n: i32) -> i32 {
    get() + n
}

/// The current count.
#[no_mangle]
pub extern "C" fn get() -> i32 {
    COUNT.load(Ordering::SeqCst)
}

/// Sets the count back to zero; the history keeps its entries.
#[no_mangle]
pub extern "C" fn reset() {
    COUNT.store(0, Ordering::SeqCst);
}

/// How many changes the history has seen.
#[no_mangle]
pub extern "C" fn history_len() -> i32 {
    history::len() as i32
}

/// The sum of every value the history has seen.
#[no_mangle]
pub extern "C" fn history_sum() -> i64 {
    history::sum()
}

/// The length in bytes of the label text for the current count.
#[no_mangle]
pub extern "C" fn label_len() -> i32 {
    label::render(get()).len() as i32
}

/// A checksum of the label text, so callers can tell labels apart without reading memory.
#[no_mangle]
pub extern "C" fn label_hash() -> i32 {
    label::render(get())
        .bytes()
        .fold(17i32, |h, b| h.wrapping_mul(31).wrapping_add(b as i32))
}

/// The page's buttons, as `on_click` gets them (see index.html).
const BUTTON_INCREMENT: i32 = 0;
const BUTTON_RESET: i32 = 1;

/// The page calls this when a button is clicked, then the app shows the result.
#[no_mangle]
pub extern "C" fn on_click(button: i32) {
    match button {
        BUTTON_INCREMENT => {
            increment();
        }
        BUTTON_RESET => reset(),
        _ => {}
    }
    render();
}

/// rust-hmr calls this after each hot patch, in its newest version (the page's runtime and the
/// headless host alike): the page shows the new code at once, with the state it had.
#[no_mangle]
pub extern "C" fn rust_hmr_after_patch() {
    render();
}

/// Writes the count and the history into the page.
#[no_mangle]
pub extern "C" fn render() {
    page::set_text("count", &label::render(get()));
    let summary = format!("{} changes so far, adding up to {}", history::len(), history::sum());
    page::set_text("history", &summary);
}
