// JS side of src/kinds.rs: one function or class per import kind the glue tests exercise.

export function decorate(text) {
  return `«${text}» ✓`;
}

export function addU32(a, b) {
  return (a + b) >>> 0;
}

export function maybeName(some) {
  return some ? "Zoë 🦀" : undefined;
}

export function byteTotal(bytes) {
  return bytes.reduce((sum, b) => sum + b, 0);
}

export function setCallback(callback) {
  globalThis.kindsCallback = callback;
}

export class Greeter {
  static made = 0;

  constructor(name) {
    this._name = name;
    Greeter.made += 1;
  }

  hello() {
    return `hello, ${this._name}`;
  }

  get name() {
    return this._name;
  }

  set name(value) {
    this._name = value;
  }

  static count() {
    return Greeter.made;
  }
}

export const settings = { theme: "dark ☾" };
