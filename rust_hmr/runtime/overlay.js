// The compile-error overlay: rustc's diagnostics in a panel docked to the bottom of the page.
// The page above it stays usable (the old code keeps running); the panel closes with its
// button or Escape, and the runtime removes it when the next build succeeds.

const TAG = "rust-hmr-overlay";
const ANSI = /\x1b\[[0-9;]*[A-Za-z]/g;

const STYLE = `
:host {
  position: fixed; left: 0; right: 0; bottom: 0; z-index: 2147483647;
  max-height: 50vh; display: flex; flex-direction: column;
  background: #1d1f21; color: #d8d8d8; border-top: 3px solid #e0443e;
  box-shadow: 0 -4px 16px rgba(0, 0, 0, 0.4);
  font: 13px/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
}
header { display: flex; align-items: center; gap: 1em; padding: 6px 12px; background: #2a2c2f; }
header strong { color: #ff6b64; white-space: pre-wrap; flex: 1; }
header span { color: #999; }
button {
  font: inherit; color: inherit; background: none; border: 1px solid #555;
  border-radius: 3px; padding: 0 8px; cursor: pointer;
}
pre { margin: 0; padding: 8px 12px 12px; overflow: auto; white-space: pre-wrap; }
.error { color: #ff6b64; font-weight: bold; }
.warning { color: #e5c07b; font-weight: bold; }
.location { color: #61afef; }
.note { color: #98c379; }
`;

// One line of rustc's output, with the parts a reader looks for first coloured.
function line(text) {
  const span = document.createElement("span");
  span.textContent = text + "\n";
  const head = text.trimStart();
  if (/^error(\[E\d+\])?:/.test(head)) span.className = "error";
  else if (/^warning(\[\w+\])?:/.test(head)) span.className = "warning";
  else if (head.startsWith("--> ")) span.className = "location";
  else if (/^= (note|help):/.test(head)) span.className = "note";
  return span;
}

// A panel that Escape closes, as its close button does.
class DismissablePanel extends HTMLElement {
  connectedCallback() {
    this.onKey = (event) => {
      if (event.key === "Escape") this.remove();
    };
    document.addEventListener("keydown", this.onKey);
  }

  disconnectedCallback() {
    document.removeEventListener("keydown", this.onKey);
  }
}

class ErrorOverlay extends DismissablePanel {
  constructor(message, diagnostics, hintText) {
    super();
    const root = this.attachShadow({ mode: "open" });
    const style = document.createElement("style");
    style.textContent = STYLE;
    const header = document.createElement("header");
    const title = document.createElement("strong");
    title.textContent = message;
    const hint = document.createElement("span");
    hint.textContent = hintText;
    const close = document.createElement("button");
    close.textContent = "close (Esc)";
    close.title = "Hide this error; it comes back with the next failed build";
    close.addEventListener("click", () => this.remove());
    header.append(title, hint, close);
    const pre = document.createElement("pre");
    pre.append(...diagnostics.replace(ANSI, "").trimEnd().split("\n").map(line));
    root.append(style, header, pre);
    this.setAttribute("role", "alert");
  }
}

customElements.define(TAG, ErrorOverlay);

// `running`: whether the page runs a build (the last good one) or none has succeeded yet.
export function showOverlay(message, diagnostics, running = true) {
  clearOverlay();
  const hint = running ? "the page runs the last good build"
    : "no build has succeeded yet: the app loads once one does";
  document.body.append(new ErrorOverlay(message, diagnostics, hint));
}

// The page of a crate whose first build is still running: a notice until the app loads.
const NOTICE_ID = "rust-hmr-building";

export function showBuilding(crate) {
  if (document.getElementById(NOTICE_ID)) return;
  const notice = document.createElement("div");
  notice.id = NOTICE_ID;
  notice.setAttribute("role", "status");
  notice.textContent = `building ${crate}… the app loads when the build is ready`;
  notice.style.cssText = "position:fixed;left:0;right:0;top:0;z-index:2147483646;" +
    "padding:8px 12px;background:#2a2c2f;color:#d8d8d8;" +
    "font:13px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace";
  document.body.append(notice);
}

export function clearBuilding() {
  document.getElementById(NOTICE_ID)?.remove();
}

export function clearOverlay() {
  for (const element of document.querySelectorAll(TAG)) element.remove();
}

// The trap view: the app trapped (a Rust panic). Docked to the top, apart from the
// compile-error panel (a build that fails and a trap can both be shown). `trap` is the dev
// server's answer (TrapAnswer in rust_hmr/server/protocol.py): a title, the panic message,
// the frames (the app's own bright, std's dim) or, without them, the raw stack and a note.
const TRAP_TAG = "rust-hmr-trap";
const TRAP_STYLE = `
:host { bottom: auto; top: 0; border-top: none; border-bottom: 3px solid #e0443e; }
ol { margin: 0; padding: 8px 12px 12px 3.5em; overflow: auto; }
li { color: #777; }
li.app { color: #d8d8d8; }
li.app .function { color: #ff6b64; font-weight: bold; }
.module { color: #c678dd; }
.note { padding: 4px 12px; }
pre.panic { color: #e5c07b; padding-bottom: 0; }
`;

function frameItem(frame) {
  const item = document.createElement("li");
  item.className = frame.app ? "frame app" : "frame";
  const name = document.createElement("span");
  name.className = "function";
  name.textContent = frame.function;
  item.append(name);
  if (frame.location) {
    const where = document.createElement("span");
    where.className = "location";
    where.textContent = frame.location;
    where.title = frame.path ?? "";
    item.append(" at ", where);
  }
  if (frame.module !== "main") {
    const module = document.createElement("span");
    module.className = "module";
    module.textContent = ` [${frame.module}]`;
    item.append(module);
  }
  return item;
}

class TrapOverlay extends DismissablePanel {
  constructor(trap, logs) {
    super();
    const root = this.attachShadow({ mode: "open" });
    const style = document.createElement("style");
    style.textContent = STYLE + TRAP_STYLE;
    const header = document.createElement("header");
    const title = document.createElement("strong");
    title.textContent = trap.title;
    const hint = document.createElement("span");
    hint.textContent = "the app's state is as the trap left it";
    const reload = document.createElement("button");
    reload.textContent = "reload";
    reload.addEventListener("click", () => location.reload());
    const close = document.createElement("button");
    close.textContent = "close (Esc)";
    close.addEventListener("click", () => this.remove());
    header.append(title, hint, reload, close);
    root.append(style, header);
    const message = trap.panic ?? (logs.length ? `logged before the trap:\n${logs.join("\n")}`
      : "");
    if (message && message !== trap.title) { // a panic message of one line is the title
      const pre = document.createElement("pre");
      pre.className = "panic";
      pre.textContent = message;
      root.append(pre);
    }
    if (trap.note) {
      const note = document.createElement("div");
      note.className = "note";
      note.textContent = trap.note;
      root.append(note);
    }
    if (trap.frames.length) {
      const list = document.createElement("ol");
      list.start = 0;
      list.append(...trap.frames.map(frameItem));
      root.append(list);
    } else if (trap.text) {
      const pre = document.createElement("pre");
      pre.textContent = trap.text;
      root.append(pre);
    }
    this.setAttribute("role", "alert");
  }
}

customElements.define(TRAP_TAG, TrapOverlay);

// Show (or replace) the trap view; `logs`: what the app logged just before.
export function showTrap(trap, logs = []) {
  clearTrap();
  document.body.append(new TrapOverlay(trap, logs));
}

export function clearTrap() {
  for (const element of document.querySelectorAll(TRAP_TAG)) element.remove();
}
