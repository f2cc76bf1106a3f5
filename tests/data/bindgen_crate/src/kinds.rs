//! One round trip per kind of value and import the JS glue converts (tests/test_bindgen_glue.py).

use std::cell::RefCell;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

#[wasm_bindgen(module = "/snippets/kinds.js")]
extern "C" {
    fn decorate(text: &str) -> String;
    #[wasm_bindgen(js_name = addU32)]
    fn add_u32(a: u32, b: u32) -> u32;
    #[wasm_bindgen(js_name = maybeName)]
    fn maybe_name(some: bool) -> Option<String>;
    #[wasm_bindgen(js_name = byteTotal)]
    fn byte_total(bytes: &[u8]) -> u32;
    #[wasm_bindgen(js_name = setCallback)]
    fn set_callback(callback: &JsValue);

    /// A JS class: constructor, `final` method, getter and setter, a static method.
    type Greeter;
    #[wasm_bindgen(constructor)]
    fn new(name: &str) -> Greeter;
    #[wasm_bindgen(method, final)]
    fn hello(this: &Greeter) -> String;
    #[wasm_bindgen(method, getter, final)]
    fn name(this: &Greeter) -> String;
    #[wasm_bindgen(method, setter, final)]
    fn set_name(this: &Greeter, name: &str);
    #[wasm_bindgen(static_method_of = Greeter)]
    fn count() -> u32;

    /// An imported static.
    #[wasm_bindgen(js_name = settings)]
    static SETTINGS: JsValue;
}

#[wasm_bindgen(inline_js = "export function twice(x) { return x * 2; }")]
extern "C" {
    fn twice(x: i32) -> i32;
}

#[wasm_bindgen]
extern "C" {
    /// A structural method and indexing on a plain JS object.
    type Bag;
    #[wasm_bindgen(method, structural, js_name = hasOwnProperty)]
    fn has(this: &Bag, key: &str) -> bool;
    #[wasm_bindgen(method, structural, indexing_getter)]
    fn get(this: &Bag, key: &str) -> JsValue;
    #[wasm_bindgen(method, structural, indexing_setter)]
    fn set(this: &Bag, key: &str, value: &JsValue);
    #[wasm_bindgen(method, structural, indexing_deleter)]
    fn delete(this: &Bag, key: &str);
}

#[wasm_bindgen]
pub fn text_round_trip(text: &str) -> String {
    decorate(&format!("{text}→{}", text.chars().count()))
}

#[wasm_bindgen]
pub fn numbers(a: u8, b: i8, c: u16, d: i16, e: f32, f: i64, g: u64) -> f64 {
    a as f64 + b as f64 + c as f64 + d as f64 + e as f64 + f as f64 + g as f64
}

#[wasm_bindgen]
pub fn u64_max_minus(n: u64) -> u64 {
    u64::MAX - n
}

#[wasm_bindgen]
pub fn u32_sum(a: u32, b: u32) -> u32 {
    add_u32(a, b)
}

#[wasm_bindgen]
pub fn next_char(c: char) -> char {
    char::from_u32(c as u32 + 1).unwrap_or('?')
}

#[wasm_bindgen]
pub fn half(x: Option<f64>) -> Option<f64> {
    x.map(|v| v / 2.0)
}

#[wasm_bindgen]
pub fn opt_u32(x: Option<u32>) -> Option<u32> {
    x.map(|v| v + 1)
}

#[wasm_bindgen]
pub fn opt_bool(x: Option<bool>) -> Option<bool> {
    x.map(|v| !v)
}

#[wasm_bindgen]
pub fn name_or(some: bool) -> String {
    maybe_name(some).unwrap_or_else(|| "nobody".into())
}

#[wasm_bindgen]
pub fn try_risky(flag: bool) -> String {
    match super::risky(flag) {
        Ok(n) => format!("ok {n}"),
        Err(e) => format!("err {}", e.as_string().unwrap_or_else(|| {
            js_sys::Error::from(e).message().into()
        })),
    }
}

#[wasm_bindgen]
pub fn fail_with(message: &str) -> Result<f64, JsValue> {
    Err(js_sys::Error::new(message).into())
}

#[wasm_bindgen]
pub fn bytes(n: u8) -> Vec<u8> {
    (0..n).collect()
}

#[wasm_bindgen]
pub fn byte_sum(values: Vec<u8>) -> u32 {
    values.iter().map(|&b| b as u32).sum()
}

#[wasm_bindgen]
pub fn js_byte_total(n: u8) -> u32 {
    byte_total(&bytes(n))
}

#[wasm_bindgen]
pub fn fill(buffer: &mut [u8], value: u8) {
    buffer.iter_mut().for_each(|b| *b = value);
}

#[wasm_bindgen]
pub fn scaled(values: &[f64], by: f64) -> Vec<f64> {
    values.iter().map(|v| v * by).collect()
}

thread_local! {
    static COUNTER_CLOSURE: RefCell<Option<Closure<dyn FnMut(u32) -> u32>>> = RefCell::new(None);
    static ONCE_CLOSURE: RefCell<Option<Closure<dyn FnMut(String) -> String>>> = RefCell::new(None);
}

/// Hands JS a closure that sums what it is called with (`globalThis.kindsCallback`).
#[wasm_bindgen]
pub fn closure_start() {
    let mut total = 0u32;
    let closure = Closure::wrap(Box::new(move |n: u32| {
        total += n;
        total
    }) as Box<dyn FnMut(u32) -> u32>);
    set_callback(closure.as_ref());
    COUNTER_CLOSURE.with(|c| *c.borrow_mut() = Some(closure));
}

/// Hands JS a `Closure::once` that takes and returns a string.
#[wasm_bindgen]
pub fn once_start(prefix: String) {
    let closure = Closure::once(move |text: String| format!("{prefix}{text}"));
    set_callback(closure.as_ref());
    ONCE_CLOSURE.with(|c| *c.borrow_mut() = Some(closure));
}

/// Drops both closures: their JS functions stop working.
#[wasm_bindgen]
pub fn closures_drop() {
    COUNTER_CLOSURE.with(|c| c.borrow_mut().take());
    ONCE_CLOSURE.with(|c| c.borrow_mut().take());
}

#[wasm_bindgen]
pub fn is_html_element(value: JsValue) -> bool {
    value.dyn_into::<web_sys::HtmlElement>().is_ok()
}

#[wasm_bindgen]
pub fn tag_of(value: JsValue) -> Result<String, JsValue> {
    let element: web_sys::Element = value.dyn_into()?;
    Ok(element.tag_name())
}

/// A DOM edit through web-sys: a list item with text, appended to `#list`.
#[wasm_bindgen]
pub fn add_item(text: &str) -> Result<u32, JsValue> {
    let document = web_sys::window().unwrap().document().unwrap();
    let list = document.get_element_by_id("list").ok_or("no #list")?;
    let item = document.create_element("li")?;
    item.set_text_content(Some(text));
    list.append_child(&item)?;
    Ok(list.child_element_count())
}

#[wasm_bindgen]
pub fn greeter_round_trip(name: &str) -> String {
    let greeter = Greeter::new(name);
    let first = greeter.hello();
    greeter.set_name("Bob");
    format!("{first} / {} / {}", greeter.name(), Greeter::count())
}

#[wasm_bindgen]
pub fn inline_twice(x: i32) -> i32 {
    twice(x)
}

#[wasm_bindgen]
pub fn settings() -> JsValue {
    SETTINGS.clone()
}

#[wasm_bindgen]
pub fn bag_edit(bag: JsValue) -> bool {
    let bag: Bag = bag.unchecked_into();
    bag.set("added", &JsValue::from_str("yes"));
    let old = bag.get("old");
    bag.set("copied", &old);
    bag.delete("old");
    bag.has("copied") && !bag.has("old")
}

#[wasm_bindgen]
pub enum Color {
    Red,
    Green,
    Blue,
}

#[wasm_bindgen]
pub fn next_color(color: Color) -> Color {
    match color {
        Color::Red => Color::Green,
        Color::Green => Color::Blue,
        Color::Blue => Color::Red,
    }
}

#[wasm_bindgen]
pub fn same(a: &JsValue, b: &JsValue) -> bool {
    a == b
}

#[wasm_bindgen]
pub fn debug_text(value: &JsValue) -> String {
    format!("{value:?}")
}

/// An exported class with a static constructor, methods taking `&self`, `&mut self` and another
/// instance by reference, and `free`.
#[wasm_bindgen]
pub struct Tally {
    total: u32,
}

#[wasm_bindgen]
impl Tally {
    #[wasm_bindgen(constructor)]
    pub fn new(start: u32) -> Tally {
        Tally { total: start }
    }

    pub fn add(&mut self, n: u32) -> u32 {
        self.total += n;
        self.total
    }

    pub fn total(&self) -> u32 {
        self.total
    }

    pub fn absorb(&mut self, other: &Tally) {
        self.total += other.total;
    }

    pub fn zero() -> Tally {
        Tally { total: 0 }
    }
}
