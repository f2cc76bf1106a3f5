//! Rendering: the tests edit this file.

use wasm_bindgen::prelude::*;

fn element(id: &str) -> web_sys::Element {
    web_sys::window().unwrap().document().unwrap().get_element_by_id(id).unwrap()
}

pub fn render(items: &[String]) {
    let document = web_sys::window().unwrap().document().unwrap();
    element("title").set_text_content(Some(&format!("Todo: {} items", items.len())));
    let list = element("list");
    list.set_text_content(None);
    for text in items {
        let li = document.create_element("li").unwrap();
        li.set_text_content(Some(text));
        list.append_child(&li).unwrap();
    }
    // EXTRA
}
