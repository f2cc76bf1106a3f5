// When the app traps (a Rust panic is an `unreachable` trap on wasm32), say so: the trap view
// of the overlay shows what trapped at once, then the dev server's symbolication of it (the
// Rust backtrace, demangled, with file:line from DWARF, main module and patches alike) and
// the panic message, when the app's panic hook logged one.
//
// A trap surfaces as a WebAssembly.RuntimeError. It is caught where the page calls the app
// (`guardExports` wraps the exports the page gets as `globalThis.app`) and, for the calls that
// go around it, by the window's `error` and `unhandledrejection` events. Each error is reported
// once, and rethrown: the page sees it as before. The report goes to POST <socket>/trap (see
// rust_hmr/server/protocol.py: TrapReport, TrapAnswer).
import { showTrap } from "./overlay.js";

const KEPT_LOGS = 20; // log lines kept for a report: a panic hook's message is the last ones
const MAX_TEXT = 4000; // characters of a log line (a stack: 16 times that) the server takes
const reported = new WeakSet();
const logs = []; // {line, seq}
let seq = 0;
let turnStart = 0; // seq of the first line logged in the current task
let turnReset = false;
let depth = 0; // guarded calls in progress (the app may call back into JS, which calls it)
let callStart = 0; // seq at the outermost guarded call
let endpoint = null;
let buildId = null; // the build the page runs: each report names it

// V8 keeps 10 frames by default: a panic's own machinery takes 8 of them.
Error.stackTraceLimit = Math.max(Error.stackTraceLimit ?? 10, 64);

// A line the app logged (env.log): the panic message arrives this way before the trap.
export function noteLog(line) {
  logs.push({ line, seq: seq++ });
  if (logs.length > KEPT_LOGS) logs.shift();
  if (!turnReset) {
    turnReset = true;
    setTimeout(() => {
      turnStart = seq;
      turnReset = false;
    });
  }
}

// The page's view of the app's exports: each function reports a trap before it rethrows.
export function guardExports(exports) {
  const guarded = {};
  for (const [name, value] of Object.entries(exports)) {
    guarded[name] = typeof value === "function" ? guard(value, `${name}()`) : value;
  }
  return Object.freeze(guarded);
}

export function guard(fn, where) {
  return function (...args) {
    if (depth++ === 0) callStart = seq;
    try {
      return fn.apply(this, args);
    } catch (error) {
      reportTrap(error, where, callStart);
      throw error;
    } finally {
      depth--;
    }
  };
}

// Listen for traps the guards did not see; `config` is the runtime's (socket path, build_id).
export function watchTraps(config) {
  endpoint = new URL(`${config.socket}/trap`, location.href);
  buildId = config.build_id;
  addEventListener("error", (event) => reportTrap(event.error, "the page", turnStart));
  addEventListener("unhandledrejection", (event) => reportTrap(event.reason, "a promise",
    turnStart));
}

function reportTrap(error, where, since) {
  if (!(error instanceof WebAssembly.RuntimeError) || reported.has(error)) return;
  reported.add(error);
  const report = {
    build_id: buildId,
    message: error.message,
    stack: String(error.stack ?? "").slice(0, MAX_TEXT * 16),
    logs: logs.filter((entry) => entry.seq >= since).map((entry) => entry.line.slice(0, MAX_TEXT)),
    where,
  };
  console.error(`[hmr] the app trapped in ${where}: ${error.message}`);
  showTrap({ title: `the app trapped: ${error.message}`, panic: null, frames: [],
    text: report.stack, note: "symbolicating…" }, report.logs);
  symbolicate(report).then((answer) => {
    console.error(`[hmr] ${answer.text}`);
    showTrap(answer, report.logs);
  }, (failure) => {
    showTrap({ title: `the app trapped: ${error.message}`, panic: null, frames: [],
      text: report.stack, note: `no backtrace: ${failure.message}` }, report.logs);
  });
}

async function symbolicate(report) {
  if (endpoint === null) throw new Error("the runtime has no dev server");
  const response = await fetch(endpoint, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(report),
  });
  if (!response.ok) throw new Error(`the dev server answered ${response.status}`);
  return response.json();
}
