// The annotation page: one article, its sentences, the caller's labels, spans and links.
//
// State comes from GET /api/articles/<id> (the caller's annotations only) with
// any changes still waiting in the save queue replayed on top, so what is shown
// is what is saved plus what is being saved. Every change is applied to the
// page at once and queued for the server (api.js). Offsets arrive and leave as
// code points; inside the page everything is UTF-16 (offsets.js converts).
// Where the project has suggestions on, the annotator's pending suggestions
// are drawn as ghosts (suggestions.js) until accepted or rejected.

import { SaveQueue, newUid, requestJson } from "./api.js";
import { showArticleLabels, watchArticleLabels } from "./article-labels.js";
import { canLink, chosenCandidate, clickedTarget, cycleCandidate as nextCandidate, linkEnds, linkPhrase, relationNamed, startLinking, wantedLabels } from "./link-mode.js";
import { OffsetMap } from "./offsets.js";
import { excerpt, quoted } from "./quotes.js";
import { assignLanes, tokenize } from "./segments.js";
import { mainDirection } from "./direction.js";
import { SuggestionSet, acceptOperation, provenance, rejectOperation } from "./suggestions.js";
import { UndoHistory } from "./undo.js";

const IDLE_MS = 3 * 60 * 1000; // no key or mouse for this long: the time stops counting
const LANE_PX = 4;

const root = document.getElementById("annotate");
const textEl = document.getElementById("text");
const marginEl = document.getElementById("margin");
const hintEl = document.getElementById("hint");
const headEl = document.getElementById("sticky-head");

// The side panel sits below the sticky toolbar and hint line, whose height changes as the toolbar wraps. On a
// phone the span tools open as a row under the hint line, and the head makes room for that row (--span-tools-h)
// rather than laying it over the article's first lines.
{
  const head = document.getElementById("sticky-head");
  const tools = document.getElementById("span-tools");
  const root = document.getElementById("annotate");
  const follow = () => root.style.setProperty("--toolbar-h", `${head.offsetHeight}px`);
  const room = () => root.style.setProperty("--span-tools-h", `${tools.offsetHeight}px`);
  new ResizeObserver(follow).observe(head);
  new ResizeObserver(room).observe(tools);
  follow();
  room();
}
const statusEl = document.getElementById("save-status");
const alertEl = document.getElementById("alert");
const helpEl = document.getElementById("help");
const articleLabelsEl = document.getElementById("article-labels"); // absent when the schema has no article labels

const articleId = Number(root.dataset.articleId);
const userId = Number(root.dataset.userId);
const apiUrl = root.dataset.apiUrl;
const nextUrl = root.dataset.nextUrl;
const suggestionsUrl = root.dataset.suggestionsUrl || ""; // set only where the project has suggestions on
const GHOST = "ghost:"; // a suggested span among the spans tokenize() cuts the text at (never a real span id: those have no ':')

const S = {
  article: null,
  map: null, // OffsetMap
  schema: null,
  sentences: [], // {index, start, end (code points), s, e (UTF-16)}
  labels: new Map(), // sentence index -> label object
  spans: new Map(), // uid -> {id, label, start, end}
  relations: new Map(), // uid -> {id, type, from, to}
  articleLabels: new Map(), // article label group -> [values]
  articleVersions: new Map(), // article label group -> the stored answer's version (none: no answer stored)
  current: 0,
  allSpans: false, // the Spans panel lists the whole article (else the current sentence's spans)
  selected: null, // span uid
  link: null, // {type, fromSide: bool, anchor: uid, candidates: [uid], at: number}
  colors: new Map(), // label name -> colour
  keys: new Map(), // key -> {kind, name}
  // DOM bookkeeping, rebuilt by renderText()
  pieceStart: new WeakMap(),
  pieceSpans: new WeakMap(),
  markerPos: new WeakMap(),
  sentencePieces: new Map(),
  chips: new Map(),
  tags: new Map(),
  sugg: new SuggestionSet(null), // this annotator's pending suggestions
  ghost: null, // {kind, id, anchor}: the suggestion whose accept / reject menu is open
  userScrollAt: -Infinity, // performance.now() of the annotator's last wheel, finger, scroll key or scroll bar
  lookedAway: false, // the annotator scrolled since the current sentence was last chosen or brought into sight
  scrollFrame: 0,
};

let queue = null;
const undoHistory = new UndoHistory(); // this page load's changes only: what came before it is never undone
// The last undo (or redo): the hint it gave and what its label ops change (undoKey). A 409 on one of them means the step
// was not made after all, and the hint must say so as the alert does (undoRefused). The queue may send a copy of an op
// (coalesced, batched), so it is known by what it changes, not by identity.
let lastUndo = null;
const undoKey = (op) => (op.op === "label" || op.op === "unlabel" ? `sentence ${op.sentence}` : `group ${op.group}`);
// Each key press, click or form change is one action: what it changes is undone as one step.
for (const type of ["keydown", "click", "change", "pointerup"]) window.addEventListener(type, () => undoHistory.cut(), { capture: true });

// ------------------------------------------------------------------ time per sentence

const timer = {
  sentence: null,
  since: null, // performance.now() when counting started, null while paused
  lastInput: performance.now(),
  unsent: new Map(), // sentence -> ms not yet sent with a label

  flush() {
    if (this.sentence === null || this.since === null) return;
    const end = Math.min(performance.now(), this.lastInput + IDLE_MS);
    const ms = Math.max(0, end - this.since);
    this.unsent.set(this.sentence, (this.unsent.get(this.sentence) || 0) + ms);
    this.since = document.visibilityState === "visible" ? performance.now() : null;
  },
  switchTo(sentence) {
    this.flush();
    this.sentence = sentence;
    this.since = document.visibilityState === "visible" ? performance.now() : null;
  },
  input() {
    const now = performance.now();
    if (now - this.lastInput > IDLE_MS) { // back from a break: the pause does not count
      this.flush();
      this.lastInput = now;
      if (this.since !== null) this.since = now;
    }
    this.lastInput = now;
  },
  take(sentence) {
    if (sentence === this.sentence) this.flush();
    const ms = this.unsent.get(sentence) || 0;
    this.unsent.delete(sentence);
    return ms / 1000;
  },
};

document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible") {
    timer.lastInput = performance.now();
    if (timer.sentence !== null) timer.since = performance.now();
  } else {
    timer.flush();
    timer.since = null;
  }
});
for (const type of ["keydown", "mousedown", "mousemove", "wheel", "touchstart"]) {
  window.addEventListener(type, () => timer.input(), { passive: true, capture: true });
}

// ------------------------------------------------------------------ helpers

const colorOf = (name) => S.colors.get(name) || "#777777";
// A touch screen (no hover, a coarse pointer): the hints say what to tap, not which key to press.
const touch = window.matchMedia("(hover: none), (pointer: coarse)");
const sentenceCount = () => S.sentences.length;
const spanText = (span) => S.map.sliceCp(span.start, span.end);
const u16 = (cp) => S.map.toUtf16(cp);

function hexToRgba(hex, alpha) {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k === "dataset") Object.assign(node.dataset, v);
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (v !== false && v !== null && v !== undefined) node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

/** Say `message` on the hint line; `about`: the sentence (index) whose state it tells, so that moving to another one
 * takes it away (setCurrent): "Sentence 1 has no suggestions left" stayed on sentence 3. */
function hint(message, kind = "", about = null) {
  hintEl.textContent = message;
  hintEl.dataset.kind = kind;
  hintEl.dataset.about = about === null ? "" : String(about);
}

function showAlert(message) {
  document.getElementById("alert-text").textContent = message;
  alertEl.hidden = false;
}

function sentenceOfPos(cp) {
  let lo = 0, hi = S.sentences.length - 1, found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (S.sentences[mid].start <= cp) { found = mid; lo = mid + 1; } else hi = mid - 1;
  }
  return found < 0 ? 0 : S.sentences[found].index;
}

/** The sentence with this index (its start and end in code points), or null. */
function sentenceAt(index) {
  return S.sentences.find((x) => x.index === index) || null;
}

/** The first and last sentence (indices) a span lies in: they differ for a span across a sentence boundary. */
function sentencesOf(span) {
  return [sentenceOfPos(span.start), sentenceOfPos(Math.max(span.start, span.end - 1))];
}

function relationsOf(uid) {
  return [...S.relations.values()].filter((r) => r.from === uid || r.to === uid);
}

function relationNumbers() {
  const sorted = [...S.relations.values()].sort((a, b) => {
    const fa = S.spans.get(a.from), fb = S.spans.get(b.from);
    return (fa ? fa.start : 0) - (fb ? fb.start : 0) || (a.id < b.id ? -1 : 1);
  });
  return new Map(sorted.map((r, i) => [r.id, i + 1]));
}

function orderedSpans() {
  return [...S.spans.values()].sort((a, b) => a.start - b.start || b.end - a.end || (a.id < b.id ? -1 : 1));
}

// ------------------------------------------------------------------ applying changes

/** Apply an operation to the page state (a new change, or one replayed from the save queue). */
function apply(op) {
  switch (op.op) {
    case "label": {
      const prev = S.labels.get(op.sentence) || {};
      S.labels.set(op.sentence, { ...prev, sentence: op.sentence, label: op.label, needs_review: false, pending: true });
      break;
    }
    case "unlabel": S.labels.delete(op.sentence); break;
    case "span": S.spans.set(op.id, { id: op.id, label: op.label, start: op.start, end: op.end }); break;
    case "span-patch": {
      const span = S.spans.get(op.id);
      if (span) Object.assign(span, op.fields);
      break;
    }
    case "span-del":
      S.spans.delete(op.id);
      for (const r of relationsOf(op.id)) S.relations.delete(r.id);
      if (S.selected === op.id) S.selected = null;
      break;
    case "rel": S.relations.set(op.id, { id: op.id, type: op.type, from: op.from, to: op.to }); break;
    case "rel-del": S.relations.delete(op.id); break;
    case "accept": // the suggestions become the annotator's own, under the page's ids until the server names its own
      for (const l of op.items.labels) {
        const prev = S.labels.get(l.sentence) || {};
        S.labels.set(l.sentence, { ...prev, sentence: l.sentence, label: l.label, needs_review: false, pending: true });
      }
      for (const x of op.items.spans) S.spans.set(x.id, { id: x.id, label: x.label, start: x.start, end: x.end });
      for (const r of op.items.relations) S.relations.set(r.id, { id: r.id, type: r.type, from: r.from, to: r.to });
      S.sugg.drop([...op.ids, ...op.items.spans.map((x) => x.suggestion)], "accepted");
      break;
    case "reject": S.sugg.drop(op.ids, "rejected"); break;
    case "article-label": S.articleLabels.set(op.group, op.values); break; // its version moves when the server answers
    case "article-unlabel": S.articleLabels.delete(op.group); S.articleVersions.delete(op.group); break;
    default: break;
  }
}

/** A change of the annotator's: recorded for undo, shown at once, and queued for the server. */
function change(op) {
  undoHistory.record(op, S);
  apply(op);
  queue.push(op);
  renderUndo();
}

function waitingFor(pred) {
  return queue.ops.some((o) => o !== queue.inflight && pred(o));
}

function onSaved(op, data) {
  if (op.op === "label" && data) {
    queue.rebase(op.sentence, data.version);
    const newer = waitingFor((o) => (o.op === "label" || o.op === "unlabel") && o.sentence === op.sentence);
    const shown = S.labels.get(op.sentence);
    if (!newer) S.labels.set(op.sentence, data);
    else if (shown) shown.version = data.version;
    renderSentence(op.sentence);
    renderCurrentInfo();
    renderProgress();
  } else if ((op.op === "article-label" && data) || op.op === "article-unlabel") {
    savedArticleLabel(op, op.op === "article-label" ? data : null);
  } else if (op.op === "accept" && data) {
    takeOver(op, data);
  } else if ((op.op === "span" || op.op === "span-patch") && data && S.spans.has(op.id)) {
    const newer = waitingFor((o) => (o.op === "span-patch" || o.op === "span") && o.id === op.id);
    if (!newer) {
      const span = S.spans.get(op.id);
      if (span.start !== data.start || span.end !== data.end || span.label !== data.label) {
        Object.assign(span, { label: data.label, start: data.start, end: data.end });
        renderAll();
      }
    }
  }
}

/** An article label answer saved (`data`) or cleared (null): the group's version, and its values unless a newer change waits. */
function savedArticleLabel(op, data) {
  queue.rebaseArticleLabel(op.group, data ? data.version : 0);
  if (data) S.articleVersions.set(op.group, data.version);
  else S.articleVersions.delete(op.group);
  if (waitingFor((o) => (o.op === "article-label" || o.op === "article-unlabel") && o.group === op.group)) return;
  if (data) S.articleLabels.set(op.group, data.values);
  else S.articleLabels.delete(op.group);
  showArticleLabels(articleLabelsEl, S.articleLabels);
}

/** A 409 on an article label: another tab or window answered the group since this page read it; show what is stored.
 * True when the change was refused (false: it had landed, our own earlier attempt). */
function articleLabelConflict(op, current) {
  queue.rebaseArticleLabel(op.group, current ? current.version : 0);
  if (current) {
    S.articleLabels.set(op.group, current.values);
    S.articleVersions.set(op.group, current.version);
  } else {
    S.articleLabels.delete(op.group);
    S.articleVersions.delete(op.group);
  }
  showArticleLabels(articleLabelsEl, S.articleLabels);
  const now = current ? `to ${current.values.join(", ")}` : "(its answer was cleared)";
  if (op.op === "article-unlabel") {
    showAlert(`The article label ${op.group} was set ${now} in another tab or window meanwhile, so it was not cleared. Clear it again if you mean to.`);
  } else if (!current || JSON.stringify(current.values.slice().sort()) !== JSON.stringify(op.values.slice().sort())) { // equal: our own earlier attempt had landed
    showAlert(`The article label ${op.group} was changed in another tab or window ${now}; your ${op.values.join(", ")} was not saved. Choose again to replace it.`);
  } else return false;
  return true;
}

/** The server has this span under another id (marked in another tab too): use its id everywhere here. */
function adoptSpan(op, current) {
  S.spans.delete(op.id);
  S.spans.set(current.id, { id: current.id, label: current.label, start: current.start, end: current.end });
  rekeySpan(op.id, current.id);
  queue.persist();
  renderAll();
}

/** A span's id changes: in the links that name it, the changes still to be sent, and the selection. */
function rekeySpan(oldId, newId) {
  undoHistory.rekey("span", oldId, newId);
  const rekey = (id) => (id === oldId ? newId : id);
  for (const r of S.relations.values()) { r.from = rekey(r.from); r.to = rekey(r.to); }
  for (const o of queue.ops) {
    if (o.op === "span-patch" || o.op === "span-del") o.id = rekey(o.id);
    else if (o.op === "rel") { o.from = rekey(o.from); o.to = rekey(o.to); }
    else if (o.op === "accept") for (const r of o.items.relations) { r.from = rekey(r.from); r.to = rekey(r.to); }
  }
  if (S.selected === oldId) S.selected = newId;
}

/** Accepted: the server names the label, span or link that stands for each suggestion now; take its ids and versions. */
function takeOver(op, data) {
  const touched = []; // the spans under new ids, and the labels: their sentences are drawn anew
  for (const x of data.spans || []) {
    const mine = op.items.spans.find((s) => s.suggestion === x.suggestion);
    if (!mine || mine.id === x.id) continue;
    const span = S.spans.get(mine.id);
    if (span) {
      touched.push(span);
      S.spans.delete(mine.id);
      S.spans.set(x.id, { ...span, id: x.id });
    }
    rekeySpan(mine.id, x.id);
  }
  for (const x of data.relations || []) {
    const mine = op.items.relations.find((r) => r.suggestion === x.suggestion);
    if (!mine || mine.id === x.id) continue;
    const rel = S.relations.get(mine.id);
    if (rel) {
      S.relations.delete(mine.id);
      S.relations.set(x.id, { ...rel, id: x.id });
    }
    for (const o of queue.ops) if (o.op === "rel-del" && o.id === mine.id) o.id = x.id;
    undoHistory.rekey("relation", mine.id, x.id);
  }
  for (const x of data.labels || []) {
    queue.rebase(x.sentence, x.version);
    const newer = waitingFor((o) => (o.op === "label" || o.op === "unlabel") && o.sentence === x.sentence);
    const shown = S.labels.get(x.sentence);
    if (!newer) S.labels.set(x.sentence, x);
    else if (shown) shown.version = x.version;
    touched.push(sentenceAt(x.sentence));
  }
  queue.persist();
  renderSpanEdit(touched);
}

function onConflict(op, current) {
  if (op.op === "article-label" || op.op === "article-unlabel") {
    if (articleLabelConflict(op, current)) undoRefused(op);
    return;
  }
  if (op.op === "span") {
    if (current && current.id) adoptSpan(op, current);
    return;
  }
  if (op.op === "rel") { // the same link already exists under another id: adopt it
    if (current && current.id && current.id !== op.id) {
      S.relations.delete(op.id);
      S.relations.set(current.id, { id: current.id, type: current.type, from: current.from, to: current.to });
      for (const o of queue.ops) if (o.op === "rel-del" && o.id === op.id) o.id = current.id;
      undoHistory.rekey("relation", op.id, current.id);
      queue.persist();
      renderAll();
    }
    return;
  }
  queue.rebase(op.sentence, current ? current.version : 0);
  if (current) S.labels.set(op.sentence, current);
  else S.labels.delete(op.sentence);
  renderSentence(op.sentence);
  renderCurrentInfo();
  renderProgress();
  if (op.op === "unlabel") { // a removal (Shift+Delete, or an undo) over a label set elsewhere since: that label stays
    showAlert(`Sentence ${op.sentence + 1} was labelled ${current.label} in another tab or window meanwhile, so its label was not removed. Remove it again (Shift+Delete) if you mean to.`);
    undoRefused(op);
  } else if (!current || current.label !== op.label) { // equal: our own earlier attempt had landed
    const now = current ? `to ${current.label}` : "(its label was removed)";
    showAlert(`Sentence ${op.sentence + 1} was changed in another tab or window ${now}; your ${op.label} was not saved. Label it again to replace it.`);
    undoRefused(op);
  }
}

/** A conflict refused an op an undo (or redo) queued: the hint that still says "Undone: …" says "Not undone: …" now. */
function undoRefused(op) {
  const said = lastUndo;
  if (!said || !said.keys.has(undoKey(op)) || hintEl.textContent !== said.text) return; // not an undo's, or the hint moved on
  hint(`Not ${said.redo ? "redone" : "undone"}: ${said.what} was changed in another tab or window meanwhile.`, "warn");
}

function onRejected(op, message, status, data) {
  const what = { label: "label", unlabel: "label removal", span: "span", "span-patch": "span change", "span-del": "span deletion", rel: "link", "rel-del": "link deletion",
    accept: "suggestion acceptance", reject: "suggestion rejection", "article-label": `article label ${op.group}`, "article-unlabel": `article label ${op.group} removal` }[op.op] || op.op;
  if (op.op === "label" || op.op === "unlabel") {
    // The API counts sentences from 0; people read them from 1.
    const n = op.sentence + 1;
    if (data && data.sentences_changed) {
      showAlert(`Sentence ${n} is no longer the text you saw: a reviewer split or merged sentences meanwhile, so your ${op.op === "label" ? op.label : "label removal"} was not saved. Reload the article and label it again.`);
      return;
    }
    const said = message.replace(new RegExp(`\\bsentence ${op.sentence}\\b`, "g"), `sentence ${n}`);
    showAlert(`The server refused a ${what} on sentence ${n} (${status}: ${said}). Reload to see what is saved.`);
    return;
  }
  showAlert(`The server refused a ${what} (${status}: ${message}). Reload to see what is saved.`);
}

let loggedOutShown = false; // the "log in again" alert, once per spell of being logged out
// Changes this browser kept unsent from when the article was last open here, which the hint says are being sent: from a
// reload of this tab, or from a tab closed (or left for another page) before they got through, whose queue this page
// took over (api.js's restore). The hint's words are true of both: it said "before the last reload" of a closed tab's.
let restored = 0;
const restoredWords = (n) => `${n} change${n > 1 ? "s" : ""} left unsent when this article was last open in this browser`;

function renderStatus(s) {
  let text;
  const loggedOut = s.state === "retrying" && /^logged out/.test(s.message || "");
  if (s.state === "saved") text = "✓ saved";
  else if (s.state === "saving") text = "saving…";
  else if (loggedOut) text = "logged out";
  else text = `${s.message === "network error" ? "offline" : "failed"}, retrying${s.retryIn ? ` in ${s.retryIn} s` : "…"}`;
  if (loggedOut && !loggedOutShown) showAlert("You were logged out, so your changes are waiting in this browser. Log in again (in another tab) and they will be sent.");
  loggedOutShown = loggedOut;
  if (s.state === "saved" && hintEl.dataset.kind === "restored") { // "Sending …" must not stand beside "✓ saved"
    hint(`Sent the ${restoredWords(restored)}.`);
  }
  statusEl.textContent = text; // short and in a fixed-width box: nothing moves while saving
  statusEl.dataset.state = s.state;
  statusEl.dataset.pending = String(s.pending);
  statusEl.title = `${s.pending} change${s.pending === 1 ? "" : "s"} waiting to be saved${s.message ? ` (${s.message})` : ""}`;
}

// ------------------------------------------------------------------ rendering

function renderAll() {
  renderText();
  renderLists();
  renderProgress();
  renderCurrentInfo();
  renderToolbar();
}

/** The whole article's text, drawn anew (on load, and after changes all over it: suggestions decided, ids adopted). */
function renderText() {
  const model = textModel();
  S.pieceStart = new WeakMap();
  S.pieceSpans = new WeakMap();
  S.markerPos = new WeakMap();
  S.sentencePieces = new Map();
  S.chips = new Map();
  S.tags = new Map();
  S.ghostTags = new Map();
  S.ghostStops = new Map(); // sentence -> its suggestions' tags and chips: the Tab stops while it is current (markCurrent)
  S.blocks = model.blocks.map((_, k) => blockNodes(model, k));
  const frag = document.createDocumentFragment();
  for (const nodes of S.blocks) frag.append(...nodes);
  textEl.replaceChildren(frag);
  S.lanes = model.lanes;
  for (const x of S.sentences) renderSentence(x.index);
  markCurrent();
  markSelected();
  renderMargin();
}

/** After a change to some spans (or links): only the sentences the `touched` spans lie in (code-point
 * {start, end}, as they were and as they are) are drawn anew, with those whose spans' underline lanes moved; the
 * link numbers in other tags change in place, and the margin's links that moved. Drawing the whole article anew
 * replaced thousands of nodes of a long article on every span made, resized or deleted. */
function renderSpanEdit(touched) {
  const model = textModel();
  const redraw = new Set();
  const addSentences = (x) => {
    const [a, b] = sentencesOf(x);
    for (let i = a; i <= b; i++) redraw.add(i);
  };
  for (const x of touched) if (x) addSentences(x);
  for (const [id, lane] of model.lanes) if (S.lanes && S.lanes.get(id) !== lane) addSentences(S.spans.get(id));
  const blockOf = new Map(S.sentences.map((x, k) => [x.index, k]));
  const blocks = [...redraw].map((i) => blockOf.get(i)).filter((k) => k !== undefined).sort((a, b) => a - b);
  for (const k of blocks) {
    const old = S.blocks[k] || [];
    forgetNodes(old, S.sentences[k].index);
    const nodes = blockNodes(model, k);
    const next = S.blocks.slice(k + 1).find((b) => b && b.length);
    if (old.length) old[0].before(...nodes);
    else if (next) next[0].before(...nodes);
    else textEl.append(...nodes);
    for (const node of old) node.remove();
    S.blocks[k] = nodes;
    renderSentence(S.sentences[k].index);
  }
  for (const [id, tag] of S.tags) { // a link made or gone renumbers the links after it: their tags' captions
    const caption = model.captions.get(id);
    if (caption !== undefined && tag.dataset.text !== caption) tag.dataset.text = caption;
  }
  S.lanes = model.lanes;
  markCurrent();
  markSelected();
  renderMargin();
  renderLists();
  renderProgress();
  renderCurrentInfo();
  renderToolbar();
}

/** A sentence's nodes leave the text: out of the maps that find nodes by sentence or span. */
function forgetNodes(nodes, sentence) {
  S.sentencePieces.delete(sentence);
  S.chips.delete(sentence);
  S.ghostStops.delete(sentence);
  for (const node of nodes.flatMap((n) => (n.classList.contains("run") ? [...n.children] : [n]))) {
    if (node.dataset.span && S.tags.get(node.dataset.span) === node) S.tags.delete(node.dataset.span);
    if (node.dataset.ghost && S.ghostTags.get(node.dataset.ghost) === node) S.ghostTags.delete(node.dataset.ghost);
  }
}

/** What the text is drawn from: its tokens (segments.js) in blocks, one per sentence with the text up to the next
 * (the first with the text before it), each span's underline lane and its tag's caption. At a block's start, what
 * closes there (and the chip of a sentence ending there) belongs to the block before. */
function textModel() {
  const sentences = S.sentences.map((x) => ({ index: x.index, s: x.s, e: x.e }));
  const spans = [...S.spans.values()].map((x) => ({ id: x.id, s: u16(x.start), e: u16(x.end), label: x.label }));
  const ghosts = ghostSpans().map((x) => ({ id: GHOST + x.id, s: u16(x.start), e: u16(x.end), label: x.label }));
  const numbers = relationNumbers();
  const outgoing = new Map();
  const incoming = new Map();
  for (const r of S.relations.values()) {
    const n = numbers.get(r.id);
    if (!outgoing.has(r.from)) outgoing.set(r.from, []);
    outgoing.get(r.from).push(n);
    if (!incoming.has(r.to)) incoming.set(r.to, []);
    incoming.get(r.to).push(n);
  }
  const captions = new Map();
  for (const x of spans) {
    let caption = x.label; // no-break spaces: a caption never wraps inside
    if (incoming.has(x.id)) caption = `→${incoming.get(x.id).join(",")}\u00a0${caption}`;
    if (outgoing.has(x.id)) caption = `${caption}\u00a0${outgoing.get(x.id).join(",")}→`;
    captions.set(x.id, caption);
  }
  const blocks = Array.from({ length: Math.max(1, sentences.length) }, () => []);
  const blockAt = (pos, before) => { // the last sentence starting at pos (before: strictly before it), else the first
    let lo = 0, hi = sentences.length - 1, found = 0;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (before ? sentences[mid].s < pos : sentences[mid].s <= pos) { found = mid; lo = mid + 1; } else hi = mid - 1;
    }
    return found;
  };
  for (const tok of tokenize(S.map.text.length, sentences, spans.concat(ghosts))) {
    const before = tok.type === "close" || tok.type === "chip";
    blocks[blockAt(tok.type === "text" ? tok.start : tok.pos, before)].push(tok);
  }
  return { blocks, captions, byId: new Map(spans.map((x) => [x.id, x])), ghostById: new Map(ghosts.map((x) => [x.id, x])), lanes: assignLanes(spans) };
}

/** The nodes of one block of the text (textModel), entered in the maps that find them. */
function blockNodes(model, k) {
  const text = S.map.text;
  const nodes = [];
  for (const tok of model.blocks[k]) {
    if ((tok.type === "open" || tok.type === "close") && tok.span.startsWith(GHOST)) {
      if (tok.type === "open") {
        const x = S.sugg.spans.get(tok.span.slice(GHOST.length));
        nodes.push(ghostStop(ghostTag(x, tok.pos), sentenceOfPos(x.start)));
      }
      continue;
    }
    if (tok.type === "text") {
      const piece = el("span", { class: "pc" }, document.createTextNode(text.slice(tok.start, tok.end)));
      S.pieceStart.set(piece, tok.start);
      if (tok.sentence >= 0) {
        piece.dataset.s = tok.sentence;
        piece.classList.add("snt", tok.sentence % 2 ? "odd" : "even");
        if (!S.sentencePieces.has(tok.sentence)) S.sentencePieces.set(tok.sentence, []);
        S.sentencePieces.get(tok.sentence).push(piece);
      }
      if (tok.end <= S.titleEnd) piece.classList.add("title-line");
      const own = tok.spans.filter((id) => !id.startsWith(GHOST));
      if (own.length) decoratePiece(piece, own.map((id) => model.byId.get(id)), model.lanes);
      if (own.length < tok.spans.length) ghostPiece(piece, tok, tok.spans.filter((id) => id.startsWith(GHOST)).map((id) => model.ghostById.get(id)));
      nodes.push(piece);
    } else if (tok.type === "chip") {
      const chip = el("span", { class: "chip", dataset: { s: tok.sentence }, "aria-hidden": "true" });
      S.markerPos.set(chip, tok.pos);
      S.chips.set(tok.sentence, chip);
      nodes.push(chip);
      for (const l of S.sugg.labels.values()) if (l.sentence === tok.sentence) nodes.push(ghostStop(ghostChip(l, tok.pos), l.sentence));
    } else if (tok.type === "open") {
      const span = S.spans.get(tok.span);
      const tag = el("span", { class: "tag", dataset: { span: tok.span, text: model.captions.get(tok.span) }, "aria-hidden": "true" });
      tag.style.setProperty("--c", colorOf(span.label));
      tag.style.setProperty("--bg", hexToRgba(colorOf(span.label), 0.14));
      S.markerPos.set(tag, tok.pos);
      S.tags.set(tok.span, tag);
      nodes.push(tag);
    } else if (tok.type === "close") {
      const span = S.spans.get(tok.span);
      const end = el("span", { class: "tag-end", dataset: { span: tok.span }, "aria-hidden": "true" });
      end.style.setProperty("--c", colorOf(span.label));
      S.markerPos.set(end, tok.pos);
      nodes.push(end);
    }
  }
  return sentenceRun(nodes, k);
}

/** A block's nodes with its sentence's own (its span tags, text and chip) inside an element of the sentence's
 * direction: a bidi isolate, so a Hebrew or Arabic sentence reads right to left, its closing quote mark and full
 * stop at its end, in an English article too, and an English one in a Hebrew article reads left to right. The text
 * between sentences (and a title before the first) stays outside: a line break inside an isolate would end it. */
function sentenceRun(nodes, k) {
  const x = S.sentences[k];
  const loose = (n) => n.classList.contains("pc") && n.dataset.s === undefined;
  let a = nodes.findIndex((n) => n.classList.contains("pc") && !loose(n));
  if (!x || a < 0) return nodes;
  while (a > 0 && !loose(nodes[a - 1])) a--;
  let b = nodes.length - 1;
  while (b > a && loose(nodes[b])) b--;
  const run = el("span", { class: "run", dir: mainDirection(S.map.text.slice(x.s, x.e)) }, ...nodes.slice(a, b + 1));
  return [...nodes.slice(0, a), run, ...nodes.slice(b + 1)];
}

/** Which way the current sentence reads: in a right-to-left one the arrow keys follow the text as drawn. */
function currentDirection() {
  const x = S.sentences.find((y) => y.index === S.current);
  return x ? mainDirection(S.map.text.slice(x.s, x.e)) : textEl.dir || "ltr";
}

/** An arrow key's direction in the text: ← goes back and → on, but the other way round in a right-to-left sentence,
 * where the text reads from right to left (as arrows move a caret in such text everywhere else). */
function arrowStep(key) {
  const back = key === "ArrowLeft" || key === "ArrowUp";
  const flip = currentDirection() === "rtl" && (key === "ArrowLeft" || key === "ArrowRight");
  return back !== flip ? -1 : 1;
}

/** Underline lanes (one per covering span), a tint of the innermost span, and the spans' ids for clicks. */
function decoratePiece(piece, spans, lanes) {
  const sorted = spans.slice().sort((a, b) => (lanes.get(a.id) || 0) - (lanes.get(b.id) || 0));
  const innermost = spans.slice().sort((a, b) => (a.e - a.s) - (b.e - b.s))[0];
  const maxLane = Math.max(...sorted.map((x) => lanes.get(x.id) || 0));
  const images = [];
  const sizes = [];
  const positions = [];
  for (const x of sorted) {
    const c = colorOf(x.label);
    images.push(`linear-gradient(${c}, ${c})`);
    sizes.push("100% 2px");
    positions.push(`0 calc(100% - ${(lanes.get(x.id) || 0) * LANE_PX}px)`);
  }
  piece.style.setProperty("--t0", hexToRgba(colorOf(innermost.label), 0.13));
  images.push("linear-gradient(var(--tint), var(--tint))");
  sizes.push(`100% calc(100% - ${(maxLane + 1) * LANE_PX}px)`);
  positions.push("0 0");
  piece.classList.add("hl");
  piece.dataset.spans = spans.map((x) => x.id).join(" ");
  piece.style.setProperty("background-image", images.join(", "));
  piece.style.setProperty("background-size", sizes.join(", "));
  piece.style.setProperty("background-position", positions.join(", "));
  piece.style.setProperty("padding-bottom", `${(maxLane + 1) * LANE_PX}px`);
  S.pieceSpans.set(piece, spans.map((x) => x.id));
}

function renderSentence(index) {
  const chip = S.chips.get(index);
  if (!chip) return;
  const lab = S.labels.get(index);
  if (lab && lab.label) {
    chip.dataset.text = lab.label;
    chip.classList.add("labelled");
    chip.style.setProperty("--c", colorOf(lab.label));
    chip.style.setProperty("--bg", hexToRgba(colorOf(lab.label), 0.12));
    chip.title = `sentence ${index + 1}: ${lab.label}`;
  } else {
    chip.dataset.text = String(index + 1);
    chip.classList.remove("labelled");
    chip.style.removeProperty("--c");
    chip.style.removeProperty("--bg");
    chip.title = `sentence ${index + 1}: not labelled`;
  }
  chip.classList.toggle("review", Boolean(lab && lab.needs_review));
}

function markCurrent() {
  for (const p of textEl.querySelectorAll(".cur")) p.classList.remove("cur");
  for (const p of S.sentencePieces.get(S.current) || []) p.classList.add("cur");
  const chip = S.chips.get(S.current);
  if (chip) chip.classList.add("cur");
  // Tab from the text visits the current sentence's suggestions, then the panels: with every suggestion of a long
  // article a Tab stop, the panels and the toolbar were hundreds of Tabs away.
  for (const g of textEl.querySelectorAll('.gtag[tabindex="0"], .gchip[tabindex="0"]')) g.tabIndex = -1;
  for (const g of S.ghostStops.get(S.current) || []) g.tabIndex = 0;
}

/** A suggestion's tag or chip, a Tab stop while its sentence is current. */
function ghostStop(node, sentence) {
  if (!S.ghostStops.has(sentence)) S.ghostStops.set(sentence, []);
  S.ghostStops.get(sentence).push(node);
  return node;
}

function markSelected() {
  for (const p of textEl.querySelectorAll(".sel, .candidate, .anchor")) p.classList.remove("sel", "candidate", "anchor");
  if (S.selected) {
    const strong = hexToRgba(colorOf(S.spans.get(S.selected)?.label), 0.3);
    for (const p of textEl.querySelectorAll(".pc.hl")) {
      if (S.pieceSpans.get(p).includes(S.selected)) {
        p.classList.add("sel");
        p.style.setProperty("--t1", strong);
      }
    }
    const tag = S.tags.get(S.selected);
    if (tag) tag.classList.add("sel");
  }
  if (S.link) {
    for (const uid of S.link.candidates) {
      const tag = S.tags.get(uid);
      if (tag) tag.classList.add("candidate");
    }
    const target = chosenCandidate(S.link);
    if (target) S.tags.get(target)?.classList.add("anchor");
  }
  textEl.classList.toggle("linking", Boolean(S.link));
  for (const li of document.querySelectorAll("#spans li")) li.classList.toggle("sel", li.dataset.span === S.selected);
}

function renderProgress() {
  const total = sentenceCount();
  const done = S.sentences.filter((s) => isDone(s.index)).length;
  const bar = document.getElementById("progress");
  bar.max = Math.max(1, total);
  bar.value = done;
  document.getElementById("progress-text").replaceChildren(`${done} / ${total}`, el("span", { class: "wide", text: " labelled" }));
  const finished = total > 0 && done === total; // the button takes the place of the bar: no jump
  document.getElementById("next-article").hidden = !finished;
  root.classList.toggle("finished", finished); // on a phone Next article takes a row of its own (annotate.css)
  bar.hidden = finished;
  document.getElementById("progress-text").hidden = finished;
  if (hintEl.dataset.kind === "progress") progressHint(hintEl.dataset.prefix || ""); // what is left changed: the hint must not go stale
}

/** What is left to label, as a hint that renderProgress keeps current, `prefix` and all. */
function progressHint(prefix = "") {
  const left = nextUnlabelled(-1);
  hintEl.dataset.prefix = prefix;
  if (touch.matches) { // a touch phone's row of tools has no room for the "3 / 12" count: the hint carries it
    const total = sentenceCount();
    const done = S.sentences.filter((s) => isDone(s.index)).length;
    hint(left >= 0 ? `${prefix}${done} of ${total} labelled; sentence ${left + 1} is still unlabelled.` : "Every sentence is labelled: Next article is at the top.", "progress");
  }
  else hint(`${prefix}${leftToLabel()}`, "progress");
}

/** What is left, in the words of u, which goes on from the current sentence: the first sentence left, named before,
 * was not where u went (from sentence 3, with 1 and 4 left, it goes to 4; on an unlabelled sentence, past it). */
function leftToLabel() {
  const next = nextUnlabelled(S.current);
  if (next < 0) return "Every sentence is labelled. Enter opens the next article.";
  if (isDone(S.current)) return `Sentence ${next + 1} is still unlabelled (u jumps there).`;
  return next === S.current ? `Sentence ${next + 1}, this one, is the only one still unlabelled.`
    : `Sentence ${S.current + 1}, this one, is still unlabelled (u goes on to sentence ${next + 1}).`;
}

/** The sentence the hint line tells the state of (hint's `about`), or null. */
function aboutSentence() {
  return hintEl.dataset.about ? Number(hintEl.dataset.about) : null;
}

function renderCurrentInfo() {
  const s = S.sentences.find((x) => x.index === S.current);
  const info = document.getElementById("current-info");
  if (!s) { info.textContent = "This article has no sentences."; return; }
  const lab = S.labels.get(S.current);
  info.replaceChildren(...[
    el("span", { class: "muted", text: `Sentence ${S.current + 1} of ${sentenceCount()} · ` }),
    lab && lab.label ? el("strong", { class: "label-name", text: lab.label }) : el("span", { class: "muted", text: "not labelled" }),
    lab && lab.needs_review ? el("span", { class: "warn", text: " · check again: the sentence boundaries changed" }) : null,
    suggestedNote(),
  ].filter(Boolean));
  renderSuggestBar();
  for (const b of document.querySelectorAll('button[data-kind="sentence"]')) b.setAttribute("aria-pressed", String(Boolean(lab && lab.label === b.dataset.label)));
}

/** How many suggestions the current sentence has waiting (what a / x, and Accept all on a phone, decide on). */
function suggestedHere() {
  if (!S.sugg.enabled) return 0;
  const here = S.sugg.inSentence(S.current, sentenceOfPos);
  return here.labels.length + here.spans.length + here.relations.length;
}

/** "· 3 suggested: a accepts, x rejects" (on a touch screen, what to tap) when the current sentence has suggestions waiting. */
function suggestedNote() {
  const count = suggestedHere();
  const how = touch.matches ? "tap Accept all below, or a dashed ? for one" : "a accepts, x rejects";
  return count ? el("span", { class: "ghost-note", text: ` · ${count} suggested: ${how}` }) : null;
}

/** The touch screen's bar for the current sentence's suggestions: there while it has some (CSS shows it on touch or narrow screens only). */
function renderSuggestBar() {
  const bar = document.getElementById("suggest-bar");
  const count = suggestedHere();
  bar.hidden = count === 0;
  root.classList.toggle("suggest-bar-open", count > 0);
  if (count) document.getElementById("suggest-bar-text").textContent = `Sentence ${S.current + 1}: ${count} suggested`;
}

function renderToolbar() {
  const span = S.selected ? S.spans.get(S.selected) : null;
  for (const b of document.querySelectorAll('button[data-kind="span"]')) b.classList.toggle("on", Boolean(span && span.label === b.dataset.label));
  for (const b of document.querySelectorAll('button[data-action="delete"], button[data-action="fit"]')) b.disabled = !span;
  for (const b of document.querySelectorAll('button[data-kind="relation"]')) {
    b.disabled = !(span && canLink(relationNamed(S.schema.relation_types, b.dataset.label), span.label));
    b.classList.toggle("on", Boolean(S.link && S.link.type === b.dataset.label));
  }
}

/**
 * Redraw a panel's list (`rebuild`) without losing the keyboard focus a button of it had: it goes to the same button of
 * the same row, else of the row that took its place (a row deleted from the keyboard), else, with the list empty, to
 * the article text. The old buttons are gone, and the focus fell to the page's body, a screen reader's place with it.
 */
function keepingFocus(list, rebuild) {
  const had = document.activeElement;
  const row = had && had !== list && list.contains(had) ? had.closest("li") : null;
  if (!row) { rebuild(); return; }
  const at = [...list.children].indexOf(row);
  const button = [...row.querySelectorAll("button")].indexOf(had);
  const id = row.dataset.span || row.dataset.rel || row.dataset.suggestion;
  rebuild();
  const rows = [...list.children];
  const same = rows.find((li) => (li.dataset.span || li.dataset.rel || li.dataset.suggestion) === id) || rows[Math.min(at, rows.length - 1)];
  const target = same ? same.querySelectorAll("button")[button] : null;
  (target || textEl).focus({ preventScroll: true });
}

function renderLists() {
  const numbers = relationNumbers();
  const links = document.getElementById("links");
  const rels = [...S.relations.values()].sort((a, b) => numbers.get(a.id) - numbers.get(b.id));
  keepingFocus(links, () => links.replaceChildren(...rels.map((r) => {
    const from = S.spans.get(r.from);
    const to = S.spans.get(r.to);
    if (!from || !to) return null;
    return el("li", { dataset: { rel: r.id }, onmouseenter: () => hot([r.from, r.to], true), onmouseleave: () => hot([r.from, r.to], false) },
      el("span", { class: "num", text: String(numbers.get(r.id)) }),
      el("button", { type: "button", class: "link-text quote", title: `Select the ${from.label}`, onclick: () => chooseSpanInPanel(r.from) }, quoted(spanText(from), 70)),
      el("span", { class: "link-to" },
        el("span", { class: "arrow", text: "→ " }),
        el("button", { type: "button", class: "link-text", title: `Select the ${to.label}`, onclick: () => chooseSpanInPanel(r.to) },
          colouredPill(to.label), ` ${excerpt(spanText(to), 40)}`)),
      el("button", { type: "button", class: "x", title: "Delete this link", "aria-label": `Delete link ${numbers.get(r.id)}`, onclick: () => deleteRelation(r.id) }, "✕"),
    );
  }).filter(Boolean)));
  document.getElementById("links-count").textContent = String(rels.length);
  const empty = document.getElementById("links-empty");
  empty.hidden = rels.length > 0;
  if (touch.matches && !empty.hidden) empty.textContent = "Tap a quote, then Link, then tap its source."; // no keyboard: no "press l"

  renderSpanList();
}

/** The Spans panel: the current sentence's spans (a span across sentences is listed in each), or the whole article. */
function renderSpanList() {
  const list = document.getElementById("spans");
  const all = orderedSpans();
  const here = S.current + 1; // people read sentence numbers 1-based
  const spans = S.allSpans ? all : all.filter((x) => {
    const [a, b] = sentencesOf(x);
    return a <= S.current && S.current <= b;
  });
  keepingFocus(list, () => list.replaceChildren(...spans.map((x) => {
    const across = acrossNote(x);
    return el("li", { dataset: { span: x.id } },
      el("button", { type: "button", class: "span-text", onclick: () => chooseSpanInPanel(x.id) }, colouredPill(x.label), ` ${excerpt(spanText(x))}`,
        across ? el("span", { class: "across", title: "This span runs across a sentence boundary", text: ` ${across}` }) : null),
      el("button", { type: "button", class: "x", title: "Delete this span", "aria-label": `Delete ${x.label} span`, onclick: () => deleteSpan(x.id) }, "✕"),
    );
  })));
  document.getElementById("spans-heading").textContent = S.allSpans ? "Spans" : `Spans in sentence ${here}`;
  document.getElementById("spans-count").textContent = S.allSpans || !all.length ? String(all.length) : `${spans.length} of ${all.length}`;
  const empty = document.getElementById("spans-empty");
  empty.hidden = spans.length > 0;
  const how = touch.matches ? "select text, then tap a span label" : "select text, then press a span key";
  empty.textContent = S.allSpans || !all.length ? `${how[0].toUpperCase()}${how.slice(1)}.` : `No spans in sentence ${here} yet: ${how}.`;
  markSelected();
  renderGhostList();
}

/** A span chosen away from the text (the Spans or Links panel, n / p): selected, and its sentence made current unless it
 * already touches that one, as a click on the span does. Else the label keys acted on a sentence that could be far off
 * the screen in a long article, and the page jumped back to it. */
function chooseSpan(uid) {
  const span = S.spans.get(uid);
  if (!span) return;
  const [a, b] = sentencesOf(span);
  if (S.current < a || S.current > b) setCurrent(a, false);
  lookingAt(); // the span is brought into view: a span key pressed meanwhile relabels it (selectionInSightToAct)
  selectSpan(uid, true);
}

/** A span chosen in the Spans or Links panel. Where the panels are a sheet over the article (a phone), the sheet closes
 * first: it stayed over the text, and the annotator did not see the span they chose, scrolled to under it. */
function chooseSpanInPanel(uid) {
  closeSheet();
  chooseSpan(uid);
}

/** "sentences 5–6" for a span that runs across a sentence boundary (1-based, as people read them), else null. */
function acrossNote(span) {
  const [a, b] = sentencesOf(span);
  return a === b ? null : `sentences ${a + 1}–${b + 1}`;
}

function colouredPill(name) {
  const pill = el("span", { class: "pill", text: name });
  pill.style.setProperty("--c", colorOf(name));
  pill.style.setProperty("--bg", hexToRgba(colorOf(name), 0.14));
  return pill;
}

function hot(uids, on) {
  for (const uid of uids) {
    const tag = S.tags.get(uid);
    if (tag) tag.classList.toggle("hot", on);
  }
  for (const p of textEl.querySelectorAll(".pc.hl")) if (S.pieceSpans.get(p).some((id) => uids.includes(id))) p.classList.toggle("hot", on);
}

/** The links drawn in the right margin: a bracket from each quote's line to its source's line, numbered. A link's
 * shapes stay, changed only where it moved or was renumbered: a span edit redrew every link of a long article. */
function renderMargin() {
  const NS = "http://www.w3.org/2000/svg";
  const wrap = document.getElementById("text-wrap");
  const box = wrap.getBoundingClientRect();
  const textBox = textEl.getBoundingClientRect();
  const numbers = relationNumbers();
  setAttributes(marginEl, { width: String(Math.max(0, box.width)), height: String(Math.max(0, box.height)) });
  const x0 = textBox.right - box.left + 6 + startGutter(); // in a right-to-left article, past the current sentence's bar
  const rels = [...S.relations.values()].sort((a, b) => numbers.get(a.id) - numbers.get(b.id));
  const drawn = new Map([...marginEl.querySelectorAll("path[data-rel]")].map((path) => [path.dataset.rel, path]));
  const kept = new Set();
  rels.forEach((r, i) => {
    const a = S.tags.get(r.from);
    const b = S.tags.get(r.to);
    if (!a || !b) return;
    const ra = a.getBoundingClientRect();
    const rb = b.getBoundingClientRect();
    const y1 = ra.top + ra.height / 2 - box.top;
    const y2 = rb.top + rb.height / 2 - box.top;
    const x = x0 + 10 + (i % 5) * 9;
    const color = S.colors.get(`rel:${r.type}`) || "#555555";
    // A round badge for one or two digits, a pill as wide as three (a long article's 100th link on): a circle made
    // for two had the digits run over its edge.
    const label = String(numbers.get(r.id));
    const width = label.length < 3 ? 14 : 6 * label.length + 5;
    let path = drawn.get(r.id);
    if (!path) {
      path = document.createElementNS(NS, "path");
      path.setAttribute("data-rel", r.id);
      path.setAttribute("fill", "none");
      path.setAttribute("stroke-width", "1.5");
      marginEl.append(path, document.createElementNS(NS, "path"), document.createElementNS(NS, "rect"), document.createElementNS(NS, "text"));
    }
    kept.add(r.id);
    const head = path.nextElementSibling;
    const badge = head.nextElementSibling;
    const num = badge.nextElementSibling;
    setAttributes(path, { d: `M ${x0} ${y1} H ${x} V ${y2} H ${x0 + 4}`, stroke: color });
    setAttributes(head, { d: `M ${x0} ${y2} l 5 -3.5 v 7 z`, fill: color });
    setAttributes(badge, { x: String(x - width / 2), y: String(y1 - 7), width: String(width), height: "14", rx: "7", fill: "#ffffff", stroke: color });
    setAttributes(num, { x: String(x), y: String(y1 + 3.5), "text-anchor": "middle", "font-size": "10", fill: color });
    if (!num.firstChild) num.textContent = label;
    else if (num.firstChild.data !== label) num.firstChild.data = label; // renumbered: the digits change, not the node
  });
  for (const [id, path] of drawn) {
    if (kept.has(id)) continue;
    const head = path.nextElementSibling;
    const badge = head.nextElementSibling;
    for (const node of [path, head, badge, badge.nextElementSibling]) node.remove();
  }
  renderCurrentBar();
}

/** Set the attributes that differ: each set is a change to the page, even to the same value. */
function setAttributes(node, attrs) {
  for (const [name, value] of Object.entries(attrs)) if (node.getAttribute(name) !== value) node.setAttribute(name, value);
}

/** Only the current sentence's bar, moved: a move between sentences leaves the links where they are (redrawing them all,
 * hundreds of shapes in a long article, and reading each span's place, on every j or label key was the page's chief work). */
function renderCurrentBar() {
  const old = marginEl.querySelector(".current-bar");
  const bar = currentBar(document.getElementById("text-wrap").getBoundingClientRect());
  if (old && bar) setAttributes(old, Object.fromEntries([...bar.attributes].map((a) => [a.name, a.value])));
  else if (old) old.remove();
  else if (bar) marginEl.prepend(bar);
}

/** The room the current sentence's bar takes right of the text: in a right-to-left article its lines start there. */
const startGutter = () => (getComputedStyle(textEl).direction === "rtl" ? 10 : 0);

/** A bar in the gutter where the current sentence's lines start (left of the text, right of it in a right-to-left
 * article, as border-inline-start would put it): where the keys act, at a glance. */
function currentBar(box) {
  const pieces = S.sentencePieces.get(S.current);
  if (!pieces || !pieces.length) return null;
  const first = pieces[0].getClientRects()[0];
  const rects = pieces[pieces.length - 1].getClientRects();
  const last = rects[rects.length - 1];
  if (!first || !last) return null;
  const bar = document.createElementNS("http://www.w3.org/2000/svg", "rect");
  const textBox = textEl.getBoundingClientRect();
  bar.setAttribute("x", String(startGutter() ? textBox.right - box.left + 4 : -16));
  bar.setAttribute("y", String(first.top - box.top));
  bar.setAttribute("width", "4");
  bar.setAttribute("height", String(Math.max(4, last.bottom - first.top)));
  bar.setAttribute("rx", "2");
  bar.setAttribute("fill", "#e2b100");
  bar.setAttribute("class", "current-bar");
  return bar;
}

// ------------------------------------------------------------------ moving and selecting

function setCurrent(index, scroll = true) {
  if (!sentenceCount()) return;
  const clamped = Math.max(0, Math.min(sentenceCount() - 1, index));
  if (clamped !== S.current || timer.sentence === null) timer.switchTo(clamped);
  const moved = clamped !== S.current;
  if (moved) closeGhostMenu(false); // its suggestion belongs to the sentence left behind
  S.current = clamped;
  if (moved && aboutSentence() !== null && aboutSentence() !== clamped) clearHint(); // it told the state of the sentence left
  if (moved && hintEl.dataset.kind === "progress") progressHint(hintEl.dataset.prefix || ""); // where u goes is from here now
  lookingAt();
  markCurrent();
  renderCurrentBar();
  renderCurrentInfo();
  if (moved && !S.allSpans) renderSpanList();
  if (scroll) scrollToSentence(clamped);
  keepPlace();
}

// ---- the current sentence scrolled out of sight
//
// The label keys (and a, x, Shift+Delete, a tap on a label or on Accept all) act on the current sentence. Scrolled away
// from it with the wheel, a finger, the scroll keys or the scroll bar, they labelled a sentence the annotator could not
// see, and the page jumped back to it. Now the hint line names the sentence the keys act on while it is out of sight,
// and the first such key brings it back into view and changes nothing: nothing is changed unseen.

const USER_SCROLL_MS = 500; // scroll events this soon after the annotator's wheel, finger or key are theirs

function userScrolls() {
  S.userScrollAt = performance.now();
}
window.addEventListener("wheel", userScrolls, { passive: true, capture: true });
window.addEventListener("touchmove", userScrolls, { passive: true, capture: true });
window.addEventListener("keydown", (event) => { if (["PageUp", "PageDown", "Home", "End", " "].includes(event.key)) userScrolls(); }, { capture: true });
window.addEventListener("pointerdown", (event) => { if (event.target === document.documentElement) userScrolls(); }, { capture: true }); // the scroll bar
window.addEventListener("scroll", () => {
  if (!S.map) return;
  // the page's own scrolling (to a sentence made current) is not the annotator's; a finger's fling goes on after it lifts
  if (performance.now() - S.userScrollAt < USER_SCROLL_MS) S.lookedAway = true;
  if (S.lookedAway && !S.scrollFrame) S.scrollFrame = requestAnimationFrame(() => { S.scrollFrame = 0; sayWhereKeysAct(); });
}, { passive: true });

/** The current sentence is chosen, or brought into sight: the annotator is looking at it. */
function lookingAt() {
  S.lookedAway = false;
  S.userScrollAt = -Infinity;
  if (hintEl.dataset.kind === "away") clearHint();
}

/** While the annotator has the current sentence scrolled out of sight, the hint line says which sentence the keys act on. */
function sayWhereKeysAct() {
  const where = S.lookedAway ? outOfSight() : "";
  if (!where) {
    if (hintEl.dataset.kind === "away") clearHint();
    return;
  }
  const n = S.current + 1;
  const message = touch.matches ? `Labels go to sentence ${n}, ${where}: tap a label to go back there, or tap a sentence to label that one.`
    : `Keys act on sentence ${n}, ${where}: a label key goes back there first, or click a sentence to label that one.`;
  if (hintEl.textContent !== message) hint(message, "away"); // the hint is a live region: said once, not on every scroll
}

/** An empty hint line; on a touch phone, the count it carries. */
function clearHint() {
  if (touch.matches) progressHint(); // a touch phone's hint carries the count
  else hint("");
}

/** "above" or "below" when less than half a line of the current sentence shows between the sticky head and the foot of
 * the window (or the suggestion bar there), else "". */
function outOfSight() {
  const pieces = S.sentencePieces.get(S.current);
  if (!pieces || !pieces.length) return "";
  const rects = pieces[pieces.length - 1].getClientRects();
  return outOfSightBetween(pieces[0].getClientRects()[0], rects[rects.length - 1]);
}

/** outOfSight for what runs from the client rect `first` to the client rect `last` (none: ""). */
function outOfSightBetween(first, last) {
  if (!first || !last) return "";
  const half = (parseFloat(getComputedStyle(textEl).lineHeight) || 24) / 2;
  const bar = document.getElementById("suggest-bar").getBoundingClientRect();
  const top = headEl.getBoundingClientRect().bottom;
  const bottom = bar.height ? bar.top : window.innerHeight;
  if (last.bottom < top + half) return "above";
  if (first.top > bottom - half) return "below";
  return "";
}

/** Before a key or a tap acts on the current sentence: if the annotator scrolled it out of sight, it is brought back into
 * view and nothing is done (false), the hint saying so and what to press `again`; else true. */
function inSightToAct(again) {
  const where = S.lookedAway ? outOfSight() : "";
  if (!where) return true;
  lookingAt();
  scrollToSentence(S.current);
  hint(`Back at sentence ${S.current + 1}, which was out of sight: nothing was changed; ${again}.`, "away"); // gone at the next move
  return false;
}

/** Before a span key marks the selected text or relabels the selected span: if the annotator scrolled it out of sight,
 * it is brought back into view and nothing is done (false), the hint saying so and what to press again; else true.
 * As for the label keys: a span was made or relabelled where the annotator could not see it. */
function selectionInSightToAct(name) {
  const sel = Boolean(textSelection());
  const key = S.schema.span_labels.find((x) => x.name === name)?.key;
  const verb = sel ? "mark it" : "relabel it";
  const again = touch.matches || !key ? `${touch.matches ? "tap" : "click"} ${name} again to ${verb}` : `press ${key} again to ${verb} ${name}`;
  return selectedInSightToAct(sel ? "text" : "span", again);
}

/** Before a key or a tap changes the selected span (Delete, f, [ ] { }), or fits it to the selected text (`what`:
 * "span" or "text"): if the annotator scrolled it out of sight, it is brought back into view and nothing is done
 * (false), the hint saying so and what to do `again`; else true. The span keys' rule (selectionInSightToAct) for the
 * other keys that change a span: they deleted or moved one the annotator could not see. */
function selectedInSightToAct(what, again) {
  if (!S.lookedAway) return true;
  const place = what === "text" ? textSelectionPlace() : spanPlace(S.selected && S.spans.get(S.selected));
  if (!place || !outOfSightBetween(place.first, place.last)) return true;
  lookingAt();
  scrollIntoViewIfNeeded(place.node);
  hint(`Back at ${place.what}, which was out of sight: nothing was changed; ${again}.`, "away");
  return false;
}

/** Where the selected text is drawn: the client rects it begins and ends with, the node to scroll to, and its words
 * for the hint; null without a selection. */
function textSelectionPlace() {
  const sel = textSelection();
  if (!sel) return null;
  const range = window.getSelection().getRangeAt(0);
  const rects = range.getClientRects();
  const node = range.startContainer.nodeType === Node.TEXT_NODE ? range.startContainer.parentElement : range.startContainer;
  const n = sentenceOfPos(S.map.toCodePoint(sel.s, "floor")) + 1;
  return { first: rects[0], last: rects[rects.length - 1], node, what: `the selected text in sentence ${n}` };
}

/** Where a span is drawn, as textSelectionPlace; null when it is not drawn. */
function spanPlace(span) {
  if (!span) return null;
  const pieces = [...textEl.querySelectorAll(".pc.hl")].filter((p) => S.pieceSpans.get(p).includes(span.id));
  if (!pieces.length) return null;
  const rects = pieces[pieces.length - 1].getClientRects();
  const n = sentenceOfPos(span.start) + 1;
  return { first: pieces[0].getClientRects()[0], last: rects[rects.length - 1], node: pieces[0], what: `the selected ${span.label} span in sentence ${n}` };
}

/** What to do again after a key, or a tap or click on `button` (no key), brought the selection back into view. */
function doAgain(key, button, verb) {
  return key ? `press ${key} again to ${verb}` : `${touch.matches ? "tap" : "click"} ${button} again to ${verb}`;
}

// The annotator's place (the current sentence) survives a reload of this tab, per user and article, in the browser
// only: sessionStorage, by the sentence's start offset, which a reviewer's split or merge leaves inside the same text,
// and the text's length: a re-import may replace the text of an article nobody has annotated, and an offset into the
// old text named some sentence of the new one.
const placeKey = `annotator.place.u${userId}.a${articleId}`;

function keepPlace() {
  const s = S.sentences.find((x) => x.index === S.current);
  try { if (s) window.sessionStorage.setItem(placeKey, `${s.start}/${S.map.lengthCp}`); } catch { /* no storage: no place kept */ }
}

/** The sentence the annotator was at before a reload, or null (never here, another text, or no storage). */
function keptPlace() {
  let saved = null;
  try { saved = window.sessionStorage.getItem(placeKey); } catch { return null; }
  const [start, length] = (saved || "").split("/").map((x) => (/^\d+$/.test(x) ? Number(x) : NaN));
  if (length !== S.map.lengthCp || !(start < length)) return null;
  return sentenceOfPos(start);
}

/** Bring a node into the middle of the window if it is not in sight; `atOnce` jumps there instead of scrolling smoothly. */
function scrollIntoViewIfNeeded(node, atOnce = false) {
  if (!node) return;
  const rect = node.getBoundingClientRect();
  const top = document.getElementById("sticky-head").getBoundingClientRect().bottom + 40;
  const bottom = window.innerHeight - 60;
  if (rect.top < top || rect.bottom > bottom) {
    const reduced = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    node.scrollIntoView({ block: "center", behavior: reduced || atOnce ? "auto" : "smooth" });
  }
}

function scrollToSentence(index, atOnce = false) {
  const pieces = S.sentencePieces.get(index);
  if (pieces && pieces.length) scrollIntoViewIfNeeded(pieces[0], atOnce);
}

/** Labelled and not put back for re-checking (a split or merge of its sentence). */
function isDone(index) {
  const lab = S.labels.get(index);
  return Boolean(lab && lab.label && !lab.needs_review);
}

function nextUnlabelled(from) {
  for (let k = 1; k <= sentenceCount(); k++) {
    const i = (from + k) % sentenceCount();
    if (!isDone(i)) return i;
  }
  return -1;
}

function selectSpan(uid, scroll = false) {
  S.selected = uid;
  const span = uid ? S.spans.get(uid) : null;
  markSelected();
  renderToolbar();
  if (span) {
    openSpanTools(); // on a phone, the relabel, fit, delete and link buttons the hint names
    const rels = relationsOf(uid).length;
    const across = acrossNote(span);
    const links = rels ? `, ${rels} link${rels > 1 ? "s" : ""}` : "";
    // On a phone the hint holds two lines: what to tap comes first, the excerpt (which the clamp may cut) last.
    if (touch.matches && textSelection()) { // text selected too: a span label marks that text (spanKey), Fit fits the span to it
      hint(`${span.label} selected${links}: tap Fit to fit it to the selected text, or a span label to mark that text (${quoted(spanText(span), 30)}${across ? `, across ${across}` : ""}).`);
    } else if (touch.matches) hint(`${span.label} selected${links}: tap a span label to relabel it, or Fit, Delete, Link (${quoted(spanText(span), 30)}${across ? `, across ${across}` : ""}).`);
    else if (textSelection()) { // text selected too: the span and edge keys are the text's (spanKey, resizeSelected)
      hint(`${span.label} ${quoted(spanText(span), 50)}${across ? ` (across ${across})` : ""} selected${links}: f fits it to the selected text, which a span key marks and [ ] { } resize (Esc lets the text go); Del deletes, l links.`);
    } else hint(`${span.label} ${quoted(spanText(span), 50)}${across ? ` (across ${across})` : ""} selected${links}: a span key relabels, [ ] { } resize (with Ctrl/Alt by a word), f fits to the selected text, Del deletes, l links.`);
    if (scroll) scrollIntoViewIfNeeded(S.tags.get(uid));
  } else if (!S.link) clearHint(); // on a touch phone, the count: the hint line is the only place it shows
}

function cycleSpan(step) {
  const spans = orderedSpans();
  if (!spans.length) { hint("No spans yet: select text, then press a span key."); return; }
  let i = spans.findIndex((x) => x.id === S.selected);
  if (i < 0) { // nothing selected: start from the current sentence
    const here = S.sentences.find((x) => x.index === S.current)?.start ?? 0;
    const after = spans.findIndex((x) => x.start >= here); // first span at or after it (-1: none)
    i = (after < 0 ? spans.length : after) - (step > 0 ? 1 : 0);
  }
  const next = spans[(((i + step) % spans.length) + spans.length) % spans.length];
  chooseSpan(next.id);
}

// ---- text selection (mouse or Shift+arrows) -> UTF-16 offsets in the article text

function pointToU16(node, offset) {
  const whole = document.createRange();
  whole.selectNodeContents(textEl);
  const where = whole.comparePoint(node, offset);
  if (where < 0) return 0;
  if (where > 0) return S.map.length16;
  if (node.nodeType === Node.TEXT_NODE) {
    const start = S.pieceStart.get(node.parentElement);
    return start === undefined ? 0 : start + Math.min(offset, node.length);
  }
  if (S.pieceStart.has(node)) return S.pieceStart.get(node) + (offset > 0 ? node.textContent.length : 0);
  if (S.markerPos.has(node)) return S.markerPos.get(node);
  if (offset < node.childNodes.length) return positionBefore(node.childNodes[offset]);
  return node === textEl ? S.map.length16 : positionAfter(node.lastChild);
}

function positionBefore(child) {
  if (!child) return S.map.length16;
  if (S.pieceStart.has(child)) return S.pieceStart.get(child);
  if (S.markerPos.has(child)) return S.markerPos.get(child);
  if (child.firstChild) return positionBefore(child.firstChild); // a sentence's run
  return 0;
}

function positionAfter(child) {
  if (!child) return 0;
  if (S.pieceStart.has(child)) return S.pieceStart.get(child) + child.textContent.length;
  if (S.markerPos.has(child)) return S.markerPos.get(child);
  return positionAfter(child.lastChild);
}

/** The selected article text as UTF-16 [s, e), whitespace trimmed; null when nothing is selected there. */
function textSelection() {
  const sel = window.getSelection();
  if (!sel || sel.rangeCount === 0 || sel.isCollapsed) return null;
  const range = sel.getRangeAt(0);
  if (!range.intersectsNode(textEl)) return null;
  let s = pointToU16(range.startContainer, range.startOffset);
  let e = pointToU16(range.endContainer, range.endOffset);
  const text = S.map.text;
  while (s < e && /\s/.test(text[s])) s++;
  while (e > s && /\s/.test(text[e - 1])) e--;
  if (e <= s) return null;
  return { s, e };
}

function clearTextSelection() {
  const sel = window.getSelection();
  if (sel) sel.removeAllRanges();
}

function selectionInText() {
  const sel = window.getSelection();
  return Boolean(sel && sel.rangeCount && textEl.contains(sel.anchorNode));
}

/** Where a collapsed caret in the text is, as a sentence index (null: no caret there). */
function caretSentence() {
  const sel = window.getSelection();
  if (!selectionInText() || !sel.isCollapsed) return null;
  return sentenceOfPos(S.map.toCodePoint(pointToU16(sel.anchorNode, sel.anchorOffset), "floor"));
}

/** Shift+arrows: extend the selection; without one, or from a bare caret left in another sentence (by an
 * earlier click, or where a re-render put it), start from a caret at the current sentence. */
function extendSelection(direction, unit) {
  const sel = window.getSelection();
  const caret = caretSentence();
  if (!selectionInText() || (caret !== null && caret !== S.current)) {
    const pieces = S.sentencePieces.get(S.current);
    if (!pieces || !pieces.length) return;
    const first = pieces[0].firstChild;
    sel.collapse(first, 0);
    if (direction === "backward") { // from the end of the sentence
      const last = pieces[pieces.length - 1].firstChild;
      sel.collapse(last, last.length);
    }
  }
  if (unit !== "word") { sel.modify("extend", direction, unit); return; }
  // By word: Unicode words (offsets.js), not past the current sentence (the browser's own word steps ran on into the next)
  const anchor = pointToU16(sel.anchorNode, sel.anchorOffset);
  const from = pointToU16(sel.focusNode, sel.focusOffset);
  const focus = moveEdge(from, direction === "forward" ? 1 : -1, direction === "forward" ? "end" : "start", S.current);
  if (focus === from && !sel.isCollapsed) { // at the sentence's edge it did nothing, and said nothing: how to go on
    hint(direction === "forward" ? `The selection is at the end of sentence ${S.current + 1}: a word step stops there; Shift+↓ selects on by line, into the next sentence.`
      : `The selection is at the start of sentence ${S.current + 1}: a word step stops there; Shift+↑ selects back by line, into the one before.`, "warn");
    return;
  }
  const [a, f] = [pointAt(anchor), pointAt(focus)];
  if (a && f) sel.setBaseAndExtent(a[0], a[1], f[0], f[1]);
}

/** The text node and offset at a UTF-16 index of the article text (null where no text piece holds it). */
function pointAt(u16) {
  const sentence = sentenceOfPos(S.map.toCodePoint(u16, "floor"));
  for (const k of [sentence, sentence - 1]) { // an index at a sentence's start may end the one before's last piece
    for (const piece of S.sentencePieces.get(k) || []) {
      const start = S.pieceStart.get(piece), node = piece.firstChild;
      if (node && node.nodeType === Node.TEXT_NODE && u16 >= start && u16 <= start + node.length) return [node, u16 - start];
    }
  }
  return null;
}

/**
 * A span or selection edge (UTF-16) moved by `steps` words: a start to word starts, an end to word ends, never out of
 * the sentence given (a word step stops at its start or end; by character, [ ] { } still cross).
 */
function moveEdge(u16, steps, edge, sentence) {
  const bounds = sentenceAt(sentence);
  const lo = Math.min(u16, bounds ? S.map.toUtf16(bounds.start) : 0);
  const hi = Math.max(u16, bounds ? S.map.toUtf16(bounds.end) : S.map.length16);
  return S.map.stepWord(u16, steps, edge, lo, hi);
}

/**
 * [ ] { }: one edge of [s, e) (UTF-16) moved by graphemes or by words, never past the other edge; by word, the other
 * edge is pushed along instead (] on a one-word span walks it to the next word). Null when nothing would change.
 */
function movedEdges(s, e, edge, steps, byWord) {
  if (!byWord) {
    if (edge === "start") s = S.map.stepGrapheme(s, steps);
    else e = S.map.stepGrapheme(e, steps);
    return e > s ? { s, e } : null;
  }
  const cp = (u) => S.map.toCodePoint(u, "floor");
  if (edge === "start") {
    s = moveEdge(s, steps, "start", sentenceOfPos(cp(s)));
    if (e <= s) e = moveEdge(s, 1, "end", sentenceOfPos(cp(s)));
  } else {
    e = moveEdge(e, steps, "end", sentenceOfPos(cp(Math.max(0, e - 1))));
    if (e <= s) s = moveEdge(e, -1, "start", sentenceOfPos(cp(Math.max(0, e - 1))));
  }
  return e > s ? { s, e } : null;
}

/** [ ] { } with text selected and no span selected: move the selection's edges as a span's (then a span key marks it). */
function resizeTextSelection(edge, steps, byWord) {
  const sel = textSelection();
  const moved = sel && movedEdges(sel.s, sel.e, edge, steps, byWord);
  if (!moved) return;
  const [a, f] = [pointAt(moved.s), pointAt(moved.e)];
  if (a && f) window.getSelection().setBaseAndExtent(a[0], a[1], f[0], f[1]);
}

// ------------------------------------------------------------------ actions

function labelSentence(name) {
  if (!sentenceCount()) return;
  const key = S.schema.sentence_labels.find((x) => x.name === name)?.key;
  if (!inSightToAct(touch.matches || !key ? `${touch.matches ? "tap" : "click"} ${name} again to label it` : `press ${key} again to label it ${name}`)) return;
  const index = S.current;
  const prev = S.labels.get(index);
  // The version we saw (0: none) makes a stale tab's write a visible 409 instead of a silent overwrite.
  const seen = S.sentences.find((x) => x.index === index);
  const op = { op: "label", sentence: index, label: name, seconds: timer.take(index), version: prev && Number.isInteger(prev.version) ? prev.version : 0,
    bounds: seen ? [seen.start, seen.end] : null }; // a sentence split or merged meanwhile is then a 409, not a label on other text
  change(op);
  renderSentence(index);
  renderProgress();
  moveOnFrom(index);
}

/**
 * After a label: on to the next sentence still to label, past those labelled already (j / k still step one by
 * one). Past the end it wraps round to the first one left, and says so: what remains is the work, and staying on
 * the last (labelled) sentence would let the next key press relabel it. With nothing left, one sentence on, so a
 * checking pass with the label keys flows as before.
 */
function moveOnFrom(index) {
  const next = nextUnlabelled(index);
  if (next > index) {
    setCurrent(next);
    if (touch.matches) progressHint(); // the count, which a touch phone's tools have no room for
  }
  else if (next >= 0) {
    setCurrent(next);
    hint(`Back to sentence ${next + 1}: the first still unlabelled (every sentence after ${index + 1} is labelled).`, "progress-wrap");
  } else if (index < sentenceCount() - 1) {
    setCurrent(index + 1);
    progressHint();
  } else { // the last sentence, and every one labelled: the keys stay here, and the next label key relabels it
    renderCurrentInfo();
    hint(`Last sentence: every sentence is labelled. ${touch.matches ? "Next article is at the top." : "Enter opens the next article."}`, "last", index);
  }
}

// ---- undo and redo (undo.js): through the save queue, like every change

const MAC = /Mac|iPhone|iPad/.test(navigator.platform || navigator.userAgent);
const UNDO_KEY = MAC ? "⌘Z" : "Ctrl+Z";
const REDO_KEY = MAC ? "⇧⌘Z" : "Ctrl+Shift+Z";

/** Undo (or redo) the annotator's last change on this page, and say what it was (the hint line is a live region). */
function undo(redo = false) {
  if (!S.map) return;
  const verb = redo ? "Redone" : "Undone";
  const before = undoHistory.peek(redo);
  const taken = undoHistory.take(S, redo);
  if (!taken) {
    hint(redo ? "Nothing to redo." : "Nothing to undo: changes made before this page was opened stay as they are.", "warn");
  } else if (taken.barrier) { // and what the next undo does: "the change before it" promised one where none was
    const next = undoHistory.peek();
    const then = !next ? "Nothing before it was changed on this page." : next.barrier ? "" : `${touch.matches ? "Undo" : UNDO_KEY} again undoes ${describeChange(next, false)}.`;
    hint(`The last change, ${taken.barrier === "accept" ? "accepting" : "rejecting"} suggestions, cannot be undone here: ${taken.barrier === "accept" ? "delete or relabel what you do not want" : "mark it yourself if you want it"}. ${then}`.trim(), "warn");
  } else if (taken.stale) {
    hint(`Not ${redo ? "redone" : "undone"}: ${describeChange(taken.stale, redo)} was changed since (in another tab?).`, "warn");
  } else {
    if (S.link) S.link = null;
    const what = describeChange(before, redo);
    const touched = []; // where the spans the step changes were, and are: the sentences to draw anew
    const spanNow = (id) => { const x = S.spans.get(id); if (x) touched.push({ start: x.start, end: x.end }); };
    const wasSelected = S.selected;
    for (const op of taken.ops) {
      const shown = S.labels.get(op.sentence);
      if (op.op === "label" || op.op === "unlabel") { // as a label key or Shift+Delete would: the version we saw (a 409 if changed elsewhere)
        op.version = shown && Number.isInteger(shown.version) ? shown.version : 0;
      }
      if (op.op === "article-label" || op.op === "article-unlabel") op.version = articleVersion(op.group); // as the form does
      if (op.op === "unlabel" && shown && Number.isFinite(shown.seconds)) { // the row goes with its time: putting it back brings that back
        for (const back of taken.step.done) if (back.op === "label" && back.sentence === op.sentence) back.seconds = shown.seconds;
      }
      if (op.op === "label") { // the sentence's bounds (a split or merge meanwhile is a 409); time counted once:
        // a label put back over one still there adds nothing (the row kept its time), one put back where the undo or
        // a removal took the row away brings back the time that row had
        const seen = S.sentences.find((x) => x.index === op.sentence);
        const time = !(shown && shown.label) && Number.isFinite(op.seconds) && op.seconds >= 0 ? op.seconds : 0;
        Object.assign(op, { seconds: time, bounds: seen ? [seen.start, seen.end] : null });
      }
      if (op.op === "rel" && !(S.spans.has(op.from) && S.spans.has(op.to))) continue; // an end is gone for good
      if (op.op === "span-patch" || op.op === "span-del") spanNow(op.id);
      apply(op);
      if (op.op === "span" || op.op === "span-patch") spanNow(op.id);
      queue.push(op);
    }
    showArticleLabels(articleLabelsEl, S.articleLabels);
    if (S.selected && !S.spans.has(S.selected)) S.selected = null;
    if (wasSelected && !S.selected) closeIdleSpanTools();
    if (taken.ops.every((op) => /label$/.test(op.op))) { // labels only: redraw their chips, as a label key does, not the whole text
      for (const op of taken.ops) if (op.sentence !== undefined) renderSentence(op.sentence);
      renderProgress();
      renderCurrentInfo();
    } else renderSpanEdit(touched);
    const where = sentenceOfStep(taken.ops);
    if (where !== null) setCurrent(where);
    hint(`${verb}: ${what}.`);
    lastUndo = { text: hintEl.textContent, what, redo, keys: new Set(taken.ops.filter((op) => /label$/.test(op.op)).map(undoKey)) };
  }
  renderUndo();
}

/** The sentence a step's change is in (for labels and spans), or null (the whole article's labels). */
function sentenceOfStep(ops) {
  for (const op of ops) {
    if (op.op === "label" || op.op === "unlabel") return op.sentence;
    const span = op.op === "span" ? op : S.spans.get(op.op === "rel" ? op.from : op.id);
    if (span && (op.op === "span" || op.op === "span-patch" || op.op === "span-del" || op.op === "rel")) return sentenceOfPos(span.start);
  }
  return null;
}

/** The annotator's change a step on the undo (or redo) stack stands for: on the redo stack, what its undo takes back. */
function describeChange(step, redo) {
  return redo ? describeStep(step.undo, step.done) : describeStep(step.done, step.undo);
}

/** A step in words ("deleting the QUOTE span “…” and its 1 link"), from what it did and what undoes it. */
function describeStep(done, undone) {
  const spanOf = (id) => S.spans.get(id) || [...done, ...undone].find((o) => o.op === "span" && o.id === id) || null;
  const spanNamed = (span, max = 40) => (span ? `${span.label} span ${quoted(spanText(span), max)}` : "span");
  const main = done.find((o) => o.op !== "rel-del" && o.op !== "rel") || done[0];
  switch (main.op) {
    case "label": return `label ${main.label} on sentence ${main.sentence + 1}`;
    case "unlabel": return `removing the label of sentence ${main.sentence + 1}`;
    case "span": return `the new ${spanNamed(main)}`;
    case "span-patch": { // named as it was before the step, as an undo gives it back: the label or text it lost named it
      const before = undone.find((o) => o.op === "span-patch" && o.id === main.id);
      const span = spanOf(main.id) && { ...spanOf(main.id), ...(before ? before.fields : {}) };
      const dropped = done.filter((o) => o.op === "rel-del").length; // the links a relabel removed come back with the undo: said
      return before && before.fields.label && main.fields.label
        ? `relabelling the ${spanNamed(span)} as ${main.fields.label}${dropped ? `, which removed its ${dropped} link${dropped > 1 ? "s" : ""}` : ""}`
        : `the change to the ${spanNamed(span)}`;
    }
    case "span-del": {
      const links = undone.filter((o) => o.op === "rel").length;
      return `deleting the ${spanNamed(spanOf(main.id))}${links ? ` and its ${links} link${links > 1 ? "s" : ""}` : ""}`;
    }
    case "rel":
    case "rel-del": {
      const r = main.op === "rel" ? main : undone.find((o) => o.op === "rel" && o.id === main.id) || {};
      const from = spanOf(r.from), to = spanOf(r.to);
      // as the hint that made it named it ("Linked “…” → SOURCE “…”"): the source's text too
      const link = `link ${quoted(from ? spanText(from) : "?", 30)} → ${to ? `${to.label} ${quoted(spanText(to), 30)}` : "?"}`;
      return main.op === "rel" ? `the ${link}` : `deleting the ${link}`;
    }
    case "article-label":
    case "article-unlabel": return `the article label ${main.group}`;
    default: return "the last change";
  }
}

/** The Undo and Redo buttons: enabled when there is something to take back, their titles saying what. */
function renderUndo() {
  for (const [action, redo, key] of [["undo", false, UNDO_KEY], ["redo", true, REDO_KEY]]) {
    const button = document.querySelector(`button[data-action="${action}"]`);
    if (!button) continue;
    const step = undoHistory.peek(redo);
    button.disabled = !step;
    const word = redo ? "Redo" : "Undo";
    const what = !step ? "" : step.barrier ? ` (${step.barrier === "accept" ? "accepting" : "rejecting"} suggestions cannot be undone)` : `: ${describeChange(step, redo)}`;
    button.title = `${word}${what} (${key})`;
  }
}

/** The version of a group's stored answer as this page knows it (0: none): what an article label change carries. */
function articleVersion(group) {
  const seen = S.articleVersions.get(group);
  return Number.isInteger(seen) ? seen : 0;
}

function clearLabel() {
  const label = S.labels.get(S.current)?.label;
  if (!label) { hint(`Sentence ${S.current + 1} has no label to remove.`, "warn", S.current); return; }
  if (!inSightToAct("press Shift+Delete again to remove its label")) return;
  const seen = S.labels.get(S.current).version;
  change({ op: "unlabel", sentence: S.current, version: Number.isInteger(seen) ? seen : 0 }); // a label set elsewhere since is a 409, not removed
  renderSentence(S.current);
  renderProgress();
  renderCurrentInfo();
  hint(`Removed the label of sentence ${S.current + 1} (${label}).`);
}

function spanKey(name) {
  const sel = textSelection();
  if (sel) {
    if (!selectionInSightToAct(name)) return;
    const start = S.map.toCodePoint(sel.s, "floor");
    const end = S.map.toCodePoint(sel.e, "ceil");
    const dup = sameSpan(name, start, end);
    clearTextSelection();
    if (dup) { selectSpan(dup.id, false); hint(`That text is already a ${name} span.`); return; }
    const op = { op: "span", id: newUid(), label: name, start, end };
    change(op);
    if (sentenceOfPos(start) !== S.current) setCurrent(sentenceOfPos(start), false);
    S.selected = op.id;
    renderSpanEdit([op]);
    selectSpan(op.id);
    if (S.link) finishLink(op.id);
    return;
  }
  if (S.link) {
    if (touch.matches) hint("While linking: tap the target span, or select new text and tap its span label (Link again cancels).", "warn");
    else hint("While linking: click the target span, or select new text and press its span key (Esc cancels).", "warn");
    return;
  }
  if (S.selected) {
    const span = S.spans.get(S.selected);
    if (span.label === name) { hint(`The selected span is a ${name} already.`); return; } // it did nothing, and said nothing
    if (sameSpan(name, span.start, span.end)) { hint(`That text is already a ${name} span.`); return; }
    if (!selectionInSightToAct(name)) return;
    const broken = relationsOf(span.id).filter((r) => {
      const rel = S.schema.relation_types.find((t) => t.name === r.type);
      const from = r.from === span.id ? name : S.spans.get(r.from)?.label;
      const to = r.to === span.id ? name : S.spans.get(r.to)?.label;
      return !rel || !rel.from.includes(from) || !rel.to.includes(to);
    });
    for (const r of broken) change({ op: "rel-del", id: r.id });
    change({ op: "span-patch", id: span.id, fields: { label: name } });
    renderSpanEdit([span]);
    selectSpan(span.id);
    if (broken.length) hint(`Relabelled to ${name}; ${broken.length} link${broken.length > 1 ? "s" : ""} no longer allowed ${broken.length > 1 ? "were" : "was"} removed.`);
    return;
  }
  if (touch.matches) hint("Select some text first (touch and hold a word, drag to the end), then tap a span label.", "warn");
  else hint("Select some text first (with the mouse, or Shift+→ from the current sentence), then press a span key.", "warn");
}

/** The annotator's span with this label and offsets, if any: the server keeps one (a change into it is a 409). */
function sameSpan(label, start, end) {
  return [...S.spans.values()].find((x) => x.start === start && x.end === end && x.label === label) || null;
}

function deleteSpan(uid) {
  if (!uid || !S.spans.has(uid)) return;
  const span = S.spans.get(uid);
  const links = relationsOf(uid).length; // they go with it: said, as the undo's hint says it
  const wasSelected = S.selected === uid;
  S.link = null;
  change({ op: "span-del", id: uid });
  renderSpanEdit([span]);
  if (wasSelected) closeIdleSpanTools(); // another span's ✕ in the Spans panel leaves the tools as they were
  hint(`Deleted the ${span.label} span ${quoted(spanText(span), 40)}${links ? ` and its ${links} link${links > 1 ? "s" : ""}` : ""}.`);
}

/** Delete or Backspace (`key`), or the Delete button (no key): the selected span goes, once it is in sight. */
function deleteSelected(key = null) {
  if (!S.selected) { hint("Select a span to delete (click it, or n / p).", "warn"); return; }
  if (!selectedInSightToAct("span", doAgain(key, "Delete", "delete it"))) return;
  deleteSpan(S.selected);
}

function deleteRelation(uid) {
  if (!S.relations.has(uid)) return;
  change({ op: "rel-del", id: uid });
  renderSpanEdit([]);
  hint("Link deleted.");
}

/** Move one edge of the selected text by whole characters (graphemes) or words (movedEdges), once it is in sight
 * (`key`, the key pressed, for the hint if it is not); with no text selected, the selected span's, likewise. Text
 * selected with a span selected is text being shaped to mark or to fit the span to (as the span keys mark it, and as
 * the hint says): the keys moved the span under "[ ] { } resize", and f then fitted it to the untrimmed text; Esc lets
 * the text go. While linking, the text selected for a new target only: the selected span is the link's anchor, which
 * the keys resized under the linking hint. */
function resizeSelected(edge, steps, byWord, key) {
  const span = !S.link && S.selected && S.spans.get(S.selected);
  if (textSelection()) {
    if (selectedInSightToAct("text", doAgain(key, null, `move its ${edge}`))) resizeTextSelection(edge, steps, byWord);
    return;
  }
  if (S.link) { linkingChangesNoSpan(key); return; }
  if (!span) { hint("Select a span first (click it, or n / p).", "warn"); return; }
  if (!selectedInSightToAct("span", doAgain(key, null, `move its ${edge}`))) return;
  const moved = movedEdges(u16(span.start), u16(span.end), edge, steps, byWord);
  if (!moved) return;
  const start = S.map.toCodePoint(moved.s, "floor");
  const end = S.map.toCodePoint(moved.e, "ceil");
  if (start === span.start && end === span.end) return;
  if (sameSpan(span.label, start, end)) { hint(`That text is already a ${span.label} span.`); return; }
  const was = { start: span.start, end: span.end };
  change({ op: "span-patch", id: span.id, fields: { start, end } });
  renderSpanEdit([was, span]);
  selectSpan(span.id);
}

/** While linking, the keys and buttons that change the selected span (the link's anchor) leave it alone: say so, and
 * what the mode wants. `what`: the key pressed, or the button tapped. */
function linkingChangesNoSpan(what) {
  if (touch.matches) hint(`While linking, ${what} changes no span: tap the span to link to, or select new text and tap its span label. Tap Link again to cancel.`, "warn");
  else hint(`While linking, ${what} changes no span: choose the one to link to (click it, or n / p and Enter), or select new text and press its span key. Esc cancels.`, "warn");
}

/** f (`key`) or the Fit button (no key): the selected span set to the selected text, once both are in sight (the span
 * is brought back first: it is what changes). Not while linking: the text selected then is for the link's other end,
 * and f moved the anchor onto it. */
function fitSelected(key = null) {
  if (S.link) { linkingChangesNoSpan(key || "Fit"); return; }
  const span = S.selected && S.spans.get(S.selected);
  const sel = textSelection();
  if (!span || !sel) {
    if (touch.matches) hint(span ? "Select the text the span should cover, then tap Fit." : "Tap a span, select the text it should cover, then tap Fit.", "warn");
    else hint("Select a span (n / p or click), then select the text it should cover, then press f.", "warn");
    return;
  }
  if (!selectedInSightToAct("span", doAgain(key, "Fit", "fit it to the selected text"))) return;
  if (!selectedInSightToAct("text", doAgain(key, "Fit", "fit the selected span to it"))) return;
  const start = S.map.toCodePoint(sel.s, "floor");
  const end = S.map.toCodePoint(sel.e, "ceil");
  clearTextSelection();
  if (start === span.start && end === span.end) return;
  if (sameSpan(span.label, start, end)) { hint(`That text is already a ${span.label} span.`); return; }
  const was = { start: span.start, end: span.end };
  change({ op: "span-patch", id: span.id, fields: { start, end } });
  renderSpanEdit([was, span]);
  selectSpan(span.id);
}

function startLink(type) {
  const span = S.selected && S.spans.get(S.selected);
  const rel = relationNamed(S.schema.relation_types, type);
  if (!rel) return;
  if (!span) {
    hint(touch.matches ? `Tap a ${rel.from.join("/")} span first, then Link.` : `Select a ${rel.from.join("/")} span first (click it, or n / p), then press the link key.`, "warn");
    return;
  }
  const link = startLinking(rel, span, orderedSpans(), sentencesOf);
  if (!link) { // in the words of the page (its spans' labels), not the schema's name for the link ("attributed_to")
    hint(`A ${span.label} span cannot be linked: a link goes from a ${rel.from.join("/")} to a ${rel.to.join("/")}; ${touch.matches ? "tap" : "select"} one of those first.`, "warn");
    return;
  }
  const wanted = wantedLabels(rel, link.fromSide);
  S.link = link;
  markSelected();
  renderToolbar();
  const other = wanted.join("/");
  if (touch.matches) { // what to tap first, as the span hints do: the phone's two lines may cut the rest
    hint(link.candidates.length
      ? `Linking: tap the ${other}, or select new text and tap its span label. Tap Link again to cancel.`
      : `Linking: no ${other} span yet: select its text and tap ${wanted.join(" or ")}. Tap Link again to cancel.`, "mode");
  } else {
    hint(link.candidates.length
      ? `Linking: click the ${other} (or n / p to choose, nearest first, and Enter), Esc cancels. You may also select new text and press its span key.`
      : `Linking: no ${other} span yet: select its text and press its span key (Esc cancels).`, "mode");
  }
}

function finishLink(target) {
  const link = S.link;
  if (!link) return;
  const rel = relationNamed(S.schema.relation_types, link.type);
  const ends = linkEnds(rel, link, S.spans.get(target));
  if (!ends) {
    hint(`That is not a ${wantedLabels(rel, link.fromSide).join("/")} span. ${touch.matches ? "Tap Link again to cancel linking." : "Esc cancels linking."}`, "warn");
    return;
  }
  const { from, to } = ends;
  S.link = null;
  const exists = [...S.relations.values()].find((r) => r.from === from && r.to === to && r.type === link.type);
  if (exists) { renderSpanEdit([]); selectSpan(link.anchor); hint("These two are already linked."); return; }
  change({ op: "rel", id: newUid(), type: link.type, from, to });
  renderSpanEdit([]);
  selectSpan(link.anchor);
  hint(`Linked ${quoted(spanText(S.spans.get(from)), 40)} → ${S.spans.get(to).label} ${quoted(spanText(S.spans.get(to)), 30)}.`);
}

function cancelLink() {
  S.link = null;
  markSelected();
  renderToolbar();
  hint("Linking cancelled.");
}

function cycleCandidate(step) {
  const chosen = nextCandidate(S.link, step);
  if (chosen === null) return;
  markSelected();
  const target = S.spans.get(chosen);
  scrollIntoViewIfNeeded(S.tags.get(target.id));
  hint(`Link to ${target.label} ${quoted(spanText(target), 50)}? Enter links, n / p choose another, Esc cancels.`, "mode");
}

// ------------------------------------------------------------------ suggestions: ghosts, and deciding on them

/** Suggested spans to draw: not those the annotator marked by hand meanwhile (same label and offsets). */
function ghostSpans() {
  if (!S.sugg.spans.size) return [];
  const key = (x) => `${x.label}\u0000${x.start}\u0000${x.end}`;
  const own = new Set([...S.spans.values()].map(key));
  return [...S.sugg.spans.values()].filter((x) => !own.has(key(x)));
}

/** A dashed box, no fill, around text a suggester proposes as a span: never drawn like the annotator's own spans. */
function ghostPiece(piece, tok, ghosts) {
  const inner = ghosts.slice().sort((a, b) => (a.e - a.s) - (b.e - b.s))[0];
  piece.classList.add("gh");
  piece.classList.toggle("gh-s", ghosts.some((g) => g.s === tok.start));
  piece.classList.toggle("gh-e", ghosts.some((g) => g.e === tok.end));
  piece.style.setProperty("--gc", colorOf(inner.label));
  piece.dataset.ghosts = ghosts.map((g) => g.id.slice(GHOST.length)).join(" ");
}

/** Where a suggested span starts: its label with a "?", dashed; click it, or Tab to it (in the current sentence) and
 * press Enter, to decide. */
function ghostTag(x, pos) {
  const what = `Suggested ${x.label} ${quoted(spanText(x), 50)} (${provenance(x)})`;
  const tag = el("span", { class: "gtag", role: "button", tabindex: "-1", dataset: { ghost: x.id, text: `${x.label}?` },
    title: `${what}: click, or Enter, to accept or reject it`, "aria-label": `${what}: accept or reject` });
  tag.style.setProperty("--c", colorOf(x.label));
  S.markerPos.set(tag, pos);
  S.ghostTags.set(x.id, tag);
  return tag;
}

/** A suggested sentence label, beside the sentence's own chip. */
function ghostChip(l, pos) {
  const what = `Suggested label ${l.label} for sentence ${l.sentence + 1} (${provenance(l)})`;
  const chip = el("span", { class: "gchip", role: "button", tabindex: "-1", dataset: { ghostLabel: l.id, text: `${l.label}?` },
    title: `${what}: click, or Enter, to accept or reject it`, "aria-label": `${what}: accept or reject` });
  chip.style.setProperty("--c", colorOf(l.label));
  S.markerPos.set(chip, pos);
  return chip;
}

function ghostPill(name) {
  const pill = el("span", { class: "pill ghost-pill", text: `${name}?` });
  pill.style.setProperty("--c", colorOf(name));
  return pill;
}

function suggestionOf(kind, id) {
  return (kind === "label" ? S.sugg.labels : kind === "span" ? S.sugg.spans : S.sugg.relations).get(id) || null;
}

/** A suggestion in words, for hints, menus and the buttons' labels. */
function describe(kind, item) {
  if (kind === "label") return `label ${item.label} for sentence ${item.sentence + 1}`;
  if (kind === "span") return `${item.label} ${quoted(spanText(item), 50)}`;
  const from = S.sugg.endOf(item.from);
  const to = S.sugg.endOf(item.to);
  return `link ${quoted(from ? spanText(from) : "?", 40)} → ${to ? to.label : "?"} ${quoted(to ? spanText(to) : "?", 30)}`;
}

function summary(chosen) {
  const parts = [[chosen.labels.length, "label"], [chosen.spans.length, "span"], [chosen.relations.length, "link"]]
    .filter(([n]) => n).map(([n, word]) => `${n} ${word}${n > 1 ? "s" : ""}`);
  return parts.length > 1 ? `${parts.slice(0, -1).join(", ")} and ${parts[parts.length - 1]}` : parts[0] || "nothing";
}

/** Accept (they become the annotator's own, saved like any edit) or reject suggestions; returns the queued operation. */
function decide(chosen, decision) {
  const op = decision === "accept" ? acceptOperation(S.sugg, chosen, [...S.spans.values()], newUid) : rejectOperation(chosen);
  closeGhostMenu(false);
  const focused = document.activeElement;
  const ghosts = [...S.sugg.spans.values()];
  const labels = [...S.sugg.labels.values()];
  change(op);
  // drawn anew: where suggested spans went (accepted or not), and the sentences whose suggested labels did
  const touched = ghosts.filter((x) => !S.sugg.spans.has(x.id));
  for (const l of labels) if (!S.sugg.labels.has(l.id)) touched.push(sentenceAt(l.sentence));
  renderSpanEdit(touched);
  // a or x pressed on a suggestion Tab had reached: it is gone, and the focus fell to the page's body (Tab then
  // started again at the page's top); it goes to the text, as after a decision in a suggestion's menu
  // (a panel's row keeps its focus in the panel: keepingFocus)
  const fell = !document.activeElement || document.activeElement === document.body;
  if (focused && focused !== document.body && !focused.isConnected && fell) textEl.focus({ preventScroll: true });
  return op;
}

/** The keys a / x: the current sentence's label suggestion, the span suggestions starting in it, and their links. */
function decideSentence(decision) {
  if (!S.sugg.enabled) { hint("This project shows no suggestions.", "warn"); return; }
  const n = S.current + 1;
  const chosen = S.sugg.inSentence(S.current, sentenceOfPos);
  if (!chosen.labels.length && !chosen.spans.length && !chosen.relations.length) { hint(`Sentence ${n} has no suggestions left.`, "", S.current); return; }
  const again = touch.matches ? `tap ${decision === "accept" ? "Accept all" : "Reject all"} again` : `press ${decision === "accept" ? "a" : "x"} again`;
  if (!inSightToAct(`${again} to ${decision} its suggestions`)) return;
  decide(chosen, decision);
  hint(decision === "accept" ? `Accepted the suggestions of sentence ${n} (${summary(chosen)}): they are yours now.` : `Rejected the suggestions of sentence ${n} (${summary(chosen)}).`);
}

/** One suggestion alone (from its menu or the Spans panel). An accepted span is selected, ready to link or resize. */
function decideOne(kind, id, decision) {
  const item = suggestionOf(kind, id);
  if (!item) { closeGhostMenu(true); return; }
  const what = describe(kind, item);
  const chosen = { labels: [], spans: [], relations: [] };
  chosen[{ label: "labels", span: "spans", relation: "relations" }[kind]].push(item);
  const op = decide(chosen, decision);
  if (decision === "accept" && kind === "span" && op.items.spans.length) selectSpan(op.items.spans[0].id);
  textEl.focus({ preventScroll: true });
  hint(`${decision === "accept" ? "Accepted" : "Rejected"} the suggested ${what}.`);
}

const ghostMenu = el("div", { class: "ghost-menu", role: "dialog", "aria-label": "A suggestion: accept or reject it", hidden: true });
document.body.append(ghostMenu);
document.addEventListener("mousedown", (event) => { if (S.ghost && !ghostMenu.contains(event.target)) closeGhostMenu(false); }, true);

/** The small menu that offers accept / reject for one suggestion, under what was clicked or focused. */
function offerGhost(kind, id, anchor) {
  const item = suggestionOf(kind, id);
  if (!item) return;
  const sentence = kind === "span" ? sentenceOfPos(item.start) : kind === "label" ? item.sentence : S.current;
  if (sentence !== S.current) setCurrent(sentence, false);
  const selected = S.selected && S.spans.get(S.selected);
  if (selected && !S.link) { // a span selected in another sentence is let go, with the span tools it opened on a phone
    const [a, b] = sentencesOf(selected);
    if (S.current < a || S.current > b) { selectSpan(null); closeSpanTools(); }
  }
  S.ghost = { kind, id, anchor };
  ghostMenu.replaceChildren(
    el("p", { class: "ghost-what" }, el("span", { class: "muted", text: "Suggested " }), describe(kind, item)),
    el("p", { class: "muted ghost-from", text: provenance(item) }),
    el("div", { class: "ghost-actions" },
      el("button", { type: "button", class: "primary", dataset: { decision: "accept" }, onclick: (event) => decideFromMenu(event, kind, id, "accept") }, ...withKey("Accept", "a")),
      el("button", { type: "button", dataset: { decision: "reject" }, onclick: (event) => decideFromMenu(event, kind, id, "reject") }, ...withKey("Reject", "x")),
      el("button", { type: "button", class: "link", onclick: () => closeGhostMenu(true) }, ...withKey("Later", "Esc", false))));
  ghostMenu.hidden = false;
  placeGhostMenu(anchor && anchor.isConnected ? anchor : textEl);
  ghostMenu.querySelector("button").focus({ preventScroll: true });
  if (touch.matches) hint(`Tap Accept or Reject, or Later to leave it: suggested ${describe(kind, item)}.`, "mode", S.current); // what to tap first
  else hint(`Suggested ${describe(kind, item)}: a accepts, x rejects, Esc leaves it for later.`, "mode", S.current);
  S.ghost.said = hintEl.textContent; // goes with the menu (closeGhostMenu)
}

/** The menu's Accept or Reject: clicked, it is in sight; pressed from the keyboard (Enter or Space on the focused
 * button: a click of no pointer), it may have been scrolled away, as for the a / x keys. */
function decideFromMenu(event, kind, id, decision) {
  if (event.detail === 0 && !ghostInSightToAct(`press Enter again to ${decision} it`)) return;
  decideOne(kind, id, decision);
}

/** Before a key decides the suggestion whose menu is open: if the annotator scrolled it out of sight, it is brought
 * back into view with its menu and nothing is decided (false), the hint saying so and what to press `again`; else
 * true. As for the current sentence's a / x: a accepted a suggestion the annotator could not see. */
function ghostInSightToAct(again) {
  const anchor = S.ghost && S.ghost.anchor;
  if (!S.lookedAway || !anchor || !anchor.isConnected || anchor === textEl) return true;
  const rects = anchor.getClientRects();
  if (!rects.length || !outOfSightBetween(rects[0], rects[rects.length - 1])) return true;
  lookingAt();
  placeGhostMenu(anchor);
  hint(`Back at the suggestion, which was out of sight: nothing was changed; ${again}.`, "away");
  return false;
}

/** The menu under its suggestion (over it where the window has no room below), both in sight between the sticky head
 * and the foot of the window (or the suggestion bar there): a suggestion half under the toolbar or the bar (Tab reaches
 * one there) is brought into view first. The menu is drawn under the head (annotate.css), as the text is: scrolled
 * afterwards, it slid over the toolbar and the hint line. */
function placeGhostMenu(anchor) {
  const gap = 6;
  const top = headEl.getBoundingClientRect().bottom + gap;
  const bar = document.getElementById("suggest-bar").getBoundingClientRect();
  const bottom = (bar.height ? bar.top : window.innerHeight) - gap;
  const height = ghostMenu.offsetHeight;
  let box = anchor.getBoundingClientRect();
  // the suggestion itself in sight too: one under the suggestion bar (Tab reaches one there) had its menu put above it,
  // its foot and its buttons under the bar
  const fits = (b) => b.top >= top && b.bottom <= bottom && (b.bottom + gap + height <= bottom || b.top - gap - height >= top);
  if (anchor !== textEl && !fits(box)) {
    anchor.scrollIntoView({ block: "center", behavior: "auto" }); // at once: the menu is placed where it ends
    box = anchor.getBoundingClientRect();
  }
  const below = box.bottom + gap + height <= bottom || box.top - gap - height < top;
  const room = document.documentElement.clientWidth - ghostMenu.offsetWidth - 8;
  ghostMenu.style.left = `${window.scrollX + Math.max(8, Math.min(box.left, room))}px`;
  ghostMenu.style.top = `${window.scrollY + (below ? box.bottom + gap : box.top - gap - height)}px`;
}

/** A button's word with its key before it (or after it), the key left out on a touch screen, where buttons are tapped. */
function withKey(word, key, before = true) {
  if (touch.matches) return [word];
  const cap = el("kbd", { text: key });
  return before ? [cap, ` ${word}`] : [`${word} `, cap];
}

function offerGhostAt(node) {
  if (node.dataset.ghost) offerGhost("span", node.dataset.ghost, node);
  else if (node.dataset.ghostLabel) offerGhost("label", node.dataset.ghostLabel, node);
}

function closeGhostMenu(refocus) {
  if (!S.ghost) return;
  const { anchor, said } = S.ghost;
  S.ghost = null;
  ghostMenu.hidden = true;
  // "a accepts, x rejects" about the one suggestion stayed after Esc or Later, where a then accepted all of the sentence's
  if (hintEl.textContent === said) clearHint();
  if (refocus) (anchor && anchor.isConnected ? anchor : textEl).focus({ preventScroll: true });
}

/** The innermost suggested span under a clicked piece of text, if any. */
function ghostAt(node) {
  const piece = node.closest ? node.closest(".pc.gh") : null;
  if (!piece) return null;
  const ids = piece.dataset.ghosts.split(" ").filter((id) => S.sugg.spans.has(id));
  ids.sort((a, b) => {
    const x = S.sugg.spans.get(a), y = S.sugg.spans.get(b);
    return (x.end - x.start) - (y.end - y.start);
  });
  return ids[0] || null;
}

/** A suggestion chosen in the Spans panel to decide on: its menu opens under the row, or, where the panels are a sheet
 * over the article (a phone), the sheet closes and the menu opens under the suggestion in the text, brought into sight:
 * the annotator decides on what they see. The panel's ✓ and ✕ decide in place, and the sheet stays. */
function offerGhostFromPanel(kind, item, row) {
  if (!closeSheet()) { offerGhost(kind, item.id, row); return; }
  const place = ghostPlace(kind, item);
  scrollIntoViewIfNeeded(place, true); // at once: the menu is placed where the suggestion is after the scroll
  offerGhost(kind, item.id, place);
}

/** Where a suggestion shows in the text: a span's dashed tag, a label's chip, a link's first end still suggested (else
 * the sentence its source is in). */
function ghostPlace(kind, item) {
  if (kind === "span") return S.ghostTags.get(item.id) || textEl;
  if (kind === "label") return textEl.querySelector(`.gchip[data-ghost-label="${CSS.escape(item.id)}"]`) || textEl;
  const end = S.ghostTags.get(item.from) || S.ghostTags.get(item.to);
  if (end) return end;
  const from = S.sugg.endOf(item.from);
  return (from && S.sentencePieces.get(sentenceOfPos(from.start))?.[0]) || textEl;
}

/** The Spans panel's suggestions: the current sentence's (or the whole article's), each with ✓ accept and ✕ reject. */
function renderGhostList() {
  const box = document.getElementById("ghosts");
  box.hidden = !S.sugg.enabled;
  if (!S.sugg.enabled) return;
  const here = S.current;
  const near = (x) => {
    const [a, b] = sentencesOf(x);
    return S.allSpans || (a <= here && here <= b);
  };
  const labels = [...S.sugg.labels.values()].filter((l) => S.allSpans || l.sentence === here).sort((a, b) => a.sentence - b.sentence);
  const spans = ghostSpans().filter(near).sort((a, b) => a.start - b.start || a.end - b.end);
  const links = [...S.sugg.relations.values()].filter((r) => {
    const from = S.sugg.endOf(r.from), to = S.sugg.endOf(r.to);
    return from && to && (near(from) || near(to));
  });
  const row = (kind, item, ...content) => el("li", { class: "ghost", dataset: { suggestion: item.id, kind } },
    el("button", { type: "button", class: "span-text", title: `${provenance(item)}: accept or reject`, onclick: (event) => offerGhostFromPanel(kind, item, event.currentTarget) }, ...content),
    el("button", { type: "button", class: "ok", title: "Accept", "aria-label": `Accept the suggested ${describe(kind, item)}`, onclick: () => decideOne(kind, item.id, "accept") }, "✓"),
    el("button", { type: "button", class: "x", title: "Reject", "aria-label": `Reject the suggested ${describe(kind, item)}`, onclick: () => decideOne(kind, item.id, "reject") }, "✕"));
  const ghostList = document.getElementById("ghost-list");
  keepingFocus(ghostList, () => ghostList.replaceChildren(
    ...labels.map((l) => row("label", l, ghostPill(l.label), ` label of sentence ${l.sentence + 1}`)),
    ...spans.map((x) => row("span", x, ghostPill(x.label), ` ${excerpt(spanText(x))}`)),
    ...links.map((r) => {
      const from = S.sugg.endOf(r.from), to = S.sugg.endOf(r.to);
      return row("relation", r, el("span", { class: "link-text quote", text: quoted(spanText(from), 50) }), " → ", ghostPill(to.label), ` ${excerpt(spanText(to), 30)}`);
    })));
  const shown = labels.length + spans.length + links.length;
  document.getElementById("ghosts-count").textContent = String(shown);
  const empty = document.getElementById("ghosts-empty");
  empty.hidden = shown > 0;
  empty.textContent = S.sugg.size ? (S.allSpans ? "" : `None in sentence ${here + 1}.`) : "None left in this article.";
}

// ------------------------------------------------------------------ mouse

function spansAt(node) {
  const tag = node.closest ? node.closest(".tag, .tag-end") : null;
  if (tag) return [tag.dataset.span];
  const piece = node.closest ? node.closest(".pc") : null;
  if (!piece) return [];
  const ids = S.pieceSpans.get(piece) || [];
  return ids.slice().sort((a, b) => {
    const x = S.spans.get(a), y = S.spans.get(b);
    return (x.end - x.start) - (y.end - y.start);
  });
}

textEl.addEventListener("click", (event) => {
  if (!S.map) return;
  const sel = window.getSelection();
  const target = event.target.nodeType === Node.TEXT_NODE ? event.target.parentElement : event.target;
  // a drag that selected text, not a click; but a click on a span's label, which is no text and keeps the text
  // selected, chooses the span (to fit it there, or to link to): the page took it for a drag, and did nothing
  const onTag = Boolean(target.closest && target.closest(".tag, .tag-end"));
  if (sel && !sel.isCollapsed && textSelection() && !onTag) return;
  const ghost = target.closest ? target.closest(".gtag, .gchip") : null;
  if (ghost && !S.link) { offerGhostAt(ghost); return; }
  const ids = spansAt(target);
  if (S.link) {
    const target = clickedTarget(S.link, ids); // not a candidate: finishLink explains why it cannot be linked
    if (target !== null) finishLink(target);
    return;
  }
  const holder = target.closest(".pc, .chip, .tag, .tag-end");
  let sentence = null;
  if (holder && holder.dataset.s !== undefined) sentence = Number(holder.dataset.s);
  else if (holder && holder.dataset.span && S.spans.has(holder.dataset.span)) sentence = sentenceOfPos(S.spans.get(holder.dataset.span).start);
  else if (ids.length) sentence = sentenceOfPos(S.spans.get(ids[0]).start); // a span's piece between two sentences
  if (sentence !== null && sentence !== S.current) setCurrent(sentence, false);
  if (ids.length) {
    const i = ids.indexOf(S.selected); // clicking again cycles through nested spans
    selectSpan(ids[(i + 1) % ids.length]);
    return;
  }
  const suggested = ghostAt(target); // text only a suggestion covers: offer it
  if (suggested) offerGhost("span", suggested, S.ghostTags.get(suggested));
  else if (S.selected) { selectSpan(null); closeIdleSpanTools(); } // as Esc does: the phone's tools, all disabled, stayed open
});

document.addEventListener("selectionchange", () => {
  if (!S.map) return;
  const sel = textSelection();
  if (sel) {
    // Marking text makes its sentence (where the marking starts) the current one: the next label key labels it.
    const sentence = sentenceOfPos(S.map.toCodePoint(sel.s, "floor"));
    if (sentence !== S.current) setCurrent(sentence, false);
    if (pointerDown) selectedWhileDown = true; // opened when the pointer lets go: opening moves the text down a row, under a dragging finger
    else openSpanTools();
    const across = acrossNote({ start: S.map.toCodePoint(sel.s, "floor"), end: S.map.toCodePoint(sel.e, "ceil") });
    if (touch.matches) {
      const names = S.schema.span_labels.map((x) => x.name);
      const tap = names.length > 1 ? `${names.slice(0, -1).join(", ")} or ${names[names.length - 1]}` : names.join("");
      const what = `${quoted(S.map.text.slice(sel.s, sel.e), 30)}${across ? `, across ${across}` : ""}`;
      hint(`Selected: tap ${tap}${S.selected && !S.link ? ", or Fit to fit the selected span to it" : ""} (${what}).`, "mode"); // what to tap first, as in selectSpan
    } else {
      const keys = S.schema.span_labels.filter((x) => x.key).map((x) => `${x.key} ${x.name}`).join(", ");
      // the word keys too (README and the help give them); a shorter excerpt keeps the longest such hint whole at 1280 px
      hint(`Selected ${quoted(S.map.text.slice(sel.s, sel.e), 45)}${across ? ` (across ${across})` : ""}: ${keys}${S.selected && !S.link ? ", f fits the span to it" : ""}; [ ] { } resize${S.selected && !S.link ? " it" : ""}, Ctrl/Alt or Ctrl+Shift+← → by word.`, "mode");
    }
  }
});

// Whether a mouse button or a finger is down: a selection made by dragging opens the span tools when it is let go.
let pointerDown = false;
let selectedWhileDown = false;
document.addEventListener("pointerdown", () => { pointerDown = true; selectedWhileDown = false; }, { capture: true });
for (const type of ["pointerup", "pointercancel"]) {
  document.addEventListener(type, () => {
    pointerDown = false;
    if (selectedWhileDown && S.map && textSelection()) openSpanTools();
    selectedWhileDown = false;
  }, { capture: true });
}

/** On a phone, a text selection or a selected span opens the span tools (their buttons at hand, as the hints say);
 * "Span ▾" pressed next, the text still selected, keeps them open. */
function openSpanTools() {
  if (!narrow.matches || root.classList.contains("span-tools-open")) return;
  toggleClass("span-tools-open", spanToolsToggle, true);
  spanToolsBySelection = true;
}

// Buttons must not take the text selection away before their click runs.
document.getElementById("toolbar").addEventListener("mousedown", (event) => {
  if (event.target.closest("button")) event.preventDefault();
});

document.getElementById("toolbar").addEventListener("click", (event) => {
  const button = event.target.closest("button");
  if (!button || !S.map) return;
  const { kind, action } = button.dataset;
  const name = button.dataset.label;
  if (kind === "sentence") labelSentence(name);
  else if (kind === "span") spanKey(name);
  else if (kind === "relation") (S.link ? cancelLink() : startLink(name));
  else if (action === "delete") deleteSelected();
  else if (action === "fit") fitSelected();
  else if (action === "help") toggleHelp();
  else if (action === "undo" || action === "redo") undo(action === "redo");
});

/** The next article is chosen by the server (/continue) once this one's last labels are saved. */
function goNext(event) {
  if (event) event.preventDefault();
  if (!queue.pending) { window.location.assign(nextUrl); return; }
  hint("Saving the last changes, then opening the next article…", "mode");
  const wait = setInterval(() => {
    if (!queue.pending) { clearInterval(wait); window.location.assign(nextUrl); }
  }, 100);
}
document.getElementById("next-article").addEventListener("click", goNext);

document.getElementById("suggest-bar").addEventListener("click", (event) => {
  const button = event.target.closest("button[data-decision]");
  if (button && S.map) decideSentence(button.dataset.decision);
});

// Narrow screens: the span tools fold into one button, and the side panels open as a sheet over the article.
const narrow = window.matchMedia("(max-width: 640px)");

function toggleClass(name, button, open) {
  root.classList.toggle(name, open);
  button.setAttribute("aria-expanded", String(open));
}

const spanToolsToggle = document.getElementById("span-tools-toggle");
let spanToolsBySelection = false; // the span tools are open because text was selected, not because "Span ▾" was pressed
const spanToolsOpen = () => root.classList.contains("span-tools-open");
function closeSpanTools() {
  spanToolsBySelection = false;
  toggleClass("span-tools-open", spanToolsToggle, false);
}

/** The selected span gone (deleted, or its making undone) with no text selected: the phone's row of span tools, every
 * button of it disabled then, closes as when a tap lets the span go; it stayed open over the text until Esc. */
function closeIdleSpanTools() {
  if (!S.selected && !S.link && !textSelection()) closeSpanTools();
}
spanToolsToggle.addEventListener("click", () => {
  // After a selection opened the tools, the annotator pressing "Span ▾" (the text still selected) means to open
  // them: closing them was a surprise.
  const open = (spanToolsBySelection && Boolean(textSelection())) || !root.classList.contains("span-tools-open");
  spanToolsBySelection = false;
  toggleClass("span-tools-open", spanToolsToggle, open);
});

const panelsToggle = document.getElementById("panels-toggle");
const panelsOpen = () => root.classList.contains("panels-open");
const panelsAsSheet = window.matchMedia("(max-width: 1000px)"); // annotate.css: narrower, the panels open as a sheet over the article
function setPanels(open) {
  toggleClass("panels-open", panelsToggle, open);
}

/** A choice in the panels that moves to the text (a span or a link chosen, a suggestion to decide on): where the panels
 * are a sheet over the article, it closes, and the focus, on a button hidden with it, goes to the text. Choices that
 * stay in the panels (a ✕, the "whole article" toggle, a suggestion's ✓) leave it open. True if it was open. */
function closeSheet() {
  if (!panelsOpen() || !panelsAsSheet.matches) return false;
  setPanels(false);
  textEl.focus({ preventScroll: true });
  return true;
}
panelsToggle.addEventListener("click", () => setPanels(!panelsOpen()));

document.getElementById("spans-all").addEventListener("change", (event) => {
  S.allSpans = event.target.checked;
  renderSpanList();
});

document.getElementById("alert-reload").addEventListener("click", () => window.location.reload());
document.getElementById("alert-close").addEventListener("click", () => { alertEl.hidden = true; });

// ------------------------------------------------------------------ keyboard

const BUILTIN = [
  ["j  ↓  →", "next sentence (in a right-to-left sentence ← goes on to the next sentence, as the text is drawn)"],
  ["k  ↑  ←", "previous sentence (in a right-to-left sentence → goes back to the previous one)"],
  ["u", "next unlabelled sentence"],
  ["Space  PgDn  PgUp", "scroll; the keys still act on the current sentence, and while it is out of sight (the hint line says where) a label key, a, x or Shift+Delete first brings it back and changes nothing; so does a span key on selected text or a selected span scrolled out of sight, and so do Delete, f and [ ] { } on a selected span (and [ ] { } on selected text), and a or x on a suggestion whose menu is open"],
  ["Shift+← → ↑ ↓", "select text from the current sentence's start (←: its end), by character, or line (which may run into the next sentence: the hint then says across); in a right-to-left sentence (Hebrew, Arabic) ← and → follow the text as drawn: Shift+← from its start, Shift+→ from its end"],
  ["Ctrl+Shift+← →", "select by word, never past the sentence's start or end"],
  ["n  p", "select the next / previous span (while linking: choose the target)"],
  ["[  ]", "move the selected text's start left / right (no text selected: the selected span's); with Ctrl or Alt by a word; while linking, they, { } and f leave the span being linked alone"],
  ["{  }  Shift+Alt+← →", "move the selected text's end left / right, or the selected span's (either pair; { } with Ctrl or Alt by a word); [ ] { } move back / on in the text, which in a right-to-left sentence is right / left, as Shift+Alt+→ / ← do there"],
  ["f", "fit the selected span to the selected text"],
  ["Delete  Backspace", "delete the selected span (and its links)"],
  ["Shift+Delete", "remove the current sentence's label"],
  ["Enter", "while linking: link to the chosen span; when all is labelled: next article"],
  [`${UNDO_KEY}`, "undo your last change on this page (a label, a span, a link), saved like any change"],
  [MAC ? `${REDO_KEY}` : `${REDO_KEY}  Ctrl+Y`, "redo what was undone"],
  ["Esc", "cancel linking, deselect, close this help"],
  ["?", "this help"],
];

const SUGGESTION_KEYS = [
  ["a", "accept the current sentence's suggestions: its label, the spans that start in it, and their links (they become yours)"],
  ["x", "reject the current sentence's suggestions"],
  ["Enter", "on a suggestion (click it, or Tab to one of the current sentence's): accept or reject that one alone; the Spans panel lists them too, links included"],
];

const ARTICLE_LABEL_KEYS = [
  ["Shift+Tab", "from the article text: up to the labels for the whole article, above it (Tab comes back down)"],
  ["Space", "choose the focused answer (in a group of any number: add or remove it); each change saves itself"],
  ["←  →", "in a group of one answer: the previous / next answer"],
];

function buildHelp() {
  const section = (title, items) => el("section", {},
    el("h3", { text: title }),
    el("table", { class: "keys" }, el("tbody", {}, ...items.map(([k, what]) =>
      el("tr", {}, el("td", {}, ...k.split(/\s{2,}/).map((x) => el("kbd", { text: x }))), el("td", { text: what }))))));
  const labels = (items) => items.filter((x) => x.key).map((x) => [x.key, x.description ? `${x.name}: ${x.description}` : x.name]);
  const left = [
    section("Sentence labels (then on to the next unlabelled sentence)", labels(S.schema.sentence_labels)),
    section("Span labels: on selected text, a new span; on a selected span, relabel", labels(S.schema.span_labels)),
    // in the spans' labels, as the Link button and the hints say it: the relation's name is the schema's, not the page's
    section("Links", S.schema.relation_types.filter((x) => x.key).map((x) => [x.key,
      `${linkPhrase(x)}: select the ${x.from.join("/")}, press ${x.key}, then click the ${x.to.join("/")} (or n / p, nearest first, and Enter)`])),
    S.schema.article_labels?.length ? section("Labels for the whole article (above its text)", ARTICLE_LABEL_KEYS) : null,
    S.sugg.enabled ? section("Suggestions (dashed, with a ?): never yours until accepted", SUGGESTION_KEYS) : null,
  ];
  document.getElementById("help-keys").replaceChildren(
    el("div", { class: "help-col" }, ...left),
    el("div", { class: "help-col" }, section("Moving and editing", BUILTIN)),
  );
}

function toggleHelp() {
  if (helpEl.open) helpEl.close();
  else helpEl.showModal();
}

/** A digit key no label of the schema has: say which keys label a sentence. */
function unusedDigit(key) {
  const keys = S.schema.sentence_labels.filter((x) => x.key).map((x) => `${x.key} ${x.name}`);
  hint(`The key ${key} labels nothing in this project${keys.length ? `: the sentence labels are ${keys.join(", ")}` : ""}.`, "warn");
}

function schemaAction(event) {
  if (event.ctrlKey || event.metaKey || event.altKey) return null;
  if (event.key.length !== 1) return null;
  return S.keys.get(event.key.toLowerCase()) || null;
}

document.addEventListener("keydown", (event) => {
  if (!S.map || event.isComposing) return;
  if (helpEl.open) { // the dialog handles Esc itself; ? closes what it opened (it did nothing, and said nothing)
    if (event.key === "?") { helpEl.close(); event.preventDefault(); }
    return;
  }
  const t = event.target;
  const typing = t && (t.isContentEditable || /^(TEXTAREA|SELECT)$/.test(t.tagName) || (t.tagName === "INPUT" && !/^(checkbox|radio)$/.test(t.type)));
  if (typing) return; // a checkbox (the Spans panel's toggle) keeps the keys working
  const key = event.key;
  if (key.startsWith("Arrow") && t && t.closest && t.closest("#article-labels")) return; // arrows move between an article group's radios
  const plain = !event.ctrlKey && !event.metaKey && !event.altKey;
  let handled = true;

  const letter = key.length === 1 ? key.toLowerCase() : "";
  const latin = /^[a-z]$/.test(letter) ? letter : event.code.replace(/^Key/, "").toLowerCase(); // by position on non-Latin layouts
  if ((event.ctrlKey || event.metaKey) && !event.altKey && (latin === "z" || latin === "y")) undo(latin === "y" || event.shiftKey);
  else if (key === "?" ) toggleHelp();
  else if (event.shiftKey && event.altKey && !event.ctrlKey && (key === "ArrowLeft" || key === "ArrowRight")) {
    resizeSelected("end", arrowStep(key), false, `Shift+Alt+${key === "ArrowLeft" ? "←" : "→"}`);
  }
  else if (event.shiftKey && !event.altKey && !event.metaKey && key.startsWith("Arrow")) {
    const direction = arrowStep(key) < 0 ? "backward" : "forward";
    const unit = key === "ArrowUp" || key === "ArrowDown" ? "line" : event.ctrlKey ? "word" : "character";
    extendSelection(direction, unit);
  } else if (schemaAction(event)) {
    const action = schemaAction(event);
    if (action.kind === "sentence") labelSentence(action.name);
    else if (action.kind === "span") spanKey(action.name);
    else if (action.kind === "relation") (S.link && S.link.type === action.name ? cancelLink() : startLink(action.name));
  } else if (plain && /^[0-9]$/.test(key)) unusedDigit(key); // after the schema's keys: one of them did nothing, and said nothing
  else if (event.shiftKey && !event.ctrlKey && !event.metaKey && !event.altKey && (key === "End" || key === "Home")) {
    const on = currentDirection() === "rtl" ? "←" : "→", back = on === "→" ? "←" : "→";
    const [arrow, from] = key === "End" ? [back, "end"] : [on, "start"]; // did nothing, and said nothing: the keys that do it
    hint(`Shift+${key} selects nothing here: Shift+${arrow} selects from the current sentence's ${from}, Ctrl+Shift+${arrow} by word.`, "warn");
  } else if (plain && (key === "a" || key === "x")) { // after the schema's keys: an older schema that took a or x keeps them
    const decision = key === "a" ? "accept" : "reject";
    if (S.ghost) { if (ghostInSightToAct(`press ${key} again to ${decision} it`)) decideOne(S.ghost.kind, S.ghost.id, decision); }
    else decideSentence(decision);
  } else if (plain && (key === "j" || key === "J" || key === "ArrowDown")) setCurrent(S.current + 1);
  else if (plain && (key === "k" || key === "K" || key === "ArrowUp")) setCurrent(S.current - 1);
  // ← → as the text is drawn, as with Shift: in a right-to-left sentence ← goes on, as a caret there would
  else if (plain && (key === "ArrowLeft" || key === "ArrowRight")) setCurrent(S.current + arrowStep(key));
  else if (plain && key === "u") {
    const i = nextUnlabelled(S.current);
    if (i < 0) hint("Every sentence is labelled.");
    else if (i === S.current) hint(`Sentence ${i + 1}, this one, is the only one still unlabelled.`, "", i); // u did nothing, and said nothing
    else setCurrent(i);
  } else if (plain && (key === "n" || key === "p")) (S.link ? cycleCandidate(key === "n" ? 1 : -1) : cycleSpan(key === "n" ? 1 : -1));
  else if (!event.metaKey && "[]{}".includes(key) && key.length === 1) { // by the character typed: AltGr layouts work too
    // by word with Ctrl or with Alt; both at once is how Windows reports AltGr, which types the character itself
    const byWord = event.ctrlKey !== event.altKey;
    resizeSelected(key === "[" || key === "]" ? "start" : "end", key === "[" || key === "{" ? -1 : 1, byWord,
      byWord ? `${event.ctrlKey ? "Ctrl" : "Alt"}+${key}` : key);
  }
  else if (plain && key === "f") fitSelected("f");
  else if (plain && (key === "Delete" || key === "Backspace")) {
    if (event.shiftKey) clearLabel();
    else deleteSelected(key);
  } else if (key === "Enter" && plain) {
    if (chosenCandidate(S.link) !== null) finishLink(chosenCandidate(S.link));
    else if (t && t.closest && t.closest(".gtag, .gchip")) offerGhostAt(t.closest(".gtag, .gchip"));
    // a focused control keeps its Enter: a button, a link, and a form control too (the Spans panel's checkbox, an
    // article label's radio), on which Enter opened the next article
    else if (t && t.closest && t.closest("button, a, summary, input, select, textarea")) handled = false;
    else if (S.link) { // while linking Enter is the link's, never "next article": the link would be lost
      hint(S.link.candidates.length ? "Choose the span to link to first: click it, or n / p, then Enter (Esc cancels)."
        : "Nothing to link to yet: select its text and press its span key (Esc cancels).", "warn");
    } else if (!document.getElementById("next-article").hidden) goNext();
    else progressHint("Enter opens the next article once every sentence is labelled. "); // it did nothing, and said nothing
  } else if (plain && event.code === "Space" && t && t.closest && t.closest(".gtag, .gchip")) offerGhostAt(t.closest(".gtag, .gchip"));
  else if (key === "Escape") {
    // Ending the span mode (a selection of text or of a span) closes the span tools it opened on a phone too.
    if (S.ghost) closeGhostMenu(true);
    else if (S.link) cancelLink();
    else if (textSelection()) { clearTextSelection(); clearHint(); closeSpanTools(); }
    else if (S.selected) { selectSpan(null); closeSpanTools(); }
    else if (panelsOpen()) setPanels(false);
    else if (spanToolsOpen()) closeSpanTools();
    else handled = false;
  } else handled = false;

  if (handled) event.preventDefault();
});

// ------------------------------------------------------------------ loading

/** This annotator's pending suggestions, where the project shows them: {status, data}, or null when it does not. */
async function fetchSuggestions() {
  if (!suggestionsUrl) return null;
  try {
    return await requestJson("GET", suggestionsUrl);
  } catch {
    return { status: 0, data: null };
  }
}

async function load() {
  let response;
  const suggested = fetchSuggestions();
  try {
    response = await requestJson("GET", apiUrl);
  } catch {
    response = { status: 0, data: null };
  }
  if (response.status !== 200 || !response.data) {
    const why = response.data && response.data.error ? response.data.error : response.status ? `HTTP ${response.status}` : "the server cannot be reached";
    textEl.replaceChildren(el("p", { class: "load-error" }, `Could not load the article (${why}). `, el("button", { type: "button", class: "link", onclick: () => load() }, "Try again")));
    return;
  }
  const data = response.data;
  // The suggestions first: from S.map on the keys act, and nothing may wait between it and the save queue below
  // (a label key pressed meanwhile was drawn but never queued, so never saved).
  const offered = await suggested;
  S.article = data.article;
  S.schema = data.schema;
  S.map = new OffsetMap(data.article.text);
  if (mainDirection(data.article.text) === "rtl") textEl.dir = "rtl"; // a Hebrew or Arabic article: lines start at the right
  S.sentences = data.sentences.map((s) => ({ ...s, s: S.map.toUtf16(s.start), e: S.map.toUtf16(s.end) })).sort((a, b) => a.start - b.start);
  for (const section of ["sentence_labels", "span_labels"]) for (const item of S.schema[section]) S.colors.set(item.name, item.color);
  for (const item of S.schema.relation_types) S.colors.set(`rel:${item.name}`, item.color);
  for (const section of ["sentence_labels", "span_labels", "relation_types"]) {
    const kind = { sentence_labels: "sentence", span_labels: "span", relation_types: "relation" }[section];
    for (const item of S.schema[section]) if (item.key) S.keys.set(item.key.toLowerCase(), { kind, name: item.name });
  }
  const ann = data.annotations || {};
  for (const l of ann.labels || []) S.labels.set(l.sentence, l);
  for (const x of ann.spans || []) S.spans.set(x.id, { id: x.id, label: x.label, start: x.start, end: x.end });
  for (const r of ann.relations || []) S.relations.set(r.id, { id: r.id, type: r.type, from: r.from, to: r.to });
  for (const a of ann.article_labels || []) {
    S.articleLabels.set(a.group, a.values);
    S.articleVersions.set(a.group, a.version);
  }
  S.sugg = new SuggestionSet(offered && offered.status === 200 ? offered.data : null);

  // Title first: when the text itself opens with the title, that line is shown as the heading.
  const title = (data.article.title || "").trim();
  document.getElementById("article-title").dir = mainDirection(title); // a Hebrew title starts at the right, as its text does
  const lead = data.article.text.length - data.article.text.trimStart().length;
  S.titleEnd = title && data.article.text.startsWith(title, lead) ? lead + title.length : 0;
  // a title line has text after it: an article that is its title alone (a .txt file of one line) is drawn as text
  if (S.titleEnd && !data.article.text.slice(S.titleEnd).trim()) S.titleEnd = 0;

  queue = new SaveQueue({
    baseUrl: apiUrl,
    storagePrefix: `annotator.pending.u${userId}.a${articleId}.`,
    onStatus: renderStatus,
    onSaved,
    onConflict,
    onRejected,
  });
  for (const op of queue.ops) apply(op); // changes not yet confirmed: show them as made
  showArticleLabels(articleLabelsEl, S.articleLabels);
  watchArticleLabels(articleLabelsEl, (op) => change({ ...op, version: articleVersion(op.group) })); // a stale tab's answer is a 409

  for (const b of document.querySelectorAll("button[data-color]")) {
    b.style.setProperty("--c", b.dataset.color);
    b.style.setProperty("--bg", hexToRgba(b.dataset.color, 0.12));
  }
  const guidelines = document.getElementById("guidelines");
  const remember = `annotator.guidelines.${data.article.project}`;
  try {
    const saved = window.localStorage.getItem(remember);
    if (saved !== null) guidelines.open = saved === "open";
  } catch { /* no storage: default */ }
  guidelines.addEventListener("toggle", () => {
    try { window.localStorage.setItem(remember, guidelines.open ? "open" : "closed"); } catch { /* ignore */ }
  });
  buildHelp();
  renderAll();
  renderUndo();
  const kept = keptPlace();
  const first = nextUnlabelled(-1);
  // At once, not smoothly: the place may be thousands of pixels down a long article, a smooth scroll there took a
  // second or more from the top, and a key pressed meanwhile acted on a sentence not yet in sight.
  setCurrent(kept !== null ? kept : first >= 0 ? first : 0, false);
  scrollToSentence(S.current, true);
  textEl.focus({ preventScroll: true });
  root.dataset.ready = "true";
  queue.run();
  if (queue.pending) {
    restored = queue.pending;
    hint(`Sending ${restoredWords(restored)}…`, "restored");
  }
  else if (offered && offered.status !== 200) {
    const why = offered.data && offered.data.error ? offered.data.error : offered.status ? `HTTP ${offered.status}` : "the server cannot be reached";
    hint(`The suggestions could not be loaded (${why}); reload to try again.`, "warn");
  } else if (touch.matches && !hintEl.textContent) progressHint(); // a touch phone shows no count in its tools: the hint has it from the start
}

window.addEventListener("beforeunload", (event) => {
  if (queue && queue.pending) {
    event.preventDefault();
    event.returnValue = ""; // the changes are kept in this browser and sent on the next visit
  }
});

new ResizeObserver(() => { if (S.map) renderMargin(); }).observe(textEl);
if (document.fonts) document.fonts.ready.then(() => { if (S.map) renderMargin(); });

load();
