// What suggesters proposed for this article that this annotator has not decided yet
// (GET /api/articles/<id>/suggestions), and what one decision takes.
//
// Suggestions are nobody's annotations: the page draws them as ghosts until the
// annotator accepts them, which makes them the annotator's own (through the save
// queue, like any edit), or rejects them. Pure: no DOM, offsets in code points as
// the server sends them (the caller converts for display with offsets.js).

export class SuggestionSet {
  /** @param {object|null} data the API's answer; null or `enabled: false`: nothing to show */
  constructor(data) {
    this.enabled = Boolean(data && data.enabled);
    this.labels = new Map(); // id -> {id, sentence, label, score, suggester}
    this.spans = new Map(); // id -> {id, label, start, end, score, suggester}
    this.relations = new Map(); // id -> {id, type, from, to, score, suggester}
    this.accepted = new Map(); // span suggestion id -> {id, label, start, end}: taken already, named by a pending link
    if (!this.enabled) return;
    for (const x of data.labels || []) this.labels.set(x.id, x);
    for (const x of data.spans || []) this.spans.set(x.id, x);
    for (const x of data.linked_spans || []) this.accepted.set(x.id, x);
    for (const x of data.relations || []) if (this.endOf(x.from) && this.endOf(x.to)) this.relations.set(x.id, x);
  }

  get size() { return this.labels.size + this.spans.size + this.relations.size; }

  /** A link's end: a pending span suggestion, or one accepted already. */
  endOf(id) { return this.spans.get(id) || this.accepted.get(id) || null; }

  has(id) { return this.labels.has(id) || this.spans.has(id) || this.relations.has(id); }

  /**
   * What the sentence keys act on: the sentence's label suggestions, the span suggestions that start
   * in it, and the links among them (a link may also end at a span accepted before: it is
   * "among them" once both its ends are the annotator's). `sentenceOf(cp)` is the sentence index of
   * a code-point offset.
   */
  inSentence(index, sentenceOf) {
    const labels = [...this.labels.values()].filter((x) => x.sentence === index);
    const spans = [...this.spans.values()].filter((x) => sentenceOf(x.start) === index).sort((a, b) => a.start - b.start || a.end - b.end);
    const here = new Set(spans.map((x) => x.id));
    const ok = (id) => here.has(id) || this.accepted.has(id);
    const relations = [...this.relations.values()].filter((r) => (here.has(r.from) || here.has(r.to)) && ok(r.from) && ok(r.to));
    return { labels, spans, relations };
  }

  /** The links that name a span suggestion (pending or accepted). */
  linksOf(id) { return [...this.relations.values()].filter((r) => r.from === id || r.to === id); }

  /**
   * Forget decided suggestions. An accepted span stays known as accepted while a pending link
   * names it; a rejected span takes its links with it (as the server does).
   */
  drop(ids, decision) {
    for (const id of ids) {
      this.labels.delete(id);
      this.relations.delete(id);
      const span = this.spans.get(id);
      if (!span) continue;
      this.spans.delete(id);
      if (decision === "accepted") this.accepted.set(id, span);
      else for (const r of this.linksOf(id)) this.relations.delete(r.id);
    }
    for (const [id] of this.accepted) if (!this.linksOf(id).length) this.accepted.delete(id);
  }
}

/**
 * The save-queue operation that accepts `chosen` ({labels, spans, relations} of suggestions), with
 * what the page shows meanwhile: each span and link under an id of the page's own (the server's
 * answer names the ids it chose, and the page takes them over). A link brings its spans; a span
 * the annotator already has (same label and offsets) is used, not made twice.
 * @param {SuggestionSet} set
 * @param {{labels: object[], spans: object[], relations: object[]}} chosen
 * @param {object[]} ownSpans the annotator's spans {id, label, start, end}
 * @param {() => string} newId
 */
export function acceptOperation(set, chosen, ownSpans, newId) {
  const items = { labels: [], spans: [], relations: [] };
  const local = new Map(); // span suggestion id -> the page's span id
  const same = (x) => ownSpans.find((o) => o.label === x.label && o.start === x.start && o.end === x.end);
  const takeSpan = (x) => {
    if (local.has(x.id)) return local.get(x.id);
    const own = same(x);
    const id = own ? own.id : newId();
    if (!own) items.spans.push({ id, suggestion: x.id, label: x.label, start: x.start, end: x.end });
    local.set(x.id, id);
    return id;
  };
  for (const x of chosen.spans) takeSpan(x);
  for (const r of chosen.relations) {
    const from = set.endOf(r.from);
    const to = set.endOf(r.to);
    if (!from || !to) continue;
    items.relations.push({ id: newId(), suggestion: r.id, type: r.type, from: takeSpan(from), to: takeSpan(to) });
  }
  for (const l of chosen.labels) items.labels.push({ suggestion: l.id, sentence: l.sentence, label: l.label });
  const ids = [...chosen.labels, ...chosen.spans, ...chosen.relations].map((x) => x.id);
  return { op: "accept", ids, items };
}

/** The save-queue operation that rejects these suggestions (a span's links go with it). */
export function rejectOperation(chosen) {
  return { op: "reject", ids: [...chosen.labels, ...chosen.spans, ...chosen.relations].map((x) => x.id) };
}

/** "name/version, score 0.87": what a ghost's title says about where it comes from. */
export function provenance(x) {
  return `${x.suggester}, score ${Number(x.score).toFixed(2)}`;
}
