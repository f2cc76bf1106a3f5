// rust-hmr's browser runtime. The dev server puts it in the page with its configuration:
//   <script type="application/json" id="rust-hmr-config">{build_id, module, patches, socket}
//   </script>
// It instantiates the app's prepared main module, applies the patches the server pushes, in the
// order sent (instantiating a patch applies it: its element segment writes the new functions
// into their table slots), shows compile errors in an overlay while the old code keeps running,
// reloads the page when a change can't be patched, and reconnects when the server restarts.
//
// The page sees what the bundle's loader gives it: `globalThis.app` (the main instance's
// exports), an `app-ready` event (detail: the exports) once the app runs, the app's `start`
// export called first if it has one, and its own imports taken from `globalThis.wasmImports`
// (set before this script runs). After each patch it gets a `rust-hmr:patched` event (detail:
// {id, functions, ms}): the moment to render again with the new code; the app's own export
// `rust_hmr_after_patch`, if it has one, runs just before it. `rust-hmr:before-patch` (detail:
// {id, functions}) comes before a patch is applied, `rust-hmr:css` (detail: {path}) after a
// stylesheet was swapped in place.
//
// A wasm-bindgen app comes with its glue (config.glue: the entry module, built from descriptions
// by bindgen.js): the main module's `__wbindgen_placeholder__` imports are the glue's, and so
// are every patch's, by the same names, so the object heap and the closures are shared. A patch
// that brings bindings the glue lacks carries their descriptions (`bindgen`): the glue takes
// them before the patch is instantiated. `__hmr.glue` is the glue, its `api` the app's exports.
//
// Imports the runtime gives the app: the page interface in module `env` (page.js, shared with
// the production loader; the page's own take precedence).
import { clearBuilding, clearOverlay, showBuilding, showOverlay } from "./overlay.js";
import { importObject, pageEnv } from "./page.js";
import { guardExports, noteLog, watchTraps } from "./traps.js";

const config = JSON.parse(document.getElementById("rust-hmr-config").textContent);
watchTraps(config); // a trap shows in the overlay, its Rust backtrace symbolicated
const given = globalThis.wasmImports ?? {};
const RELOAD_KEY = "rust-hmr:reload";
const AFTER_PATCH = "rust_hmr_after_patch"; // the app's export run after each patch
const MAX_BACKOFF_MS = 5000;

// What the page and the tests read: the build id, the last patch applied, each patch's timing.
const hmr = (globalThis.__hmr = {
  build_id: config.build_id,
  patch: 0,
  applied: [], // {id, functions, ms, at: Date.now() when applied}
  loadedAt: Date.now(),
});
let main = null; // the main module's instance
let glue = null; // a wasm-bindgen app's glue
const PLACEHOLDER = "__wbindgen_placeholder__";
let updates = Promise.resolve(); // patches are applied one after another, in order
let reloading = false;
let appStarted = false; // the app's start ran: patches from now on are live ones
let retries = 0;

function memory() {
  return main?.exports.memory ?? given.env?.memory;
}

const env = {
  ...pageEnv(memory, (line) => {
    noteLog(line); // a panic hook's message, should a trap follow
    console.log(line);
  }),
  ...given.env,
};

// The main module's import object: each name is looked up when the module asks for it.
const provided = { ...given, env };
const appImports = importObject(provided);

async function instantiateMain(url) {
  if (config.glue) {
    glue = (await import(config.glue)).glue;
    provided[PLACEHOLDER] = glue.imports; // the live table of adapters: patches add to it
    hmr.glue = glue;
  }
  const response = await fetch(url);
  if (!response.ok) throw new StaleBuild(`${url}: ${response.status}`);
  let result;
  try {
    result = await WebAssembly.instantiateStreaming(response.clone(), appImports);
  } catch (error) {
    if (!(error instanceof TypeError)) throw error;
    // Served without Content-Type application/wasm: instantiate from the bytes.
    result = await WebAssembly.instantiate(await response.arrayBuffer(), appImports);
  }
  glue?.attach(result.instance, result.module);
  return result.instance;
}

class StaleBuild extends Error {}

// A patch imports from module "rust-hmr:main" what the main instance has: its memory, its table
// and, by export name, __stack_pointer, data globals and every function it calls but does not
// define (mangled names). Its other imports are the app's own (env.log, say): they get what the
// main module was given. A main export and an app import may share a name (libm's `log`).
const MAIN_MODULE = "rust-hmr:main";

function patchImports(module, id) {
  const exports = main.exports;
  const imports = {};
  for (const { module: from, name, kind } of WebAssembly.Module.imports(module)) {
    let value;
    if (from !== MAIN_MODULE) value = provided[from]?.[name];
    else if (kind === "memory") value = memory();
    else if (kind === "table") value = exports.__indirect_function_table;
    else value = exports[name];
    if (value === undefined) {
      throw new Error(`patch ${id} imports ${from}.${name} (${kind}), which the app lacks`);
    }
    (imports[from] ??= {})[name] = value;
  }
  return imports;
}

// A patch's bytes: in its message when the server pushed it as it was made (small ones),
// else from its URL.
async function patchBytes(url, wasm) {
  if (wasm !== undefined) {
    return Uint8Array.fromBase64?.(wasm) ?? Uint8Array.from(atob(wasm), (c) => c.charCodeAt(0));
  }
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: ${response.status}`);
  return response.arrayBuffer();
}

async function applyPatch({ id, url, functions, bindgen, wasm }) {
  if (id <= hmr.patch) return; // sent again after a reconnect
  if (id !== hmr.patch + 1) throw new Error(`patch ${id} came before patch ${hmr.patch + 1}`);
  const start = performance.now();
  // Asynchronous compile and instantiate: browsers refuse synchronous ones above 4 KB.
  const module = await WebAssembly.compile(await patchBytes(url, wasm));
  if (appStarted) {
    dispatchEvent(new CustomEvent("rust-hmr:before-patch", { detail: { id, functions } }));
  }
  if (bindgen) {
    if (!glue) throw new Error(`patch ${id} brings wasm-bindgen imports, but the app has no glue`);
    glue.add(bindgen); // its new imports and closure types, before anything can call them
  }
  await WebAssembly.instantiate(module, patchImports(module, id));
  const ms = performance.now() - start;
  hmr.patch = id;
  hmr.applied.push({ id, functions: functions.length, ms, at: Date.now() });
  const count = `${functions.length} function${functions.length === 1 ? "" : "s"}`;
  console.log(`[hmr] patched ${count} in ${ms.toFixed(1)} ms`);
  if (!appStarted) return; // a page that loads takes the patches made so far before it starts
  afterPatch();
  dispatchEvent(new CustomEvent("rust-hmr:patched", { detail: { id, functions, ms } }));
}

// The app's own after-patch hook, if it exports one: its export is the trampoline, so the
// call runs the newest version, the one the patch just brought.
function afterPatch() {
  const hook = globalThis.app[AFTER_PATCH]; // guarded: a trap in it shows in the trap view
  if (typeof hook !== "function") return;
  try {
    hook();
  } catch (error) {
    if (!(error instanceof WebAssembly.RuntimeError)) throw error; // the patch is in: no reload
  }
}

function queuePatch(patch) {
  updates = updates.then(() => applyPatch(patch)).catch((error) => {
    // The patches after this one were linked assuming it is in place: start afresh.
    console.error(`[hmr] patch ${patch.id} failed:`, error);
    reload(`patch ${patch.id} could not be applied (${error.message})`);
  });
  return updates;
}

// A changed stylesheet replaces the page's <link> to it: the new one loads under a new URL,
// then the old one goes, so the page never shows unstyled. A stylesheet the page does not
// link itself (an @import, say) reloads the page.
function swapStylesheet({ path, version }) {
  const links = [...document.querySelectorAll('link[rel~="stylesheet"]')]
    .filter((link) => new URL(link.href, location.href).pathname === path);
  if (links.length === 0) {
    reload(`${path} changed`);
    return;
  }
  for (const old of links) {
    const fresh = old.cloneNode();
    const url = new URL(old.href, location.href);
    url.searchParams.set("v", String(version));
    fresh.href = url.pathname + url.search;
    fresh.addEventListener("load", () => old.remove(), { once: true });
    fresh.addEventListener("error", () => reload(`${path} failed to load`), { once: true });
    old.after(fresh);
  }
  console.log(`[hmr] swapped stylesheet ${path}`);
  dispatchEvent(new CustomEvent("rust-hmr:css", { detail: { path } }));
}

function reload(reason) {
  if (reloading) return;
  reloading = true;
  console.log(`[hmr] full reload: ${reason}`);
  sessionStorage.setItem(RELOAD_KEY, reason);
  location.reload();
}

function handle(message) {
  switch (message.type) {
    case "hello":
      console.log(retries > 0 ? "[hmr] reconnected" : "[hmr] connected");
      retries = 0;
      break;
    case "patch":
      queuePatch(message);
      break;
    case "full-reload":
      updates.then(() => reload(message.reason));
      break;
    case "error":
      console.error(`[hmr] build failed: ${message.message}\n${message.diagnostics}`);
      clearBuilding();
      showOverlay(message.message, message.diagnostics, main !== null);
      break;
    case "css":
      swapStylesheet(message);
      break;
    case "ok":
      clearOverlay();
      break;
    default:
      throw new Error(`[hmr] unknown message type ${JSON.stringify(message.type)}`);
  }
}

function connect() {
  const url = new URL(config.socket, location.href);
  url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  url.searchParams.set("build_id", hmr.build_id ?? "");
  url.searchParams.set("patch", String(hmr.patch));
  const socket = new WebSocket(url);
  socket.onmessage = (event) => handle(JSON.parse(event.data));
  socket.onclose = () => {
    if (reloading) return;
    if (retries === 0) console.log("[hmr] lost the dev server; reconnecting");
    // Each failed try is one line the browser itself logs: start at 250 ms, back off to 5 s,
    // and make none while the page is hidden.
    const delay = Math.min(MAX_BACKOFF_MS, 250 * 2 ** retries++);
    setTimeout(() => updates.then(whenVisible).then(connect), delay);
  };
}

function whenVisible() {
  if (!document.hidden) return undefined;
  return new Promise((resolve) => {
    document.addEventListener("visibilitychange", resolve, { once: true });
  });
}

async function start() {
  const reason = sessionStorage.getItem(RELOAD_KEY);
  if (reason !== null) {
    sessionStorage.removeItem(RELOAD_KEY);
    console.log(`[hmr] reloaded: ${reason}`);
  }
  if (config.build_id !== null) {
    try {
      main = await instantiateMain(config.module);
    } catch (error) {
      if (!(error instanceof StaleBuild)) throw error;
      reload("the app was rebuilt while the page loaded");
      return;
    }
    globalThis.app = guardExports(main.exports); // each call reports a trap
    for (const patch of config.patches) await queuePatch(patch);
    if (reloading) return;
    const startName = glue ? glue.startName : "start"; // #[wasm_bindgen(start)], or `start`
    if (startName && typeof main.exports[startName] === "function") globalThis.app[startName]();
    appStarted = true;
    dispatchEvent(new CustomEvent("app-ready", { detail: main.exports }));
  } else {
    showBuilding(config.crate ?? "the app");
  }
  connect();
}

await start();
