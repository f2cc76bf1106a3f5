//! How the shop shows things: prices and cart lines as text, and the page interface (the
//! browser runtime and the headless host give `env.dom_set_text`).

extern "C" {
    /// Sets the text of the element whose id is `id` (both UTF-8 in the app's memory).
    fn dom_set_text(id_ptr: *const u8, id_len: usize, text_ptr: *const u8, text_len: usize);
}

/// Sets the text of the page's element `id`.
pub fn show(id: &str, text: &str) {
    unsafe { dom_set_text(id.as_ptr(), id.len(), text.as_ptr(), text.len()) }
}

/// A price in cents as the page shows it.
pub fn price(cents: i64) -> String {
    format!("${}.{:02}", cents / 100, cents % 100)
}

/// One line of the cart.
pub fn line(name: &str, quantity: i64, cents: i64) -> String {
    format!("{} x{} {}", name, quantity, price(cents))
}
