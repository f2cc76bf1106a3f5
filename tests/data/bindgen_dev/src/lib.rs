//! A small wasm-bindgen app for the dev-loop tests: a list kept in a `thread_local!`, rendered
//! into the page with web-sys, and a click listener (a `Closure<dyn FnMut()>`).

use std::cell::RefCell;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

mod view;

/// One item of the list: the tests grow this struct (a full reload).
pub struct Item {
    pub text: String,
}

thread_local! {
    static ITEMS: RefCell<Vec<Item>> = RefCell::new(Vec::new());
}

pub fn items() -> Vec<String> {
    ITEMS.with(|items| items.borrow().iter().map(|i| i.text.clone()).collect())
}

#[wasm_bindgen(start)]
pub fn start() {
    let document = web_sys::window().unwrap().document().unwrap();
    let button = document.get_element_by_id("add").unwrap();
    let on_click = Closure::<dyn FnMut()>::new(|| add_item("clicked"));
    button
        .dyn_ref::<web_sys::EventTarget>()
        .unwrap()
        .add_event_listener_with_callback("click", on_click.as_ref().unchecked_ref())
        .unwrap();
    on_click.forget();
    view::render(&items());
}

#[wasm_bindgen]
pub fn add_item(text: &str) {
    ITEMS.with(|items| items.borrow_mut().push(Item { text: text.to_string() }));
    view::render(&items());
}

/// Runs after each hot patch, in its newest version.
#[no_mangle]
pub extern "C" fn rust_hmr_after_patch() {
    view::render(&items());
}
