//! What the app imports from its host: one function that prints a line.

use std::sync::Once;

#[link(wasm_import_module = "env")]
extern "C" {
    #[link_name = "log"]
    fn host_log(ptr: *const u8, len: usize);
}

/// Prints `line` (UTF-8) through the host.
pub fn log(line: &str) {
    unsafe { host_log(line.as_ptr(), line.len()) }
}

/// Sends panic messages to the host's log: on wasm32 a panic is only an `unreachable` trap,
/// and the message would be lost.
pub fn install_panic_hook() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| std::panic::set_hook(Box::new(|info| log(&info.to_string()))));
}
