//! The page: `mount` builds the form and the empty list once and adds one listener per kind of
//! event; `render` writes the items and the count of open ones into the DOM after each change.
//!
//! The list's rows have no listeners of their own: a click or a change inside the list reaches
//! the list's listener, which finds the row (its `data-id`) from the event's target. So the
//! rows can be rebuilt on every render without making or dropping a closure.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Document, Element, Event, HtmlInputElement};

use crate::state;

fn document() -> Document {
    web_sys::window().expect_throw("no window").document().expect_throw("no document")
}

/// The page's element with this id (one `mount` made).
fn element(id: &str) -> Result<Element, JsValue> {
    document()
        .get_element_by_id(id)
        .ok_or_else(|| JsValue::from_str(&format!("the page has no #{id}")))
}

fn create(document: &Document, tag: &str, id: &str) -> Result<Element, JsValue> {
    let element = document.create_element(tag)?;
    if !id.is_empty() {
        element.set_id(id);
    }
    Ok(element)
}

/// Builds the app inside the page's `<main id="app">`: a text input, an "Add" button, the list
/// and the count.
pub fn mount() -> Result<(), JsValue> {
    let document = document();
    let app = element("app")?;
    app.set_inner_html("");

    let title = create(&document, "h1", "")?;
    title.set_text_content(Some("Todo"));
    let form = create(&document, "p", "")?;
    let input = create(&document, "input", "new-todo")?;
    input.set_attribute("placeholder", "What needs doing?")?;
    input.set_attribute("autocomplete", "off")?;
    let add = create(&document, "button", "add")?;
    add.set_text_content(Some("Add"));
    form.append_child(&input)?;
    form.append_child(&add)?;
    let list = create(&document, "ul", "list")?;
    let count = create(&document, "p", "count")?;
    for part in [&title, &form, &list, &count] {
        app.append_child(part)?;
    }

    // One closure per event. Each is forgotten: its listener lives as long as the page.
    let on_add = Closure::wrap(Box::new(|_event: Event| {
        run(add_from_input());
    }) as Box<dyn FnMut(Event)>);
    listen(&add, "click", on_add)?;
    let on_change = Closure::wrap(Box::new(|event: Event| {
        run(toggle_row(&event));
    }) as Box<dyn FnMut(Event)>);
    listen(&list, "change", on_change)?;
    let on_click = Closure::wrap(Box::new(|event: Event| {
        run(remove_row(&event));
    }) as Box<dyn FnMut(Event)>);
    listen(&list, "click", on_click)
}

fn listen(target: &Element, event: &str, closure: Closure<dyn FnMut(Event)>) -> Result<(), JsValue> {
    target.add_event_listener_with_callback(event, closure.as_ref().unchecked_ref())?;
    closure.forget();
    Ok(())
}

/// An event handler's failure goes to the console (an event has no caller to return it to).
fn run(result: Result<(), JsValue>) {
    if let Err(error) = result {
        wasm_bindgen::throw_val(error);
    }
}

/// The "Add" button: the input's text becomes an item, and the input is emptied.
fn add_from_input() -> Result<(), JsValue> {
    let input: HtmlInputElement = element("new-todo")?.dyn_into()?;
    if state::with(|todos| todos.add(&input.value())) {
        input.set_value("");
        render()?;
    }
    Ok(())
}

/// A row's checkbox changed: its item is done, or open again.
fn toggle_row(event: &Event) -> Result<(), JsValue> {
    if let Some(id) = row_id(event, "toggle")? {
        state::with(|todos| todos.toggle(id));
        render()?;
    }
    Ok(())
}

/// A click on a row's "remove" button.
fn remove_row(event: &Event) -> Result<(), JsValue> {
    if let Some(id) = row_id(event, "remove")? {
        state::with(|todos| todos.remove(id));
        render()?;
    }
    Ok(())
}

/// The id of the row whose `action` control the event came from; None for any other target
/// (a click on the text, or on the checkbox when looking for "remove").
fn row_id(event: &Event, action: &str) -> Result<Option<u32>, JsValue> {
    let target = match event.target().and_then(|t| t.dyn_into::<Element>().ok()) {
        Some(target) => target,
        None => return Ok(None),
    };
    if target.get_attribute("data-action").as_deref() != Some(action) {
        return Ok(None);
    }
    let row = target.closest("li")?;
    Ok(row.and_then(|row| row.get_attribute("data-id")).and_then(|id| id.parse().ok()))
}

/// Writes the list and the count from the state.
pub fn render() -> Result<(), JsValue> {
    let document = document();
    let list = element("list")?;
    list.set_inner_html("");
    let (rows, open) = state::with(|todos| {
        let rows: Result<Vec<Element>, JsValue> =
            todos.items().iter().map(|item| row(&document, item)).collect();
        (rows, todos.open_count())
    });
    for row in rows? {
        list.append_child(&row)?;
    }
    element("count")?.set_text_content(Some(&count_label(open)));
    Ok(())
}

/// One item as `<li data-id=…><input type=checkbox data-action=toggle><span>text</span>
/// <button data-action=remove>remove</button></li>`.
fn row(document: &Document, item: &state::Item) -> Result<Element, JsValue> {
    let row = create(document, "li", "")?;
    row.set_attribute("data-id", &item.id.to_string())?;
    if item.done {
        row.set_class_name("done");
    }
    let check: HtmlInputElement = create(document, "input", "")?.dyn_into()?;
    check.set_type("checkbox");
    check.set_checked(item.done);
    check.set_attribute("data-action", "toggle")?;
    let text = create(document, "span", "")?;
    text.set_text_content(Some(&item.text));
    let remove = create(document, "button", "")?;
    remove.set_attribute("data-action", "remove")?;
    remove.set_text_content(Some("remove"));
    for part in [check.as_ref(), &text, &remove] {
        row.append_child(part)?;
    }
    Ok(row)
}

fn count_label(open: usize) -> String {
    match open {
        1 => "1 item left".to_owned(),
        n => format!("{n} items left"),
    }
}
