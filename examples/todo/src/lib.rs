//! The todo example: a wasm-bindgen app on web-sys. The list lives in a `thread_local!` (the
//! state a hot patch must keep, `state`), each kind of event the page listens to has one
//! closure, and every change renders the list into the DOM again (`view`).
//!
//! `rust-hmr dev examples/todo` serves it; `rust-hmr bundle examples/todo` writes the production
//! build, page, module and JS glue, into `examples/todo/dist/`.

mod state;
mod view;

use wasm_bindgen::prelude::*;

/// Runs once, when the glue has loaded the module: builds the page and shows the empty list.
#[wasm_bindgen(start)]
pub fn start() -> Result<(), JsValue> {
    // A panic shows its message in the console, not only "unreachable executed".
    console_error_panic_hook::set_once();
    view::mount()?;
    view::render()
}

/// Runs after each hot patch, in its newest version: the list renders again, so an edit of the
/// view shows at once, with the items kept.
#[no_mangle]
pub extern "C" fn rust_hmr_after_patch() {
    if let Err(error) = view::render() {
        wasm_bindgen::throw_val(error);
    }
}
