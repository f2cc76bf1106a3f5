"""rust-hmr: build Rust crates to WebAssembly and hot-swap changed code into the running app."""

__version__ = "0.1.0"
