//! The component: a greeting and a click counter, rendered to a string by an effect.
//!
//! This is the code a developer edits while the app runs: `view` and the effects' bodies.
//! Its state lives in the runtime's signals, which a patch of this file must keep.

use crate::host;
use reactive::{create_effect, create_signal, untrack, ReadSignal, WriteSignal};

/// The handles the exported functions use; the values stay in the runtime.
#[derive(Clone, Copy)]
pub struct App {
    pub count: ReadSignal<i32>,
    pub set_count: WriteSignal<i32>,
    pub set_name: WriteSignal<String>,
    pub output: ReadSignal<String>,
    pub renders: ReadSignal<u32>,
}

/// The text the app shows.
pub fn view(name: &str, count: i32) -> String {
    format!("Hello, {}! count = {}", name, count)
}

/// Creates the app's signals and effects; the first render happens before this returns.
pub fn mount(name: &str) -> App {
    let (count, set_count) = create_signal(0i32);
    let (name, set_name) = create_signal(String::from(name));
    let (output, set_output) = create_signal(String::new());
    let (renders, set_renders) = create_signal(0u32);

    // Renders on every change of `name` or `count`. The render count is read untracked:
    // subscribing to it here would make the effect trigger itself.
    create_effect(move || {
        let text = name.with(|name| view(name, count.get()));
        set_output.set(text);
        let n = untrack(|| renders.get());
        set_renders.set(n + 1);
    });

    // Reports each render to the host.
    create_effect(move || {
        let line = output.with(|text| format!("render #{}: {}", renders.get(), text));
        host::log(&line);
    });

    App { count, set_count, set_name, output, renders }
}
