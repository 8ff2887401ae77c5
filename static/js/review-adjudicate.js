// Adjudication page: the reviewer marks a gold span as annotators do, by selecting text in the
// sentence and clicking a span label (or pressing its key). Each mark becomes a checked "spans"
// checkbox of the form (value LABEL:START:END in code points of the article, as the annotators'
// spans are offered), so the server sees exactly what a checkbox sends. The sentence shows the
// gold spans chosen so far, and follows every checkbox. The DOM counts UTF-16 units; offsets.js
// converts (the sentence starts at a code-point boundary of the article, so sentence-relative
// code points plus the sentence's start are the article's).
//
// Links as on the annotation page (link-mode.js: the same rules): click a gold span in the sentence
// (or n / p), press the relation's key (or its button), then click the span at the other end (in the
// sentence, or among the targets listed, which include spans in other sentences; or n / p, nearest
// first, and Enter); Esc cancels. Each link is a checked "links" checkbox (TYPE|SPAN|SPAN); unchecking
// it unlinks. The checkboxes keep each other consistent: dropping a span drops its links, choosing a link
// chooses its spans, and keeping an annotator's quote and source keeps the link they made. A chosen
// quote linked to nothing is named under the links before the save, and so is a gold quote of another
// sentence whose links into this one are all unchecked and that has no other (domain/gold/linking.py).
// People read a link in its spans' words, as on the annotation page: the button says Link, a hint "links it to a
// SOURCE", a link "QUOTE “…” → SOURCE “…”"; the schema's name for it ("attributed_to") is the form's data only.
import { chosenCandidate, clickedTarget, cycleCandidate, linkEnds, linksTo, relationNamed, startLinking, wantedLabels } from "./link-mode.js";
import { OffsetMap } from "./offsets.js";
import { quoted } from "./quotes.js";

const dataNode = document.getElementById("adjudication-data");
const view = document.getElementById("sentence-text");
const marker = document.getElementById("gold-marker");
const fieldset = document.getElementById("gold-spans");
const linkset = document.getElementById("gold-links");

const COLOUR = /^#[0-9a-fA-F]{6}$/;
/** A touch screen (as annotate.js tells one): the messages say what to tap, not which key to press. */
const touch = window.matchMedia("(hover: none), (pointer: coarse)");
const spanKey = (label, start, end) => `${label}:${start}:${end}`;

/** TYPE|SPAN|SPAN -> {type, from, to} (span keys), or null. */
export function parseLinkKey(value) {
  const parts = (value || "").split("|");
  return parts.length === 3 && parts[0] && parseKey(parts[1]) && parseKey(parts[2]) ? { type: parts[0], from: parts[1], to: parts[2] } : null;
}

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

if (dataNode && view && marker && fieldset && linkset) {
  const data = JSON.parse(dataNode.textContent);
  const map = new OffsetMap(data.text);
  const labels = new Map(data.labels.map((l) => [l.name, l]));
  const relations = data.relations || [];
  const outside = new Map((data.outside || []).map((x) => [x.key, { ...x, id: x.key }]));
  const linkedIn = (data.linked_in || []).map((x) => ({ ...x, id: x.key })); // other sentences' gold quotes linked into this one
  const status = document.getElementById("mark-status");
  const targetsEl = document.getElementById("link-targets");
  const warning = document.getElementById("unlinked-warning");
  const savedOpen = data.saved_unlinked || []; // the saved gold's quotes in this sentence linked to nothing (span keys)
  const colourOf = (label) => (COLOUR.test(labels.get(label)?.color || "") ? labels.get(label).color : "#888888");
  const st = { selected: null, link: null }; // the gold span chosen in the sentence (its key); the link being made

  const boxes = () => [...fieldset.querySelectorAll('input[type=checkbox][name=spans]')];
  const linkBoxes = () => [...linkset.querySelectorAll('input[type=checkbox][name=links]')];
  const inSentence = (s) => s.start < data.end && s.end > data.start;

  /** The checked gold spans of the sentence, as link-mode.js takes them ({id: key, label, start, end}), by offset. */
  const chosenSpans = () => boxes().filter((b) => b.checked).map((b) => ({ ...parseKey(b.value), id: b.value })).filter((s) => s.label)
    .sort((a, b) => a.start - b.start || a.end - b.end);
  /** Any span a link may join: the chosen ones here, and the spans in other sentences the page lists. */
  const spanOf = (key) => chosenSpans().find((s) => s.id === key) || outside.get(key) || null;
  const sentencesOf = (s) => (inSentence(s) || s.sentence === undefined ? [data.index, data.index] : [s.sentence, s.sentence]);
  const textOf = (s) => (inSentence(s) ? map.sliceCp(Math.max(s.start, data.start) - data.start, Math.min(s.end, data.end) - data.start) : s.text || "");
  const describe = (s) => `${s.label} ${quoted(textOf(s), 50)}${inSentence(s) ? "" : ` (sentence ${s.sentence + 1})`}`;

  /** The sentence with the checked gold spans highlighted (exact text: not the HTML parser's). */
  const draw = () => {
    const chosen = chosenSpans();
    const toU16 = (cp) => map.toUtf16(Math.max(0, Math.min(map.lengthCp, cp - data.start)));
    const cuts = new Set([0, data.text.length]);
    const pieces = chosen.map((s) => ({ ...s, s16: toU16(s.start), e16: toU16(s.end) })).filter((s) => s.s16 < s.e16);
    for (const p of pieces) { cuts.add(p.s16); cuts.add(p.e16); }
    const sorted = [...cuts].sort((a, b) => a - b);
    const candidates = new Set(st.link ? st.link.candidates : []);
    const target = chosenCandidate(st.link);
    view.replaceChildren();
    for (let i = 0; i + 1 < sorted.length; i++) {
      const [a, b] = [sorted[i], sorted[i + 1]];
      const over = pieces.filter((p) => p.s16 < b && p.e16 > a).sort((x, y) => (x.end - x.start) - (y.end - y.start));
      const piece = data.text.slice(a, b);
      if (!over.length) { view.append(piece); continue; }
      const mark = document.createElement("mark");
      mark.className = "span-mark gold" + (over.length > 1 ? " nested" : "");
      const ids = over.map((p) => p.id);
      mark.classList.toggle("sel", ids.includes(st.selected));
      mark.classList.toggle("candidate", ids.some((id) => candidates.has(id)));
      mark.classList.toggle("target", ids.includes(target));
      mark.title = over.map((p) => p.label).join(", ");
      mark.dataset.label = over[0].label;
      mark.dataset.spans = JSON.stringify(ids); // shortest first: a click takes the innermost span
      mark.style.setProperty("--c", colourOf(over[0].label));
      mark.textContent = piece;
      view.append(mark);
    }
    view.classList.toggle("linking", Boolean(st.link));
    drawTargets();
    drawTools();
    warnUnlinked();
  };

  /** While linking: every candidate as a button, nearest first (spans in other sentences too), the n / p one marked. */
  const drawTargets = () => {
    targetsEl.hidden = !st.link;
    if (!st.link) { targetsEl.replaceChildren(); return; }
    const target = chosenCandidate(st.link);
    const buttons = st.link.candidates.map((key) => spanOf(key)).filter(Boolean).map((s) => {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "link-target" + (s.id === target ? " target" : "");
      button.dataset.span = s.id;
      button.style.setProperty("--c", colourOf(s.label));
      button.textContent = describe(s);
      button.addEventListener("mousedown", (event) => event.preventDefault());
      button.addEventListener("click", () => finishLink(s.id));
      return button;
    });
    const note = document.createElement("span");
    note.className = "note";
    note.textContent = buttons.length ? "Link to:" : `Nothing to link to yet: select its text in the sentence and ${touch.matches ? "tap its span label" : "press its span key"}.`;
    targetsEl.replaceChildren(note, ...buttons);
  };

  /** The relation buttons: on for the link being made, usable when the selected span can take part. */
  const drawTools = () => {
    const span = st.selected && spanOf(st.selected);
    for (const button of marker.querySelectorAll("button.link-mode")) {
      const rel = relationNamed(relations, button.dataset.relation);
      button.disabled = !(span && rel && (rel.from.includes(span.label) || rel.to.includes(span.label))) && !st.link;
      button.classList.toggle("on", Boolean(st.link && st.link.type === button.dataset.relation));
    }
  };

  /** Name the gold quotes the save would leave starting no link their label can start (a QUOTE without its SOURCE): the
   * chosen spans, and the other sentences' gold quotes linked into this one, which keep their links that do not touch it;
   * the server says the same after a save. One message, under the links: those quotes (each one the saved gold has so
   * marked), else the saved gold's unlinked quotes that the form no longer leaves so. Before, a note on the saved gold
   * above the sentence said it too, and the two showed at once. */
  const warnUnlinked = () => {
    if (!warning) return;
    const kept = [...linkBoxes().filter((b) => b.checked).map((b) => b.value), ...(data.links_elsewhere || [])];
    const linked = new Set(kept.map(parseLinkKey).filter(Boolean).map((l) => `${l.type}|${l.from}`));
    const open = [...chosenSpans(), ...linkedIn].filter((s) => {
      const types = relations.filter((r) => r.from.includes(s.label)).map((r) => r.name);
      return types.length && !types.some((t) => linked.has(`${t}|${s.id}`));
    });
    const named = (s) => `${s.label} ${quoted(textOf(s), 60)}${inSentence(s) ? "" : ` (sentence ${s.sentence + 1})`}`;
    const them = (n) => (n === 1 ? "it" : "them");
    warning.hidden = !open.length && !savedOpen.length;
    warning.className = open.length || !savedOpen.length ? "warn" : "note";
    if (open.length) {
      const saved = new Set(savedOpen);
      warning.textContent = `Linked to nothing: ${open.map((s) => named(s) + (saved.has(s.id) ? " (saved so)" : "")).join("; ")}. `
        + `Saving keeps ${them(open.length)} without a source.`;
    } else if (savedOpen.length) {
      const spans = savedOpen.map((key) => ({ ...parseKey(key), id: key })).filter((s) => s.label);
      warning.textContent = `As saved, the gold has ${spans.length === 1 ? "a span" : `${spans.length} spans`} linked to nothing: `
        + `${spans.map(named).join("; ")}. The form no longer leaves ${them(spans.length)} so (linked, or left out): save to keep that.`;
    } else {
      warning.textContent = "";
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

  const say = (message, kind = "") => { status.textContent = message; status.dataset.kind = kind; };
  const goldLabel = (key) => [...document.querySelectorAll('input[type=radio][name="label"][data-key]')].find((r) => r.dataset.key === key) || null;

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
    row.append(box, " ", name, ` ${quoted(map.sliceCp(start - data.start, end - data.start), 80)} `, where, " ", who);
    const typed = fieldset.querySelector("details.typed");
    fieldset.insertBefore(row, typed);
    return box;
  };

  /** A link's checkbox, checked (a new row "linked by you" when nobody offered it). */
  const addLink = (type, from, to) => {
    const key = `${type}|${from.id}|${to.id}`;
    const existing = linkBoxes().find((b) => b.value === key);
    if (existing) { existing.checked = true; return existing; }
    document.getElementById("no-links")?.remove();
    const row = document.createElement("label");
    row.className = "check new-link";
    const box = document.createElement("input");
    box.type = "checkbox"; box.name = "links"; box.value = key; box.checked = true;
    const pill = (s) => {
      const name = document.createElement("span");
      name.className = "span-label"; name.textContent = s.label;
      name.style.setProperty("--c", colourOf(s.label));
      const where = document.createElement("span");
      where.className = "muted"; where.textContent = `${s.start}–${s.end}`;
      return [name, ` ${quoted(textOf(s), 80)} `, where];
    };
    const who = document.createElement("span");
    who.className = "muted";
    who.textContent = (inSentence(from) && inSentence(to) ? "" : "(other sentence) ") + "linked by you";
    // the relation's name only where the schema has several (then it is what tells them apart), as the server's rows
    row.append(box, relations.length > 1 ? ` ${type}: ` : " ", ...pill(from), " → ", ...pill(to), " ", who);
    linkset.insertBefore(row, linkset.querySelector("p.note"));
    return box;
  };

  const mark = (label) => {
    const span = selected();
    if (!span) { say("Select some text of the sentence first."); return; }
    const box = addChoice(label, span.start, span.end);
    window.getSelection()?.removeAllRanges();
    if (st.link) { finishLink(box.value); return; } // as on the annotation page: a new span ends the link being made
    keepAnnotatorsLinks(box.value); // an annotator's span marked again: as its checkbox checked by hand, it keeps their link
    st.selected = box.value;
    draw();
    say(`${label} marked: ${quoted(map.sliceCp(span.start - data.start, span.end - data.start), 80)}. Uncheck it below to drop it.`);
  };

  const select = (key) => {
    st.selected = key;
    draw();
    const span = key && spanOf(key);
    if (!span) { say(""); return; }
    const rel = relations.find((r) => r.from.includes(span.label) || r.to.includes(span.label));
    if (touch.matches) say(`${describe(span)} selected${rel ? `: tap Link to link it to a ${linksTo(rel, span.label)}` : ""}; uncheck it below to drop it from the gold.`);
    else say(`${describe(span)} selected${rel && rel.key ? `: ${rel.key} links it to a ${linksTo(rel, span.label)}` : ""}; Delete drops it from the gold.`);
  };

  const startLink = (type) => {
    const rel = relationNamed(relations, type);
    if (!rel) return;
    const span = st.selected && spanOf(st.selected);
    if (!span) {
      say(touch.matches ? `Tap a gold ${rel.from.join("/")} in the sentence first, then Link.`
        : `Click a gold ${rel.from.join("/")} in the sentence first (or n / p), then press the link key.`, "warn");
      return;
    }
    const link = startLinking(rel, span, [...chosenSpans(), ...outside.values()], sentencesOf);
    if (!link) { // in the page's words (its spans' labels), not the schema's name for the link, as the annotation page says it
      say(`A ${span.label} span cannot be linked: a link goes from a ${rel.from.join("/")} to a ${rel.to.join("/")}; `
        + `${touch.matches ? "tap" : "click"} one of those in the sentence first.`, "warn");
      return;
    }
    st.link = link;
    draw();
    const wanted = wantedLabels(rel, link.fromSide).join("/");
    if (touch.matches) {
      say(link.candidates.length
        ? `Linking: tap the ${wanted} in the sentence or under it, or select new text and tap its span label. Tap Link again to cancel.`
        : `Linking: no ${wanted} span yet: select its text and tap its span label (tap Link again to cancel).`, "mode");
    } else {
      say(link.candidates.length
        ? `Linking: click the ${wanted} (or n / p to choose, nearest first, and Enter), Esc cancels. You may also select new text and press its span key.`
        : `Linking: no ${wanted} span yet: select its text and press its span key (Esc cancels).`, "mode");
    }
  };

  const finishLink = (target) => {
    const link = st.link;
    if (!link) return;
    const rel = relationNamed(relations, link.type);
    const ends = linkEnds(rel, link, spanOf(target));
    if (!ends) {
      say(`That is not a ${wantedLabels(rel, link.fromSide).join("/")} span. ${touch.matches ? "Tap Link again to cancel linking." : "Esc cancels linking."}`, "warn");
      return;
    }
    st.link = null;
    const [from, to] = [spanOf(ends.from), spanOf(ends.to)];
    const already = linkBoxes().some((b) => b.checked && b.value === `${link.type}|${from.id}|${to.id}`);
    addLink(link.type, from, to);
    st.selected = link.anchor;
    draw();
    say(already ? "These two are already linked." : `Linked ${quoted(textOf(from), 40)} → ${describe(to)}. Uncheck the link below to unlink.`);
  };

  const cancelLink = () => { st.link = null; draw(); say("Linking cancelled."); };

  /** n / p without a link being made: the next / previous gold span of the sentence. */
  const cycleSelected = (step) => {
    const spans = chosenSpans();
    if (!spans.length) { say("No gold span here yet: select text and press a span key.", "warn"); return; }
    const at = spans.findIndex((s) => s.id === st.selected);
    select(spans[at < 0 ? (step > 0 ? 0 : spans.length - 1) : (at + step + spans.length) % spans.length].id);
  };

  const chooseCandidate = (step) => {
    const key = cycleCandidate(st.link, step);
    if (key === null) return;
    draw();
    say(`Link to ${describe(spanOf(key))}? Enter links, n / p choose another, Esc cancels.`, "mode");
  };

  /** Dropping a span drops its links; choosing a link chooses its spans; keeping both ends of an annotator's link keeps it. */
  const follow = (changed) => {
    if (changed.name === "spans" && !changed.checked) {
      for (const b of linkBoxes()) {
        const l = parseLinkKey(b.value);
        if (b.checked && l && (l.from === changed.value || l.to === changed.value)) b.checked = false;
      }
      if (st.selected === changed.value) st.selected = null;
      if (st.link && st.link.anchor === changed.value) st.link = null;
    } else if (changed.name === "spans") keepAnnotatorsLinks(changed.value);
    else if (changed.name === "links" && changed.checked) {
      const l = parseLinkKey(changed.value);
      for (const key of l ? [l.from, l.to] : []) {
        const s = parseKey(key);
        if (s && inSentence(s)) addChoice(s.label, s.start, s.end);
      }
    }
    draw();
  };

  /** As the server's prefill (domain/gold/linking.py): a link offered by annotators whose ends here are all chosen goes
   * too, unless its quote already has a link of that type, or rival links of that quote are made by as many annotators. */
  const keepAnnotatorsLinks = (key) => {
    const chosen = new Set(chosenSpans().map((s) => s.id));
    const ready = (b) => {
      const l = parseLinkKey(b.value);
      const here = l ? [l.from, l.to].filter((k) => inSentence(parseKey(k))) : [];
      return l && b.dataset.by && here.length && here.every((k) => chosen.has(k)) ? l : null;
    };
    const touched = linkBoxes().map((b) => [b, ready(b)]).filter(([, l]) => l && (l.from === key || l.to === key));
    for (const anchor of new Set(touched.map(([, l]) => `${l.type}|${l.from}`))) {
      if (linkBoxes().some((b) => b.checked && b.value.startsWith(anchor + "|"))) continue;
      const rivals = linkBoxes().map((b) => [b, ready(b)]).filter(([, l]) => l && `${l.type}|${l.from}` === anchor)
        .sort(([a], [b]) => Number(b.dataset.by) - Number(a.dataset.by));
      if (rivals.length === 1 || Number(rivals[0][0].dataset.by) > Number(rivals[1][0].dataset.by)) rivals[0][0].checked = true;
    }
  };

  for (const button of marker.querySelectorAll("button.mark-span")) {
    const colour = button.dataset.color;
    if (COLOUR.test(colour)) button.style.setProperty("--c", colour);
    // keep the selection: a mouse-down on a button would otherwise clear it before the click
    button.addEventListener("mousedown", (event) => event.preventDefault());
    button.addEventListener("click", () => mark(button.dataset.label));
  }
  for (const button of marker.querySelectorAll("button.link-mode")) {
    button.addEventListener("mousedown", (event) => event.preventDefault());
    button.addEventListener("click", () => (st.link ? cancelLink() : startLink(button.dataset.relation)));
  }
  view.addEventListener("click", (event) => {
    const sel = window.getSelection();
    if (sel && !sel.isCollapsed && selected()) return; // a drag that selected text, not a click
    const holder = event.target.closest ? event.target.closest("mark[data-spans]") : null;
    const ids = holder ? JSON.parse(holder.dataset.spans) : [];
    if (st.link) {
      const target = clickedTarget(st.link, ids); // not a candidate: finishLink says why
      if (target !== null) finishLink(target);
      return;
    }
    if (!ids.length) { select(null); return; }
    const i = ids.indexOf(st.selected); // clicking again cycles through nested spans
    select(ids[(i + 1) % ids.length]);
  });
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return;
    // typing in a field keeps its keys; a focused checkbox or radio (the label just chosen) does not type
    if (event.target.closest?.("textarea, select, [contenteditable], input:not([type=checkbox]):not([type=radio])")) return;
    const key = event.key;
    const label = data.labels.find((l) => l.key && l.key === key);
    const rel = relations.find((r) => r.key && r.key === key);
    let handled = true;
    if (label && selected()) mark(label.name);
    else if (rel) (st.link && st.link.type === rel.name ? cancelLink() : startLink(rel.name));
    else if (key === "n" || key === "p") (st.link ? chooseCandidate(key === "n" ? 1 : -1) : cycleSelected(key === "n" ? 1 : -1));
    else if (key === "Enter" && chosenCandidate(st.link) !== null) finishLink(chosenCandidate(st.link));
    else if (key === "Enter" && st.link && !event.target.closest?.("button, a, summary")) { // a focused button still works
      // while linking Enter is the page's, never the form's: a focused radio or checkbox would submit the gold
      if (st.link.candidates.length) say("Choose the span to link to first: click it, or n / p, then Enter (Esc cancels).", "warn");
      else say("Nothing to link to yet: select its text and press its span key (Esc cancels).", "warn");
    }
    else if (key === "Escape" && st.link) cancelLink();
    else if (key === "Escape" && st.selected) select(null);
    else if ((key === "Delete" || key === "Backspace") && st.selected && !st.link) {
      const box = boxes().find((b) => b.value === st.selected);
      const span = spanOf(st.selected);
      if (box) { box.checked = false; follow(box); say(`${describe(span)} dropped from the gold (and its links). Check it below to keep it.`); }
    } else if (!st.link && goldLabel(key)) {
      // the annotation page's label keys choose the gold label here (they did nothing: only Tab to the radios did)
      const radio = goldLabel(key);
      radio.checked = true;
      say(`Gold label: ${radio.value}. Save with the button below (or Enter on it).`);
    } else if (label) mark(label.name); // no text selected: it says so (the key did nothing, and said nothing)
    else handled = false;
    if (handled) event.preventDefault();
  });
  fieldset.addEventListener("change", (event) => follow(event.target));
  linkset.addEventListener("change", (event) => follow(event.target));
  marker.hidden = false;
  draw();
}
