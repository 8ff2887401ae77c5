// How the article text is cut into pieces for display: at every sentence and
// span boundary, so each piece lies in at most one sentence and under a fixed
// set of spans. Nested and overlapping spans therefore all stay visible: each
// piece is drawn with every span that covers it. Pure functions on UTF-16
// offsets (the caller converts with offsets.js), tested in the browser tests.

/**
 * Give each span a lane (0, 1, 2 …) so that spans that overlap never share one:
 * a lane is drawn as its own underline. Longer spans come first at equal starts,
 * so an outer span sits on lane 0 and what is nested in it above.
 * @param {{id: string, s: number, e: number}[]} spans
 * @returns {Map<string, number>}
 */
export function assignLanes(spans) {
  const sorted = spans.filter((x) => x.e > x.s).sort((a, b) => a.s - b.s || b.e - a.e || (a.id < b.id ? -1 : 1));
  const lanes = new Map();
  const active = []; // {e, lane}
  for (const span of sorted) {
    for (let i = active.length - 1; i >= 0; i--) if (active[i].e <= span.s) active.splice(i, 1);
    const used = new Set(active.map((a) => a.lane));
    let lane = 0;
    while (used.has(lane)) lane++;
    lanes.set(span.id, lane);
    active.push({ e: span.e, lane });
  }
  return lanes;
}

/**
 * The article as a flat list of tokens in document order:
 *   {type: "text", start, end, sentence, spans: [ids]}   a run of text (sentence -1 between sentences)
 *   {type: "open", span, pos}                            where a span starts (its label tag goes here)
 *   {type: "close", span, pos}                           where a span ends
 *   {type: "chip", sentence, pos}                        the end of a sentence (its label goes here)
 * At one position, closings come first, then the sentence end, then openings
 * (outer spans before the ones nested in them).
 * @param {number} length  text length in UTF-16 units
 * @param {{index: number, s: number, e: number}[]} sentences  sorted, not overlapping
 * @param {{id: string, s: number, e: number}[]} spans
 */
export function tokenize(length, sentences, spans) {
  const valid = spans.filter((x) => x.s >= 0 && x.e <= length && x.e > x.s);
  const cuts = new Set([0, length]);
  for (const s of sentences) { cuts.add(s.s); cuts.add(s.e); }
  for (const x of valid) { cuts.add(x.s); cuts.add(x.e); }
  const points = [...cuts].filter((p) => p >= 0 && p <= length).sort((a, b) => a - b);
  const opens = new Map();
  const closes = new Map();
  for (const x of valid) {
    if (!opens.has(x.s)) opens.set(x.s, []);
    opens.get(x.s).push(x);
    if (!closes.has(x.e)) closes.set(x.e, []);
    closes.get(x.e).push(x);
  }
  const sentenceEnds = new Map(sentences.map((s) => [s.e, s.index]));
  const tokens = [];
  const active = new Set();
  let si = 0; // sentence pointer
  for (let k = 0; k < points.length; k++) {
    const p = points[k];
    for (const x of (closes.get(p) || []).sort((a, b) => b.s - a.s)) { // inner first
      tokens.push({ type: "close", span: x.id, pos: p });
      active.delete(x.id);
    }
    if (sentenceEnds.has(p)) tokens.push({ type: "chip", sentence: sentenceEnds.get(p), pos: p });
    for (const x of (opens.get(p) || []).sort((a, b) => b.e - a.e)) { // outer first
      tokens.push({ type: "open", span: x.id, pos: p });
      active.add(x.id);
    }
    const next = points[k + 1];
    if (next === undefined || next === p) continue;
    while (si < sentences.length && sentences[si].e <= p) si++;
    const inSentence = si < sentences.length && sentences[si].s <= p && p < sentences[si].e;
    tokens.push({ type: "text", start: p, end: next, sentence: inSentence ? sentences[si].index : -1, spans: [...active] });
  }
  return tokens;
}
