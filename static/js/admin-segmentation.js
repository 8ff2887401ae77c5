// Segmentation page: click in a sentence to choose where to split it. The DOM counts UTF-16
// units; the server wants code points, so the caret is converted by OffsetMap (offsets.js, the
// one place where units change). Without this script the position can be typed in.
import { OffsetMap } from "./offsets.js";

/** The code-point position of a caret inside one sentence's text, or null outside it. */
export function caretPosition(element, selection) {
  if (!selection || selection.rangeCount === 0) return null;
  const range = selection.getRangeAt(0);
  const node = range.startContainer;
  if (!element.contains(node) || node.nodeType !== Node.TEXT_NODE) return null;
  const text = element.textContent;
  const map = new OffsetMap(text);
  // a caret between the two halves of a surrogate pair moves to the pair's start
  return map.toCodePoint(range.startOffset, "floor");
}

function preview(form, text, position) {
  const out = form.querySelector(".split-preview");
  if (!out) return;
  out.textContent = "";
  const map = new OffsetMap(text);
  if (!Number.isInteger(position) || position <= 0 || position >= map.lengthCp) return;
  const left = map.sliceCp(Math.max(0, position - 24), position);
  const right = map.sliceCp(position, Math.min(map.lengthCp, position + 24));
  out.append(`…${left.trimEnd()}`, Object.assign(document.createElement("mark"), { textContent: "|" }), `${right.trimStart()}…`);
}

for (const item of document.querySelectorAll(".sentence")) {
  const element = item.querySelector(".seg-text");
  const form = item.querySelector(".split-form");
  if (!element || !form) continue;
  const input = form.querySelector("input.position");
  const text = element.textContent;
  element.addEventListener("mouseup", () => {
    const position = caretPosition(element, window.getSelection());
    if (position === null || position <= 0 || position >= new OffsetMap(text).lengthCp) return;
    input.value = String(position);
    preview(form, text, position);
  });
  input.addEventListener("input", () => preview(form, text, Number(input.value)));
  if (input.value) preview(form, text, Number(input.value));
}
