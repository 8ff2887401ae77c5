// Link mode, as the annotation page and the adjudication page share it: with a span chosen, the relation's
// key (or button) starts linking; the span at the other end is clicked, or chosen with n / p (nearest first:
// those sharing a sentence with the anchor, then by distance in characters) and Enter; Esc cancels. Only the
// rules live here; each page keeps its own spans ({id, label, start, end}), draws the state, and says what
// happened in its own words.

/** The relation type named `type` among the schema's, or undefined. */
export function relationNamed(relationTypes, type) {
  return (relationTypes || []).find((r) => r.name === type);
}

/** A relation in the words of the page, its spans' labels ("link a QUOTE to a SOURCE"), not the schema's name for it
 * ("attributed_to"), which is data: the exports', the API's and the schema editor's. */
export function linkPhrase(rel) {
  return `link a ${rel.from.join("/")} to a ${rel.to.join("/")}`;
}

/** The labels a span labelled `label` links to with `rel` ("SOURCE" for a QUOTE), joined for a message. */
export function linksTo(rel, label) {
  return wantedLabels(rel, rel.from.includes(label)).join("/");
}

/** Whether a span with this label can take part in `rel` (at either end). */
export function canLink(rel, label) {
  return Boolean(rel && (rel.from.includes(label) || rel.to.includes(label)));
}

/** The labels the other end of a link started from `fromSide` must have. */
export function wantedLabels(rel, fromSide) {
  return fromSide ? rel.to : rel.from;
}

/**
 * Start linking from `anchor` with `rel`: {link: {type, fromSide, anchor, candidates, at}} with the candidates
 * (ids) nearest first, or null when the anchor's label takes no part in `rel`.
 * `sentencesOf(span)` gives the first and last sentence a span touches.
 */
export function startLinking(rel, anchor, spans, sentencesOf) {
  if (!canLink(rel, anchor.label)) return null;
  const fromSide = rel.from.includes(anchor.label);
  const wanted = wantedLabels(rel, fromSide);
  const candidates = nearestFirst(anchor, spans.filter((x) => x.id !== anchor.id && wanted.includes(x.label)), sentencesOf).map((x) => x.id);
  return { type: rel.name, fromSide, anchor: anchor.id, candidates, at: -1 };
}

/** Link candidates as n proposes them: those sharing a sentence with the anchor first, then by distance in characters. */
export function nearestFirst(anchor, spans, sentencesOf) {
  const [a0, a1] = sentencesOf(anchor);
  const key = (x) => {
    const [b0, b1] = sentencesOf(x);
    const gap = Math.max(0, Math.max(anchor.start, x.start) - Math.min(anchor.end, x.end));
    return [b0 <= a1 && a0 <= b1 ? 0 : 1, gap, x.start];
  };
  const keyed = spans.map((x) => [key(x), x]);
  keyed.sort(([k1], [k2]) => k1[0] - k2[0] || k1[1] - k2[1] || k1[2] - k2[2]);
  return keyed.map(([, x]) => x);
}

/** Choose the next (step 1) or previous (-1) candidate, round the list; its id, or null when there is none. */
export function cycleCandidate(link, step) {
  if (!link.candidates.length) return null;
  link.at = (link.at + step + link.candidates.length) % link.candidates.length;
  return link.candidates[link.at];
}

/** The candidate chosen with n / p (what Enter links), or null. */
export function chosenCandidate(link) {
  return link && link.at >= 0 ? link.candidates[link.at] : null;
}

/** Of the spans under a click, the one to link to: a candidate first, else the first (whose label then explains the refusal). */
export function clickedTarget(link, ids) {
  return ids.find((id) => link.candidates.includes(id)) ?? ids[0] ?? null;
}

/** The link's ends {from, to} (ids) when `target` may end it, else null. */
export function linkEnds(rel, link, target) {
  if (!target || !wantedLabels(rel, link.fromSide).includes(target.label)) return null;
  return link.fromSide ? { from: link.anchor, to: target.id } : { from: target.id, to: link.anchor };
}
