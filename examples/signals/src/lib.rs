//! The signals example: a component on a small reactive runtime, driven through `extern "C"`
//! functions. The runtime (the `reactive` crate in examples/reactive, a path dependency shared
//! with signals-web) and the component (`app`) are separate: a hot patch replaces the
//! component's code while the runtime's state lives on.

mod app;
mod host;

use std::cell::Cell;

use app::App;
use reactive::{create_runtime, Runtime};

thread_local! {
    static APP: Cell<Option<App>> = Cell::new(None);
}

fn app() -> App {
    host::install_panic_hook();
    APP.with(Cell::get).expect("app not mounted: call app_init() first")
}

/// Creates the runtime and mounts the app (once); returns the number of signals.
#[no_mangle]
pub extern "C" fn app_init() -> i32 {
    host::install_panic_hook();
    if APP.with(Cell::get).is_none() {
        create_runtime();
        APP.with(|slot| slot.set(Some(app::mount("world"))));
        host::log("signals app ready");
    }
    signal_count()
}

/// One click: the count goes up by one and the app renders. Returns the new count.
#[no_mangle]
pub extern "C" fn app_click() -> i32 {
    let app = app();
    app.set_count.update(|n| *n += 1);
    app.count.get()
}

/// The current count.
#[no_mangle]
pub extern "C" fn app_count() -> i32 {
    app().count.get()
}

/// `len` bytes of memory for the host to write a string into; give it back with `app_free`.
#[no_mangle]
pub extern "C" fn app_alloc(len: usize) -> *mut u8 {
    let mut buffer = Vec::<u8>::with_capacity(len);
    let ptr = buffer.as_mut_ptr();
    std::mem::forget(buffer);
    ptr
}

/// Frees memory from `app_alloc`.
///
/// # Safety
/// `ptr` and `len` must come from one `app_alloc` call, and be freed once.
#[no_mangle]
pub unsafe extern "C" fn app_free(ptr: *mut u8, len: usize) {
    drop(Vec::from_raw_parts(ptr, 0, len));
}

/// Sets the name from `len` bytes of UTF-8 at `ptr` (invalid bytes become U+FFFD).
///
/// # Safety
/// `ptr..ptr + len` must be readable memory.
#[no_mangle]
pub unsafe extern "C" fn app_set_name(ptr: *const u8, len: usize) {
    let bytes = std::slice::from_raw_parts(ptr, len);
    app().set_name.set(String::from_utf8_lossy(bytes).into_owned());
}

/// Where the rendered text starts in memory; valid until the next render.
#[no_mangle]
pub extern "C" fn app_render_ptr() -> *const u8 {
    app().output.with(|text| text.as_ptr())
}

/// The rendered text's length in bytes.
#[no_mangle]
pub extern "C" fn app_render_len() -> usize {
    app().output.with(String::len)
}

/// A checksum of the rendered text, so callers can compare renders without reading memory.
#[no_mangle]
pub extern "C" fn app_render_hash() -> i32 {
    app().output.with(|text| {
        text.bytes().fold(17i32, |h, b| h.wrapping_mul(31).wrapping_add(b as i32))
    })
}

/// How many times the app rendered.
#[no_mangle]
pub extern "C" fn app_renders() -> u32 {
    app().renders.get()
}

/// How many effect runs the runtime made, all effects together.
#[no_mangle]
pub extern "C" fn effect_runs() -> u32 {
    host::install_panic_hook();
    Runtime::with(|rt| rt.effect_runs())
}

/// How many signals the runtime holds.
#[no_mangle]
pub extern "C" fn signal_count() -> i32 {
    host::install_panic_hook();
    Runtime::with(|rt| rt.signal_count() as i32)
}
