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

class ErrorOverlay extends HTMLElement {
  constructor(message, diagnostics) {
    super();
    const root = this.attachShadow({ mode: "open" });
    const style = document.createElement("style");
    style.textContent = STYLE;
    const header = document.createElement("header");
    const title = document.createElement("strong");
    title.textContent = message;
    const hint = document.createElement("span");
    hint.textContent = "the page runs the last good build";
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

customElements.define(TAG, ErrorOverlay);

export function showOverlay(message, diagnostics) {
  clearOverlay();
  document.body.append(new ErrorOverlay(message, diagnostics));
}

export function clearOverlay() {
  for (const element of document.querySelectorAll(TAG)) element.remove();
}
