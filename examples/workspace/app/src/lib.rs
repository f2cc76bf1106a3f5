//! The workspace example's app: a shop cart whose state lives in a `thread_local!`, built from
//! the `model` and `ui` crates of the same workspace. Tests drive its exports headless;
//! `rust-hmr dev examples/workspace/app` serves it as a page (index.html).

use std::cell::RefCell;
use std::sync::atomic::{AtomicI32, Ordering};

use model::{Item, Priced};

thread_local! {
    /// The cart: a patch must keep it, whichever crate the edit was in.
    static CART: RefCell<Vec<Item>> = RefCell::new(Vec::new());
}

/// How many times an item was added.
static ADDED: AtomicI32 = AtomicI32::new(0);

/// Adds one of item `kind` (the page's button number); returns how many lines the cart has.
#[no_mangle]
pub extern "C" fn add_item(kind: i32) -> i32 {
    ADDED.fetch_add(1, Ordering::SeqCst);
    let item = model::item(kind);
    CART.with(|cart| {
        let mut cart = cart.borrow_mut();
        match cart.iter_mut().find(|line| line.name == item.name) {
            Some(line) => line.quantity += 1,
            None => cart.push(item),
        }
        cart.len() as i32
    })
}

/// How many times an item was added.
#[no_mangle]
pub extern "C" fn added() -> i32 {
    ADDED.load(Ordering::SeqCst)
}

/// How many lines the cart has.
#[no_mangle]
pub extern "C" fn lines() -> i32 {
    CART.with(|cart| cart.borrow().len() as i32)
}

/// What the cart costs, in cents.
#[no_mangle]
pub extern "C" fn total_cents() -> i64 {
    CART.with(|cart| model::total(&cart.borrow()))
}

/// The page calls this when a button is clicked, then the app shows the result.
#[no_mangle]
pub extern "C" fn on_click(button: i32) {
    add_item(button);
    render();
}

/// rust-hmr calls this after each hot patch: the page shows the new code at once.
#[no_mangle]
pub extern "C" fn rust_hmr_after_patch() {
    render();
}

/// Writes the cart and its total into the page.
#[no_mangle]
pub extern "C" fn render() {
    CART.with(|cart| {
        let cart = cart.borrow();
        let lines: Vec<String> =
            cart.iter().map(|item| ui::line(item.name, item.quantity, item.cents())).collect();
        ui::show("lines", &lines.join(", "));
        ui::show("total", &format!("total {}", ui::price(model::total(&cart))));
    });
}
