//! A small wasm-bindgen crate for the bindgen tests: exports and imports of the simple kinds
//! (numbers, bool, strings, JsValue, Option, Result, slices), web-sys types, js-sys and a closure.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

mod kinds;

#[wasm_bindgen]
extern "C" {
    /// `console.log` with one string: an import in a JS namespace.
    #[wasm_bindgen(js_namespace = console, js_name = log)]
    fn log_str(message: &str);

    /// A free function of the page, renamed for Rust.
    #[wasm_bindgen(js_name = pageTitle)]
    fn page_title() -> String;

    /// Throws in JS: `catch` turns that into a Rust `Err`.
    #[wasm_bindgen(catch, js_namespace = ["window", "app"])]
    fn risky(flag: bool) -> Result<u32, JsValue>;
}

/// A function of the crate's own JS file.
#[wasm_bindgen(module = "/snippets/clock.js")]
extern "C" {
    fn ticks(scale: f64) -> f64;
}

#[wasm_bindgen]
pub fn greet(name: &str) -> String {
    format!("Hello, {name}!")
}

#[wasm_bindgen]
pub fn add(a: i32, b: i32) -> i32 {
    a.wrapping_add(b)
}

#[wasm_bindgen(js_name = isEven)]
pub fn is_even(n: u32) -> bool {
    n % 2 == 0
}

#[wasm_bindgen]
pub fn initial(text: Option<String>) -> Option<char> {
    text.and_then(|t| t.chars().next())
}

#[wasm_bindgen]
pub fn sum(values: &[f64]) -> f64 {
    values.iter().sum()
}

#[wasm_bindgen]
pub fn squares(n: u32) -> Vec<u32> {
    (0..n).map(|i| i * i).collect()
}

#[wasm_bindgen]
pub fn parse_count(text: &str) -> Result<u32, JsValue> {
    text.parse().map_err(|_| JsValue::from_str("not a number"))
}

#[wasm_bindgen]
pub fn echo(value: JsValue) -> JsValue {
    value
}

#[wasm_bindgen]
pub fn now_plus(ms: f64) -> f64 {
    js_sys::Date::now() + ms + ticks(1.0)
}

/// Builds a button that counts its clicks: web-sys Document and Element, and a Closure.
#[wasm_bindgen]
pub fn mount(label: &str) -> Result<web_sys::Element, JsValue> {
    let document = web_sys::window().expect("a window").document().expect("a document");
    let button = document.create_element("button")?;
    button.set_text_content(Some(label));
    let target = button.clone();
    let mut clicks = 0u32;
    let on_click = Closure::wrap(Box::new(move |_event: web_sys::Event| {
        clicks += 1;
        target.set_text_content(Some(&format!("clicked {clicks}")));
    }) as Box<dyn FnMut(web_sys::Event)>);
    button
        .dyn_ref::<web_sys::HtmlElement>()
        .expect("an HTML element")
        .set_onclick(Some(on_click.as_ref().unchecked_ref()));
    on_click.forget();
    document.body().expect("a body").append_child(&button)?;
    Ok(button)
}

#[wasm_bindgen(start)]
pub fn start() {
    console_error_panic_hook::set_once();
    web_sys::console::log_1(&JsValue::from_str("started"));
    log_str(&page_title());
    let _ = risky(true);
}

/// An exported class: a constructor, a method, and the struct as a value.
#[wasm_bindgen]
pub struct Counter {
    count: u32,
}

#[wasm_bindgen]
impl Counter {
    #[wasm_bindgen(constructor)]
    pub fn new() -> Counter {
        Counter { count: 0 }
    }

    pub fn bump(&mut self, by: u32) -> u32 {
        self.count += by;
        self.count
    }
}

impl Default for Counter {
    fn default() -> Self {
        Self::new()
    }
}
