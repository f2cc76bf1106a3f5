//! The component, in the style of Leptos: a greeting with a name field and a click counter.
//! Its state is in the runtime's signals; an effect renders it through web-sys whenever a
//! signal it read changes.
//!
//! This is the code a developer edits while the app runs: `view`, which reads the signals
//! itself (as a Leptos component's body does), and the effects' bodies. A hot patch of it runs
//! against the live runtime: the values, the effects and their subscriptions stay.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Document, Element, Event, HtmlInputElement};

use reactive::{create_effect, create_signal, untrack, ReadSignal, WriteSignal};

/// The component's handles; the values stay in the runtime.
#[derive(Clone, Copy)]
pub struct Counter {
    pub count: ReadSignal<i32>,
    pub set_count: WriteSignal<i32>,
    pub name: ReadSignal<String>,
    pub set_name: WriteSignal<String>,
    pub renders: ReadSignal<u32>,
    pub set_renders: WriteSignal<u32>,
}

fn document() -> Document {
    web_sys::window().expect_throw("no window").document().expect_throw("no document")
}

/// The page's element with this id (one `mount` made).
fn element(id: &str) -> Element {
    document().get_element_by_id(id).expect_throw("an element mount made is gone")
}

/// The greeting. Run inside the render effect, it subscribes that effect to what it reads.
pub fn view(counter: &Counter) -> String {
    let name = counter.name.with(|name| name.clone());
    format!("Hello, {}! count = {}", name, counter.count.get())
}

/// Builds the component inside `parent` (a name field, a "+1" button, the greeting and the
/// number of renders), creates its signals and effects, and renders it once.
pub fn mount(parent: &Element, name: &str) -> Result<Counter, JsValue> {
    let document = document();
    let input = document.create_element("input")?;
    input.set_id("name");
    input.set_attribute("value", name)?;
    let button = document.create_element("button")?;
    button.set_id("increment");
    button.set_text_content(Some("+1"));
    let greeting = document.create_element("p")?;
    greeting.set_id("greeting");
    let renders = document.create_element("p")?;
    renders.set_id("renders");
    for part in [&input, &button, &greeting, &renders] {
        parent.append_child(part)?;
    }

    let (count, set_count) = create_signal(0i32);
    let (name, set_name) = create_signal(String::from(name));
    let (renders, set_renders) = create_signal(0u32);
    let counter = Counter { count, set_count, name, set_name, renders, set_renders };

    // Renders on every change of what `view` reads. The render count is read untracked:
    // subscribing to it here would make the effect trigger itself.
    create_effect(move || {
        element("greeting").set_text_content(Some(&view(&counter)));
        let n = untrack(|| counter.renders.get());
        counter.set_renders.set(n + 1);
    });
    create_effect(move || {
        let text = format!("{} renders", counter.renders.get());
        element("renders").set_text_content(Some(&text));
    });

    // One closure per event, forgotten: the listeners live as long as the page.
    let on_click = Closure::wrap(Box::new(move |_event: Event| {
        counter.set_count.update(|n| *n += 1);
    }) as Box<dyn FnMut(Event)>);
    button.add_event_listener_with_callback("click", on_click.as_ref().unchecked_ref())?;
    on_click.forget();
    let on_input = Closure::wrap(Box::new(move |event: Event| {
        let field: HtmlInputElement = event.target().expect_throw("no target").unchecked_into();
        counter.set_name.set(field.value());
    }) as Box<dyn FnMut(Event)>);
    input.add_event_listener_with_callback("input", on_input.as_ref().unchecked_ref())?;
    on_input.forget();
    Ok(counter)
}
