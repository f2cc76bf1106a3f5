// rust-hmr's browser runtime. The dev server puts it in the page with its configuration:
//   <script type="application/json" id="rust-hmr-config">{build, module, patches, socket}</script>
// It instantiates the app's prepared main module, applies the patches the server pushes, in the
// order sent (instantiating a patch applies it: its element segment writes the new functions
// into their table slots), shows compile errors in an overlay while the old code keeps running,
// reloads the page when a change can't be patched, and reconnects when the server restarts.
//
// The page sees what the bundle's loader gives it: `globalThis.app` (the main instance's
// exports), an `app-ready` event (detail: the exports) once the app runs, the app's `start`
// export called first if it has one, and its own imports taken from `globalThis.wasmImports`
// (set before this script runs). After each patch it gets a `rust-hmr:patched` event (detail:
// {id, functions, ms}): the moment to render again with the new code.
//
// Imports the runtime gives the app, in module `env` (the page's own take precedence):
//   log(ptr, len)                          console.log of UTF-8 text in the app's memory
//   dom_set_text(id_ptr, id_len, ptr, len) textContent of the element with that id
import { clearOverlay, showOverlay } from "./overlay.js";

const config = JSON.parse(document.getElementById("rust-hmr-config").textContent);
const given = globalThis.wasmImports ?? {};
const decoder = new TextDecoder();
const RELOAD_KEY = "rust-hmr:reload";
const MAX_BACKOFF_MS = 5000;

// What the page and the tests can read: the build, the last patch applied, each patch's timing.
const hmr = (globalThis.__hmr = {
  build: config.build,
  patch: 0,
  applied: [], // {id, functions, ms, at: Date.now() when applied}
  loadedAt: Date.now(),
});
let main = null; // the main module's instance
let updates = Promise.resolve(); // patches are applied one after another, in order
let reloading = false;
let retries = 0;

function memory() {
  return main?.exports.memory ?? given.env?.memory;
}

function text(ptr, len) {
  return decoder.decode(new Uint8Array(memory().buffer, ptr >>> 0, len >>> 0));
}

const env = {
  log(ptr, len) {
    console.log(text(ptr, len));
  },
  dom_set_text(idPtr, idLen, ptr, len) {
    const id = text(idPtr, idLen);
    const element = document.getElementById(id);
    if (element) element.textContent = text(ptr, len);
    else console.warn(`[hmr] dom_set_text: the page has no element with id "${id}"`);
  },
  ...given.env,
};

function missing(module, name) {
  return () => {
    throw new Error(`the page provides no import ${module}.${name}`);
  };
}

// The main module's import object: each name is looked up when the module asks for it.
const provided = { ...given, env };
const appImports = new Proxy(provided, {
  get: (modules, module) => new Proxy(modules[module] ?? {}, {
    get: (names, name) => names[name] ?? missing(String(module), String(name)),
  }),
});

async function instantiateMain(url) {
  const response = await fetch(url);
  if (!response.ok) throw new StaleBuild(`${url}: ${response.status}`);
  try {
    return (await WebAssembly.instantiateStreaming(response.clone(), appImports)).instance;
  } catch (error) {
    if (!(error instanceof TypeError)) throw error;
    // Served without Content-Type application/wasm: instantiate from the bytes.
    return (await WebAssembly.instantiate(await response.arrayBuffer(), appImports)).instance;
  }
}

class StaleBuild extends Error {}

// A patch imports the main module's memory, table and __stack_pointer, and every function it
// calls but does not define by its mangled name: exports of the main instance, or (a function
// the app imports itself, such as env.log) what the main module was given.
function patchImports(module, id) {
  const exports = main.exports;
  const imports = {};
  for (const { module: from, name, kind } of WebAssembly.Module.imports(module)) {
    let value;
    if (kind === "memory") value = memory();
    else if (kind === "table") value = exports.__indirect_function_table;
    else value = exports[name] ?? (kind === "function" ? provided[from]?.[name] : undefined);
    if (value === undefined) {
      throw new Error(`patch ${id} imports ${from}.${name} (${kind}), which the app lacks`);
    }
    (imports[from] ??= {})[name] = value;
  }
  return imports;
}

async function applyPatch({ id, url, functions }) {
  if (id <= hmr.patch) return; // sent again after a reconnect
  if (id !== hmr.patch + 1) throw new Error(`patch ${id} came before patch ${hmr.patch + 1}`);
  const start = performance.now();
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: ${response.status}`);
  // Asynchronous compile and instantiate: browsers refuse synchronous ones above 4 KB.
  const module = await WebAssembly.compile(await response.arrayBuffer());
  await WebAssembly.instantiate(module, patchImports(module, id));
  const ms = performance.now() - start;
  hmr.patch = id;
  hmr.applied.push({ id, functions: functions.length, ms, at: Date.now() });
  console.log(`[hmr] patched ${functions.length} functions in ${ms.toFixed(1)} ms`);
  dispatchEvent(new CustomEvent("rust-hmr:patched", { detail: { id, functions, ms } }));
}

function queuePatch(patch) {
  updates = updates.then(() => applyPatch(patch)).catch((error) => {
    // The patches after this one were linked assuming it is in place: start afresh.
    console.error(`[hmr] patch ${patch.id} failed:`, error);
    reload(`patch ${patch.id} could not be applied (${error.message})`);
  });
  return updates;
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
      if (retries > 0) console.log("[hmr] reconnected");
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
      showOverlay(message.message, message.diagnostics);
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
  url.searchParams.set("build", hmr.build ?? "");
  url.searchParams.set("patch", String(hmr.patch));
  const socket = new WebSocket(url);
  socket.onmessage = (event) => handle(JSON.parse(event.data));
  socket.onclose = () => {
    if (reloading) return;
    if (retries === 0) console.log("[hmr] lost the dev server; reconnecting");
    const delay = Math.min(MAX_BACKOFF_MS, 100 * 2 ** retries++);
    setTimeout(() => updates.then(connect), delay);
  };
}

async function start() {
  const reason = sessionStorage.getItem(RELOAD_KEY);
  if (reason !== null) {
    sessionStorage.removeItem(RELOAD_KEY);
    console.log(`[hmr] reloaded: ${reason}`);
  }
  if (config.build !== null) {
    try {
      main = await instantiateMain(config.module);
    } catch (error) {
      if (!(error instanceof StaleBuild)) throw error;
      reload("the app was rebuilt while the page loaded");
      return;
    }
    globalThis.app = main.exports;
    for (const patch of config.patches) await queuePatch(patch);
    if (reloading) return;
    if (typeof main.exports.start === "function") main.exports.start();
    dispatchEvent(new CustomEvent("app-ready", { detail: main.exports }));
  }
  connect();
}

await start();
