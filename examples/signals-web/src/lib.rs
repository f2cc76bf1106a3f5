//! The seed's failing case as a wasm-bindgen app: a Leptos-style component (`app`) on a signals
//! runtime kept in a `thread_local!` (the `reactive` crate in examples/reactive, a path
//! dependency shared with the signals example), rendering through web-sys.
//!
//! The proof of concept rust-hmr grew from failed here: its patched component reached for the
//! runtime and found none. Under `rust-hmr dev examples/signals-web`, an edit of the component
//! is patched into the running page, and the runtime's signals and subscriptions carry on.

mod app;

use wasm_bindgen::prelude::*;

use reactive::{create_runtime, rerun_effects, Runtime};

/// Runs once, when the glue has loaded the module: the runtime, then the component in the
/// page's `<main id="app">`.
#[wasm_bindgen(start)]
pub fn start() -> Result<(), JsValue> {
    console_error_panic_hook::set_once();
    create_runtime();
    let document = web_sys::window().expect_throw("no window").document().expect_throw("no document");
    let parent = document.get_element_by_id("app").ok_or("the page has no #app")?;
    parent.set_inner_html("");
    app::mount(&parent, "world")?;
    Ok(())
}

/// Runs after each hot patch, in its newest version: every effect runs again, so the new code
/// renders from the signals as they are.
#[no_mangle]
pub extern "C" fn rust_hmr_after_patch() {
    rerun_effects();
}

/// How many signals the runtime holds (a second runtime, or a second mount, would show here).
#[wasm_bindgen]
pub fn signal_count() -> usize {
    Runtime::with(|rt| rt.signal_count())
}

/// How many effect runs the runtime made, all effects together.
#[wasm_bindgen]
pub fn effect_runs() -> u32 {
    Runtime::with(|rt| rt.effect_runs())
}
