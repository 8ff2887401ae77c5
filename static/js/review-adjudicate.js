// Adjudication page: the reviewer marks a gold span as annotators do, by selecting text in the
// sentence and clicking a span label (or pressing its key). Each mark becomes a checked "spans"
// checkbox of the form (value LABEL:START:END in code points of the article, as the annotators'
// spans are offered), so the server sees exactly what a checkbox sends. The sentence shows the
// gold spans chosen so far, and follows every checkbox. The DOM counts UTF-16 units; offsets.js
// converts (the sentence starts at a code-point boundary of the article, so sentence-relative
// code points plus the sentence's start are the article's).
import { OffsetMap } from "./offsets.js";

const dataNode = document.getElementById("adjudication-data");
const view = document.getElementById("sentence-text");
const marker = document.getElementById("gold-marker");
const fieldset = document.getElementById("gold-spans");

const COLOUR = /^#[0-9a-fA-F]{6}$/;
const spanKey = (label, start, end) => `${label}:${start}:${end}`;

/** LABEL:START:END -> {label, start, end} (null when it is not one). */
export function parseKey(value) {
  const m = /^(.+):(\d+):(\d+)$/.exec(value || "");
  return m ? { label: m[1], start: Number(m[2]), end: Number(m[3]) } : null;
}

/**
 * The code-point span (article offsets) of a selection given as UTF-16 indices into the
 * sentence text: whitespace at either edge is left out; null when nothing but whitespace.
 */
export function selectionToSpan(map, sentenceStart, s16, e16) {
  const text = map.text;
  let s = Math.max(0, Math.min(s16, e16));
  let e = Math.min(text.length, Math.max(s16, e16));
  while (s < e && /\s/.test(text[s])) s++;
  while (e > s && /\s/.test(text[e - 1])) e--;
  if (s >= e) return null;
  return { start: sentenceStart + map.toCodePoint(s, "floor"), end: sentenceStart + map.toCodePoint(e, "ceil") };
}

if (dataNode && view && marker && fieldset) {
  const data = JSON.parse(dataNode.textContent);
  const map = new OffsetMap(data.text);
  const labels = new Map(data.labels.map((l) => [l.name, l]));
  const status = document.getElementById("mark-status");
  const colourOf = (label) => (COLOUR.test(labels.get(label)?.color || "") ? labels.get(label).color : "#888888");

  const boxes = () => [...fieldset.querySelectorAll('input[type=checkbox][name=spans]')];

  /** The sentence with the checked gold spans highlighted (exact text: not the HTML parser's). */
  const draw = () => {
    const chosen = boxes().filter((b) => b.checked).map((b) => parseKey(b.value)).filter(Boolean);
    const toU16 = (cp) => map.toUtf16(Math.max(0, Math.min(map.lengthCp, cp - data.start)));
    const cuts = new Set([0, data.text.length]);
    const pieces = chosen.map((s) => ({ ...s, s16: toU16(s.start), e16: toU16(s.end) })).filter((s) => s.s16 < s.e16);
    for (const p of pieces) { cuts.add(p.s16); cuts.add(p.e16); }
    const sorted = [...cuts].sort((a, b) => a - b);
    view.replaceChildren();
    for (let i = 0; i + 1 < sorted.length; i++) {
      const [a, b] = [sorted[i], sorted[i + 1]];
      const over = pieces.filter((p) => p.s16 < b && p.e16 > a);
      const piece = data.text.slice(a, b);
      if (!over.length) { view.append(piece); continue; }
      const mark = document.createElement("mark");
      mark.className = "span-mark gold" + (over.length > 1 ? " nested" : "");
      mark.title = over.map((p) => p.label).join(", ");
      mark.dataset.label = over[0].label;
      mark.style.setProperty("--c", colourOf(over[0].label));
      mark.textContent = piece;
      view.append(mark);
    }
  };

  /** UTF-16 offset of a DOM point within the sentence view, clamped to it. */
  const offsetOf = (node, offset) => {
    const whole = document.createRange();
    whole.selectNodeContents(view);
    const where = whole.comparePoint(node, offset);
    if (where < 0) return 0;
    if (where > 0) return data.text.length;
    whole.setEnd(node, offset);
    return whole.toString().length;
  };

  /** The selection's part inside the sentence as {start, end} code points of the article, or null. */
  const selected = () => {
    const sel = window.getSelection();
    if (!sel || sel.rangeCount === 0 || sel.isCollapsed) return null;
    const range = sel.getRangeAt(0);
    if (!range.intersectsNode(view)) return null;
    return selectionToSpan(map, data.start, offsetOf(range.startContainer, range.startOffset), offsetOf(range.endContainer, range.endOffset));
  };

  const say = (message) => { status.textContent = message; };

  const addChoice = (label, start, end) => {
    const key = spanKey(label, start, end);
    const existing = boxes().find((b) => b.value === key);
    if (existing) { existing.checked = true; return existing; }
    document.getElementById("no-spans")?.remove();
    const row = document.createElement("label");
    row.className = "check new-span";
    const box = document.createElement("input");
    box.type = "checkbox"; box.name = "spans"; box.value = key; box.checked = true;
    const name = document.createElement("span");
    name.className = "span-label"; name.textContent = label;
    name.style.setProperty("--c", colourOf(label));
    const where = document.createElement("span");
    where.className = "muted"; where.textContent = `${start}–${end}`;
    const who = document.createElement("span");
    who.className = "muted"; who.textContent = "marked by you";
    const shown = map.sliceCp(start - data.start, end - data.start);
    row.append(box, " ", name, ` “${shown.length > 80 ? shown.slice(0, 77) + "…" : shown}” `, where, " ", who);
    const typed = fieldset.querySelector("details.typed");
    fieldset.insertBefore(row, typed);
    return box;
  };

  const mark = (label) => {
    const span = selected();
    if (!span) { say("Select some text of the sentence first."); return; }
    addChoice(label, span.start, span.end);
    window.getSelection()?.removeAllRanges();
    draw();
    say(`${label} marked: “${map.sliceCp(span.start - data.start, span.end - data.start)}”. Uncheck it below to drop it.`);
  };

  for (const button of marker.querySelectorAll("button.mark-span")) {
    const colour = button.dataset.color;
    if (COLOUR.test(colour)) button.style.setProperty("--c", colour);
    // keep the selection: a mouse-down on a button would otherwise clear it before the click
    button.addEventListener("mousedown", (event) => event.preventDefault());
    button.addEventListener("click", () => mark(button.dataset.label));
  }
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return;
    if (event.target.closest?.("input, textarea, select, [contenteditable]")) return;
    const label = data.labels.find((l) => l.key && l.key === event.key);
    if (!label || !selected()) return;
    event.preventDefault();
    mark(label.name);
  });
  fieldset.addEventListener("change", draw);
  marker.hidden = false;
  draw();
}
