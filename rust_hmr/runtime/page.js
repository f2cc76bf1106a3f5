// The page interface a std-only app imports, in module `env`, the same in the dev runtime
// (hmr.js) and the production loader (loader.js):
//   log(ptr, len)                          one UTF-8 line in the app's memory
//   dom_set_text(id_ptr, id_len, ptr, len) textContent of the element with that id
// and the import object both instantiate with: each name is looked up when the module asks for
// it, and one the page lacks throws when called, naming it.

const decoder = new TextDecoder();

// `memory()` gives the app's memory once it exists; `log(line)` prints a line.
export function pageEnv(memory, log = (line) => console.log(line)) {
  const text = (ptr, len) => decoder.decode(new Uint8Array(memory().buffer, ptr >>> 0, len >>> 0));
  return {
    log(ptr, len) {
      log(text(ptr, len));
    },
    dom_set_text(idPtr, idLen, ptr, len) {
      const id = text(idPtr, idLen);
      const element = document.getElementById(id);
      if (element) element.textContent = text(ptr, len);
      else console.warn(`[rust-hmr] dom_set_text: the page has no element with id "${id}"`);
    },
  };
}

function missing(module, name) {
  return () => {
    throw new Error(`the page provides no import ${module}.${name}`);
  };
}

export function importObject(modules) {
  return new Proxy(modules, {
    get: (all, module) => new Proxy(all[module] ?? {}, {
      get: (names, name) => names[name] ?? missing(String(module), String(name)),
    }),
  });
}
