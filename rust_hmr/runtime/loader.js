// The production loader: fetches the wasm that this script's tag names (data-wasm, checked
// against its data-wasm-integrity hash), instantiates it with the page interface (page.js)
// and calls its `start` export, if it has one. (Not a <link rel="preload">: browsers ignore
// `integrity` on a preload of a fetch.) A page adds imports of its own by setting
// globalThis.wasmImports = { module: { name: function } } before this script runs.
import { importObject, pageEnv } from "./page.js";

const tag = document.querySelector("script[data-wasm]");
const wasmUrl = new URL(tag.dataset.wasm, location.href);
const given = globalThis.wasmImports ?? {};
let memory = null;

const env = { ...pageEnv(() => memory), ...given.env };
const imports = importObject({ ...given, env });

async function instantiate() {
  const options = { integrity: tag.dataset.wasmIntegrity };
  try {
    return await WebAssembly.instantiateStreaming(fetch(wasmUrl, options), imports);
  } catch (error) {
    if (!(error instanceof TypeError)) throw error;
    // Served without Content-Type application/wasm: instantiate from the bytes.
    const response = await fetch(wasmUrl, options);
    return WebAssembly.instantiate(await response.arrayBuffer(), imports);
  }
}

const { instance } = await instantiate();
memory = instance.exports.memory ?? given.env?.memory;
if (typeof instance.exports.start === "function") instance.exports.start();
globalThis.app = instance.exports;
dispatchEvent(new CustomEvent("app-ready", { detail: instance.exports }));
export default instance.exports;
