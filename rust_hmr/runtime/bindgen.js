// The JS side of a wasm-bindgen 0.2.83 module, built at load time from descriptions.
//
// rust_hmr.bindgen (Python) describes each import, closure type, export and class of a module
// as JSON (see rust_hmr/bindgen/_plan.py); this file turns each description into an adapter by
// composing small converters, one per type form (rust_hmr/bindgen/_abi.py). Nothing here is
// generated per app, so a hot patch that brings new imports or closure types ships only their
// descriptions and calls `glue.add(...)` on the live glue: it shares the heap, the closures and
// the main module's memory and allocator.
//
// JsValues live in a heap: slots 0..31 are a stack for values lent to Rust for one call, 32..35
// hold undefined, null, true and false (wasm-bindgen's reserved indices), and freed slots above
// form a free list threaded through the array.

export const SCHEMA_VERSION = "0.2.83";
const STACK_SIZE = 32;
const CONSTANTS = [undefined, null, true, false];
const RESERVED = STACK_SIZE + CONSTANTS.length;
const NONE_U32 = 0xffffff; // Option<u8/i8/u16/i16/bool/char> None

export class BindgenError extends Error {
  constructor(message) {
    super(`${message} (rust-hmr's glue for wasm-bindgen ${SCHEMA_VERSION})`);
    this.name = "BindgenError";
  }
}

export class Heap {
  constructor() {
    this.slots = [...new Array(STACK_SIZE).fill(undefined), ...CONSTANTS];
    this.next = this.slots.length;
    this.top = STACK_SIZE; // the lending stack grows down from here
    this.live = 0;
  }
  add(value) {
    if (this.next === this.slots.length) this.slots.push(this.slots.length + 1);
    const idx = this.next;
    this.next = this.slots[idx];
    this.slots[idx] = value;
    this.live += 1;
    return idx;
  }
  get(idx) { return this.slots[idx]; }
  drop(idx) {
    if (idx < RESERVED) return;
    this.slots[idx] = this.next;
    this.next = idx;
    this.live -= 1;
  }
  take(idx) { const value = this.slots[idx]; this.drop(idx); return value; }
  lend(value) {
    if (this.top === 0) throw new BindgenError("more than 32 values lent to Rust in one call");
    this.slots[--this.top] = value;
    return this.top;
  }
  restore(top) { while (this.top < top) this.slots[this.top++] = undefined; }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { ignoreBOM: true, fatal: true });
const ARRAYS = {
  u8: Uint8Array, i8: Int8Array, u16: Uint16Array, i16: Int16Array, u32: Uint32Array,
  i32: Int32Array, u64: BigUint64Array, i64: BigInt64Array, f32: Float32Array, f64: Float64Array,
};
const FIELD_SIZE = { i32: 4, f32: 4, i64: 8, f64: 8 };
const ZERO = { i32: 0, f32: 0, i64: 0n, f64: 0 };

// --- converters: for each type form, its wasm fields and both directions ---------------------
// lower(value, after) -> wasm values (JS to Rust; `after` collects work for after the call)
// lift(values, after) -> a JS value (Rust to JS)

const same = (v) => v;
const scalar = (field, lower, lift) => ({ fields: [field], lower: (v) => [lower(v)], lift: (w) => lift(w[0]) });
const NUMBERS = {
  u8: scalar("i32", same, same), i8: scalar("i32", same, same),
  u16: scalar("i32", same, same), i16: scalar("i32", same, same),
  i32: scalar("i32", same, same), u32: scalar("i32", same, (v) => v >>> 0),
  i64: scalar("i64", BigInt, same), u64: scalar("i64", BigInt, (v) => BigInt.asUintN(64, v)),
  f32: scalar("f32", same, same), f64: scalar("f64", same, same),
};

function leaves(g) {
  return {
    ...NUMBERS,
    bool: scalar("i32", (v) => (v ? 1 : 0), (v) => v !== 0),
    char: scalar("i32", (v) => v.codePointAt(0), (v) => String.fromCodePoint(v)),
    unit: { fields: [], lower: () => [], lift: () => undefined },
    string: { fields: ["i32", "i32"], lower: (v) => g.passString(v),
      lift: ([p, n]) => { const s = g.readString(p, n); g.free(p, n); return s; } },
    externref: scalar("i32", (v) => g.heap.add(v), (i) => g.heap.take(i)),
  };
}

const FORMS = {
  ref(g, inner) { return borrowed(g, inner, false); },
  refmut(g, inner) { return borrowed(g, inner, true); },
  vector(g, item) {
    if (item === "externref") return externrefVector(g);
    const size = ARRAYS[item].BYTES_PER_ELEMENT;
    return { fields: ["i32", "i32"], lower: (v) => g.passArray(v, item),
      lift: ([p, n]) => { const a = g.copyArray(p, n, item); g.free(p, n * size); return a; } };
  },
  struct(g, name) {
    return scalar("i32", (v) => g.classOf(name).unwrap(v, true), (p) => g.classOf(name).wrap(p));
  },
  enum(g, hole) { return scalar("i32", same, same); },
  option(g, inner) { return optional(g, inner); },
  result(g, inner) {
    const ok = g.codec(inner);
    return { fields: [...ok.fields, "i32", "i32"], lower: () => { throw new BindgenError("a Result passed to Rust"); },
      lift(w, after) {
        if (w[w.length - 1]) throw g.heap.take(w[w.length - 2]);
        return ok.lift(w.slice(0, -2), after);
      } };
  },
  fn(g, shim, mutable, args, ret) { return stackClosure(g, shim, args, ret); },
};

function borrowed(g, inner, mutable) {
  if (inner === "string") {
    return { fields: ["i32", "i32"], lower: (v) => g.passString(v), lift: ([p, n]) => g.readString(p, n) };
  }
  if (inner === "externref") return scalar("i32", (v) => g.heap.lend(v), (i) => g.heap.get(i));
  const [form, name] = inner;
  if (form === "struct") return scalar("i32", (v) => g.classOf(name).unwrap(v, false), () => { throw new BindgenError("a borrowed Rust struct passed to JS"); });
  const size = ARRAYS[name].BYTES_PER_ELEMENT;
  return { fields: ["i32", "i32"],
    lower(v, after) {
      const words = g.passArray(v, name);
      // Rust frees a `&[T]` itself; a `&mut [T]` is written back, then freed here.
      if (mutable) after.push(() => { v.set(g.copyArray(words[0], words[1], name)); g.free(words[0], words[1] * size); });
      return words;
    },
    lift: ([p, n]) => g.viewArray(p, n, name) };
}

function externrefVector(g) {
  return { fields: ["i32", "i32"],
    lower(v) {
      const p = g.malloc(v.length * 4);
      const view = g.view();
      v.forEach((item, k) => view.setInt32(p + 4 * k, g.heap.add(item), true));
      return [p, v.length];
    },
    lift([p, n]) {
      const view = g.view();
      const items = Array.from({ length: n }, (_, k) => g.heap.take(view.getInt32(p + 4 * k, true)));
      g.free(p, n * 4);
      return items;
    } };
}

const WIDE = new Set(["i32", "u32", "f32", "f64", "i64", "u64"]);
const NARROW = new Set(["u8", "i8", "u16", "i16", "bool", "char"]);

function optional(g, inner) {
  // A wide number is (tag, value); anything else keeps its own fields, with a None value: a
  // sentinel for narrow scalars and enums, 0 for heap indices and pointers (a slice's too).
  const some = g.codec(inner);
  const none = (v) => v === undefined || v === null;
  if (WIDE.has(inner)) {
    const zero = ZERO[some.fields[0]];
    return { fields: ["i32", ...some.fields],
      lower: (v) => (none(v) ? [0, zero] : [1, ...some.lower(v)]),
      lift: ([tag, v]) => (tag ? some.lift([v]) : undefined) };
  }
  const hole = NARROW.has(inner) ? NONE_U32 : inner[0] === "enum" ? inner[1] : 0;
  const blank = some.fields.map((_, k) => (k === 0 ? hole : 0));
  return { fields: some.fields,
    lower: (v, after) => (none(v) ? blank : some.lower(v, after)),
    lift: (w, after) => (w[0] === hole ? undefined : some.lift(w, after)) };
}

// --- calls into Rust --------------------------------------------------------------------------

function callRust(g, args, ret, prefixCount) {
  // A function of (function, prefix words, JS args) that converts, calls and converts back.
  const retptr = ret.fields.length > 1;
  return (fn, prefix, jsArgs) => {
    const top = g.heap.top;
    const after = [];
    let ptr = 0;
    let values;
    try {
      const params = [];
      if (retptr) params.push(ptr = g.retptr());
      params.push(...prefix);
      args.forEach((c, k) => params.push(...c.lower(jsArgs[k], after)));
      const result = fn(...params);
      values = retptr ? g.readFields(ptr, ret.fields) : ret.fields.length ? [result] : [];
    } finally {
      after.forEach((f) => f());
      g.heap.restore(top);
      if (ptr) g.releaseRetptr(ptr);
    }
    return ret.lift(values, []);
  };
}

function makeClosure(g, type, a, b) {
  const call = callRust(g, type.args.map((t) => g.codec(t)), g.codec(type.ret));
  const invoke = (...params) => g.table().get(type.invoke)(...params);
  const destroy = (x, y) => g.table().get(type.destroy)(x, y);
  const state = { a, b, count: 1 };
  const closure = (...jsArgs) => {
    state.count += 1;
    const data = state.a;
    if (type.mutable) state.a = 0; // a re-entrant call reaches Rust with 0: "invoked recursively"
    try {
      return call(invoke, [data, state.b], jsArgs);
    } finally {
      if (--state.count === 0) { destroy(data, state.b); state.a = 0; } else state.a = data;
    }
  };
  closure.original = state;
  return closure;
}

function stackClosure(g, shim, args, ret) {
  // `&dyn Fn(..)` lent to an import: usable until the import returns.
  const call = callRust(g, args.map((t) => g.codec(t)), g.codec(ret));
  return { fields: ["i32", "i32"], lower: () => { throw new BindgenError("a JS function passed as &dyn Fn"); },
    lift([a, b], after) {
      const state = { a, b };
      after.push(() => { state.a = 0; state.b = 0; });
      return (...jsArgs) => call((...p) => g.table().get(shim)(...p), [state.a, state.b], jsArgs);
    } };
}

// --- imports ----------------------------------------------------------------------------------

function walk(root, path, vendor = []) {
  let parent = root;
  let value = root;
  for (const [k, name] of path.entries()) {
    parent = value;
    value = parent?.[name];
    if (value === undefined && k === path.length - 1) {
      for (const prefix of vendor) if ((value = parent?.[prefix + name]) !== undefined) break;
    }
    if (value === undefined && k < path.length - 1) throw new TypeError(`${path.slice(0, k + 1).join(".")} is undefined`);
  }
  return { parent, value };
}

function findAccessor(proto, name, which) {
  for (let p = proto; p; p = Object.getPrototypeOf(p)) {
    const d = Object.getOwnPropertyDescriptor(p, name);
    if (d?.[which]) return d[which];
  }
  throw new TypeError(`no ${which}ter ${name} on ${proto?.constructor?.name}`);
}

// op -> (at, d) -> (args) -> result, where at(path) looks a path up from the import's module.
function apply({ parent, value }, path, args) {
  if (typeof value !== "function") throw new TypeError(`${path.join(".")} is not a function`);
  return value.apply(parent, args);
}

const OPS = {
  call: (at, d) => (args) => apply(at(d.path), d.path, args),
  constructor: (at, d) => (args) => new (at(d.path).value)(...args),
  "static-method": (at, d) => (args) => apply(at(d.path), d.path, args),
  "static-getter": (at, d) => () => at(d.path).value,
  "static-setter": (at, d) => ([v]) => { at(d.path.slice(0, -1)).value[d.path.at(-1)] = v; },
  value: (at, d) => () => at(d.path).value,
  method: (at, d) => {
    const name = d.path.at(-1);
    if (!d.final) return ([self, ...rest]) => self[name](...rest);
    let f;
    return ([self, ...rest]) => (f ??= at(d.path.slice(0, -1)).value.prototype[name]).apply(self, rest);
  },
  getter: (at, d) => {
    const name = d.path.at(-1);
    if (!d.final) return ([self]) => self[name];
    let f;
    return ([self]) => (f ??= findAccessor(at(d.path.slice(0, -1)).value.prototype, name, "get")).call(self);
  },
  setter: (at, d) => {
    const name = d.path.at(-1);
    if (!d.final) return ([self, v]) => { self[name] = v; };
    let f;
    return ([self, v]) => { (f ??= findAccessor(at(d.path.slice(0, -1)).value.prototype, name, "set")).call(self, v); };
  },
  "index-get": () => ([self, key]) => self[key],
  "index-set": () => ([self, key, v]) => { self[key] = v; },
  "index-delete": () => ([self, key]) => { delete self[key]; },
};

function makeImport(g, d) {
  const op = OPS[d.op];
  if (!op) throw new BindgenError(`import operation ${d.op} (${d.shim})`);
  // Looked up on every call, as the JS the CLI writes does (`window.app.risky(...)`); only
  // `final` methods and accessors are taken from the prototype once.
  const at = (path) => walk(g.moduleRoot(d.module), path, d.vendor);
  const call = op(at, d);
  // A variadic import's last argument is an array of the rest.
  const target = d.variadic ? (a) => call([...a.slice(0, -1), ...a.at(-1)]) : call;
  const args = d.args.map((t) => g.codec(t));
  const ret = g.codec(d.ret);
  const retptr = ret.fields.length > 1;
  const body = (params) => {
    let k = retptr ? 1 : 0;
    const after = [];
    try {
      const jsArgs = args.map((c) => c.lift(params.slice(k, (k += c.fields.length)), after));
      const values = ret.lower(target(jsArgs), []);
      if (!retptr) return values[0];
      g.writeFields(params[0], ret.fields, values);
    } finally {
      after.forEach((f) => f());
    }
  };
  if (!d.catch) return (...params) => body(params);
  // `catch`: a JS exception goes to Rust as the import's Err; the return value is then unused.
  const failed = ret.fields.length === 1 ? ZERO[ret.fields[0]] : undefined;
  return (...params) => {
    try {
      return body(params);
    } catch (e) {
      g.exports.__wbindgen_exn_store(g.heap.add(e));
      return failed;
    }
  };
}

function makeInstanceof(g, d) {
  let type;
  return (idx) => {
    try {
      type ??= walk(g.moduleRoot(d.module), d.path, d.vendor).value;
      return g.heap.get(idx) instanceof type ? 1 : 0;
    } catch {
      return 0;
    }
  };
}

// --- intrinsics: the imports wasm-bindgen's own crate declares --------------------------------

const binary = (f) => (g) => (a, b) => g.heap.add(f(g.heap.get(a), g.heap.get(b)));
const test = (f) => (g) => (i) => (f(g.heap.get(i)) ? 1 : 0);
const compare = (f) => (g) => (a, b) => (f(g.heap.get(a), g.heap.get(b)) ? 1 : 0);
const fromText = (f) => (g) => (p, n) => g.heap.add(f(g.readString(p, n)));
const attempt = (f) => { try { return f(); } catch (e) { return e; } };
const writeSlice = (g, ptr, text) => g.writeFields(ptr, ["i32", "i32"], text === undefined ? [0, 0] : g.passString(text));

export const INTRINSICS = {
  __wbindgen_object_clone_ref: (g) => (i) => g.heap.add(g.heap.get(i)),
  __wbindgen_object_drop_ref: (g) => (i) => g.heap.drop(i),
  __wbindgen_string_new: fromText(same),
  __wbindgen_number_new: (g) => (n) => g.heap.add(n),
  __wbindgen_bigint_from_str: fromText(BigInt),
  __wbindgen_bigint_from_i64: (g) => (n) => g.heap.add(n),
  __wbindgen_bigint_from_u64: (g) => (n) => g.heap.add(BigInt.asUintN(64, n)),
  __wbindgen_bigint_from_i128: (g) => (hi, lo) => g.heap.add((hi << 64n) | BigInt.asUintN(64, lo)),
  __wbindgen_bigint_from_u128: (g) => (hi, lo) => g.heap.add((BigInt.asUintN(64, hi) << 64n) | BigInt.asUintN(64, lo)),
  __wbindgen_symbol_named_new: fromText(Symbol),
  __wbindgen_symbol_anonymous_new: (g) => () => g.heap.add(Symbol()),
  __wbindgen_externref_heap_live_count: (g) => () => g.heap.live,
  __wbindgen_is_null: test((v) => v === null),
  __wbindgen_is_undefined: test((v) => v === undefined),
  __wbindgen_is_symbol: test((v) => typeof v === "symbol"),
  __wbindgen_is_object: test((v) => typeof v === "object" && v !== null),
  __wbindgen_is_function: test((v) => typeof v === "function"),
  __wbindgen_is_string: test((v) => typeof v === "string"),
  __wbindgen_is_bigint: test((v) => typeof v === "bigint"),
  __wbindgen_typeof: (g) => (i) => g.heap.add(typeof g.heap.get(i)),
  __wbindgen_in: compare((prop, obj) => prop in obj),
  __wbindgen_is_falsy: test((v) => !v),
  __wbindgen_as_number: (g) => (i) => +g.heap.get(i),
  __wbindgen_try_into_number: (g) => (i) => g.heap.add(attempt(() => +g.heap.get(i))),
  __wbindgen_neg: (g) => (i) => g.heap.add(-g.heap.get(i)),
  __wbindgen_bit_and: binary((a, b) => a & b),
  __wbindgen_bit_or: binary((a, b) => a | b),
  __wbindgen_bit_xor: binary((a, b) => a ^ b),
  __wbindgen_bit_not: (g) => (i) => g.heap.add(~g.heap.get(i)),
  __wbindgen_shl: binary((a, b) => a << b),
  __wbindgen_shr: binary((a, b) => a >> b),
  __wbindgen_unsigned_shr: (g) => (a, b) => g.heap.get(a) >>> g.heap.get(b),
  __wbindgen_add: binary((a, b) => a + b),
  __wbindgen_sub: binary((a, b) => a - b),
  __wbindgen_div: binary((a, b) => a / b),
  __wbindgen_checked_div: binary((a, b) => attempt(() => a / b)),
  __wbindgen_mul: binary((a, b) => a * b),
  __wbindgen_rem: binary((a, b) => a % b),
  __wbindgen_pow: binary((a, b) => a ** b),
  __wbindgen_lt: compare((a, b) => a < b),
  __wbindgen_le: compare((a, b) => a <= b),
  __wbindgen_ge: compare((a, b) => a >= b),
  __wbindgen_gt: compare((a, b) => a > b),
  __wbindgen_jsval_eq: compare((a, b) => a === b),
  __wbindgen_jsval_loose_eq: compare((a, b) => a == b), // eslint-disable-line eqeqeq
  __wbindgen_not: (g) => (i) => g.heap.add(!g.heap.get(i)),
  __wbindgen_number_get: (g) => (ptr, i) => {
    const v = g.heap.get(i);
    g.writeFields(ptr, ["i32", "f64"], typeof v === "number" ? [1, v] : [0, 0]);
  },
  __wbindgen_bigint_get_as_i64: (g) => (ptr, i) => {
    const v = g.heap.get(i);
    g.writeFields(ptr, ["i32", "i64"], typeof v === "bigint" ? [1, BigInt.asIntN(64, v)] : [0, 0n]);
  },
  __wbindgen_boolean_get: (g) => (i) => { const v = g.heap.get(i); return typeof v === "boolean" ? (v ? 1 : 0) : 2; },
  __wbindgen_string_get: (g) => (ptr, i) => { const v = g.heap.get(i); writeSlice(g, ptr, typeof v === "string" ? v : undefined); },
  __wbindgen_debug_string: (g) => (ptr, i) => writeSlice(g, ptr, debugString(g.heap.get(i))),
  __wbindgen_json_parse: fromText(JSON.parse),
  __wbindgen_json_serialize: (g) => (ptr, i) => writeSlice(g, ptr, JSON.stringify(g.heap.get(i))),
  __wbindgen_throw: (g) => (p, n) => { throw new Error(g.readString(p, n)); },
  __wbindgen_rethrow: (g) => (i) => { throw g.heap.take(i); },
  __wbindgen_error_new: fromText((text) => new Error(text)),
  __wbindgen_cb_drop: (g) => (i) => {
    const state = g.heap.take(i).original;
    if (state.count-- === 1) { state.a = 0; return 1; }
    return 0;
  },
  __wbindgen_describe: () => () => { throw new BindgenError("a describe function ran in the page"); },
  __wbindgen_describe_closure: (g) => (a, b, slot) => {
    const type = g.closures.get(slot);
    if (!type) throw new BindgenError(`no closure type is described for table slot ${slot}`);
    return g.heap.add(makeClosure(g, type, a, b));
  },
  __wbindgen_memory: (g) => () => g.heap.add(g.exports.memory),
  __wbindgen_module: (g) => () => g.heap.add(g.module),
  __wbindgen_function_table: (g) => () => g.heap.add(g.table()),
};

const EXTERNREF = ["__wbindgen_externref_table_grow", "__wbindgen_externref_table_set_null"];

function debugString(v) {
  const type = typeof v;
  if (type === "string") return JSON.stringify(v);
  if (type === "symbol") return v.description === undefined ? "Symbol" : `Symbol(${v.description})`;
  if (type === "function") return v.name ? `Function(${v.name})` : "Function";
  if (v === null || type !== "object") return `${v}`;
  if (Array.isArray(v)) return `[${v.map(debugString).join(", ")}]`;
  if (v instanceof Error) return `${v.name}: ${v.message}\n${v.stack}`;
  const name = Object.prototype.toString.call(v).slice(8, -1);
  if (name !== "Object") return name;
  try { return `Object(${JSON.stringify(v)})`; } catch { return "Object"; }
}

// --- exported classes -------------------------------------------------------------------------

function makeClass(g, name) {
  const free = `__wbg_${name.toLowerCase()}_free`;
  const cls = {
    [name]: class {
      constructor(...args) {
        if (!cls.construct) throw new BindgenError(`${name} has no #[wasm_bindgen(constructor)]`);
        return cls.construct(args);
      }
      free() { const ptr = cls.unwrap(this, true); if (ptr) g.exports[free](ptr); }
    },
  }[name];
  cls.wrap = (ptr) => { const obj = Object.create(cls.prototype); obj.ptr = ptr; return obj; };
  cls.unwrap = (obj, take) => {
    if (!(obj instanceof cls)) throw new TypeError(`expected an instance of ${name}`);
    const ptr = obj.ptr;
    if (take) obj.ptr = 0;
    return ptr;
  };
  return cls;
}

function addExport(g, d) {
  const call = callRust(g, d.args.map((t) => g.codec(t)), g.codec(d.ret));
  const fn = (...p) => g.exports[d.wasm](...p);
  if (d.class === null) { g.api[d.name] = (...args) => call(fn, [], args); return; }
  const cls = g.classOf(d.class);
  const add = {
    constructor: () => { cls.construct = (args) => call(fn, [], args); },
    "static-method": () => { cls[d.name] = (...args) => call(fn, [], args); },
    method: () => { cls.prototype[d.name] = function (...args) { return call(fn, [cls.unwrap(this, false)], args); }; },
    "consuming-method": () => { cls.prototype[d.name] = function (...args) { return call(fn, [cls.unwrap(this, true)], args); }; },
  }[d.op];
  if (!add) throw new BindgenError(`export operation ${d.op} (${d.wasm})`);
  add();
}

// --- the glue ---------------------------------------------------------------------------------

export class Glue {
  constructor(modules = {}) {
    this.heap = new Heap();
    this.modules = modules; // module key -> namespace object
    this.imports = {}; // wasm import name -> function
    this.closures = new Map(); // describe function's table slot -> closure type
    this.classes = new Map();
    this.api = {}; // the app's exports, by JS name
    this.exports = null; // the main module's wasm exports
    this.tableName = "__indirect_function_table";
    this.startName = null;
    this.entryDefault = null; // the entry module's default export (`entry`)
    this.retptrs = [];
    this._leaves = leaves(this);
    for (const [name, make] of Object.entries(INTRINSICS)) this.imports[name] = make(this);
  }

  // Takes descriptions (the main module's, or later a patch's new ones) and more JS modules.
  add(descriptions, modules = {}) {
    if (descriptions.version !== SCHEMA_VERSION) {
      throw new BindgenError(`descriptions for wasm-bindgen ${descriptions.version}`);
    }
    Object.assign(this.modules, modules);
    for (const name of descriptions.classes ?? []) this.classOf(name);
    for (const d of descriptions.imports ?? []) this.imports[d.shim] = makeImport(this, d);
    for (const d of descriptions.types ?? []) this.imports[d.shim] = makeInstanceof(this, d);
    for (const d of descriptions.closures ?? []) this.closures.set(d.describe, d);
    for (const d of descriptions.exports ?? []) addExport(this, d);
    for (const [name, variants] of Object.entries(descriptions.enums ?? {})) this.api[name] = Object.freeze({ ...variants });
    for (const name of descriptions.classes ?? []) this.api[name] = this.classOf(name);
    if (descriptions.table) this.tableName = descriptions.table;
    if (descriptions.start) this.startName = descriptions.start;
    return this;
  }

  // The import object for a module: exactly its imports, or one error naming all unknown ones.
  importObject(module) {
    const object = {};
    const unknown = [];
    for (const { module: from, name, kind } of WebAssembly.Module.imports(module)) {
      const fn = from === "__wbindgen_placeholder__" ? this.imports[name]
        : from === "__wbindgen_externref_xform__" && EXTERNREF.includes(name)
          ? () => { throw new BindgenError(`${name}: externref tables are not supported`); } : undefined;
      if (kind !== "function" || !fn) { unknown.push(`${from}.${name}`); continue; }
      (object[from] ??= {})[name] = fn;
    }
    if (unknown.length) throw new BindgenError(`unknown import(s) ${unknown.join(", ")}`);
    return object;
  }

  attach(instance, module) {
    this.exports = instance.exports;
    this.module = module;
    return this;
  }

  // Loads the main module (a URL, a Response, bytes or a WebAssembly.Module) and runs start.
  async init(input) {
    if (this.exports) return this.api;
    let source = await input;
    if (typeof source === "string" || source instanceof URL) source = await fetch(source);
    if (source instanceof Response) source = await source.arrayBuffer();
    const module = source instanceof WebAssembly.Module ? source : await WebAssembly.compile(source);
    this.attach(await WebAssembly.instantiate(module, this.importObject(module)), module);
    if (this.startName) this.exports[this.startName]();
    return this.api;
  }

  liveCount() { return this.heap.live; }

  // --- helpers the converters use ---
  moduleRoot(key) {
    if (key === null || key === undefined) return globalThis;
    if (!(key in this.modules)) throw new BindgenError(`JS module ${key} was not loaded`);
    return this.modules[key];
  }
  classOf(name) {
    if (!this.classes.has(name)) this.classes.set(name, makeClass(this, name));
    return this.classes.get(name);
  }
  codec(form) {
    if (typeof form === "string") {
      const leaf = this._leaves[form];
      if (!leaf) throw new BindgenError(`type form ${form}`);
      return leaf;
    }
    const make = FORMS[form[0]];
    if (!make) throw new BindgenError(`type form ${JSON.stringify(form)}`);
    return make(this, ...form.slice(1));
  }
  table() { return this.exports[this.tableName]; }
  bytes() { return new Uint8Array(this.exports.memory.buffer); }
  view() { return new DataView(this.exports.memory.buffer); }
  malloc(size) { return this.exports.__wbindgen_malloc(size) >>> 0; }
  free(ptr, size) { if (size) this.exports.__wbindgen_free(ptr, size); }
  passString(text) {
    if (typeof text !== "string") throw new TypeError(`expected a string, got ${typeof text}`);
    const encoded = encoder.encode(text);
    const ptr = this.malloc(encoded.length);
    this.bytes().set(encoded, ptr);
    return [ptr, encoded.length];
  }
  readString(ptr, len) { return decoder.decode(this.bytes().subarray(ptr >>> 0, (ptr >>> 0) + len)); }
  passArray(values, item) {
    const array = values instanceof ARRAYS[item] ? values : ARRAYS[item].from(values);
    const ptr = this.malloc(array.byteLength);
    this.bytes().set(new Uint8Array(array.buffer, array.byteOffset, array.byteLength), ptr);
    return [ptr, array.length];
  }
  copyArray(ptr, len, item) {
    const size = ARRAYS[item].BYTES_PER_ELEMENT;
    return new ARRAYS[item](this.bytes().slice(ptr >>> 0, (ptr >>> 0) + len * size).buffer);
  }
  viewArray(ptr, len, item) {
    const size = ARRAYS[item].BYTES_PER_ELEMENT;
    if ((ptr >>> 0) % size) return this.copyArray(ptr, len, item);
    return new ARRAYS[item](this.exports.memory.buffer, ptr >>> 0, len);
  }
  retptr() { return this.retptrs.pop() ?? (this.malloc(40) + 7) & ~7; } // room for 32 bytes, 8-aligned
  releaseRetptr(ptr) { this.retptrs.push(ptr); }
  readFields(ptr, fields) {
    const view = this.view();
    const values = [];
    let at = ptr;
    for (const f of fields) {
      at = align(at, FIELD_SIZE[f]);
      values.push({ i32: () => view.getInt32(at, true), f32: () => view.getFloat32(at, true),
        i64: () => view.getBigInt64(at, true), f64: () => view.getFloat64(at, true) }[f]());
      at += FIELD_SIZE[f];
    }
    return values;
  }
  writeFields(ptr, fields, values) {
    const view = this.view();
    let at = ptr;
    fields.forEach((f, k) => {
      at = align(at, FIELD_SIZE[f]);
      const v = values[k];
      ({ i32: () => view.setInt32(at, v, true), f32: () => view.setFloat32(at, v, true),
        i64: () => view.setBigInt64(at, BigInt(v), true), f64: () => view.setFloat64(at, v, true) }[f])();
      at += FIELD_SIZE[f];
    });
  }
}

const align = (at, size) => (at + size - 1) & ~(size - 1);

// --- the entry module (entry.js) ------------------------------------------------------------

// The entry module's one call: imports the JS modules `specifiers` names (a relative one
// relative to `base`, the entry's URL), makes the glue for `descriptions`, and sets the entry's
// default export, `glue.entryDefault`. `wasm.url` is the main module: `init` loads it, or, with
// `wasm.start` (a bundle), it is fetched with `wasm.integrity` and started now.
export async function entry(descriptions, specifiers, wasm, base) {
  const glue = new Glue().add(descriptions, await importModules(specifiers, base));
  const url = new URL(wasm.url, base);
  if (!wasm.start) {
    glue.entryDefault = (input = url) => glue.init(input);
    return glue;
  }
  await startApp(glue, fetch(url, { integrity: wasm.integrity }));
  glue.entryDefault = () => glue.api;
  return glue;
}

// Each module by its key. A specifier that is neither relative nor a URL (a package name) goes
// to import() as written, for the page's import map to resolve, as the entry's own import would.
async function importModules(specifiers, base) {
  const keys = Object.keys(specifiers);
  const resolve = (s) => (/^\.{0,2}\//.test(s) ? new URL(s, base).href : s);
  const namespaces = await Promise.all(keys.map((key) => import(resolve(specifiers[key]))));
  return Object.fromEntries(keys.map((key, k) => [key, namespaces[k]]));
}

// What the bundle's plain loader (loader.js) does once the app runs: the main module
// instantiated and its start function run, then `globalThis.app` and the `app-ready` event.
async function startApp(glue, response) {
  globalThis.app = await glue.init(response);
  dispatchEvent(new CustomEvent("app-ready", { detail: globalThis.app }));
}
