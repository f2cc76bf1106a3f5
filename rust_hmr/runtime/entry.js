// The entry module of a wasm-bindgen app's glue, the module the page imports
// (`import init, { greet } from "./app.js"`). One template for `rust-hmr dev`, `generate_glue`
// and the bundle: rust_hmr/bindgen/_entry.py fills its slots with data, never with code. Each
// quoted slot below takes a JSON value:
//   runtime       the runtime's specifier (bindgen.js, under the name it is served by)
//   descriptions  the module's imports, closures, exports and classes (rust_hmr/bindgen/_plan.py)
//   modules       {key: specifier}, the JS modules the imports use; the runtime imports them,
//                 a relative specifier relative to this module
//   wasm          {url}: the main module, which the default export instantiates; a bundle's
//                 {url, integrity, start: true}: the runtime fetches and starts it right away
// and the comment slot takes the app's exports by name, JS identifiers. `glue` and `$entry` are
// this module's own names: no export of the app can take them.
import { entry as $entry } from "@runtime@";

export const glue = await $entry("@descriptions@", "@modules@", "@wasm@", import.meta.url);
export const { /* @names@ */ } = glue.api;
export default glue.entryDefault;
