//! What the page shows. The app's side of rust-hmr's small DOM interface: the app calls
//! `env.dom_set_text` (given by the browser runtime and by the headless host), and the page
//! calls the app's exports (`on_click`, `render`) on its own events.

// `env` is the default import module, so no `#[link(wasm_import_module = "env")]` is needed
// (patches handle it either way).
extern "C" {
    /// Sets the text of the element whose id is `id` (both UTF-8 in the app's memory).
    fn dom_set_text(id_ptr: *const u8, id_len: usize, text_ptr: *const u8, text_len: usize);
}

/// Sets the text of the page's element `id`.
pub fn set_text(id: &str, text: &str) {
    unsafe { dom_set_text(id.as_ptr(), id.len(), text.as_ptr(), text.len()) }
}
