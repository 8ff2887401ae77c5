// Span texts in messages and lists, shortened and in curly quotes: the annotation page and the adjudication page
// quote them alike, through here (the adjudication page's server-drawn lists by the same rule: web/review.py's
// `quoted` filter). Pure functions on strings.

/** The text on one line (runs of white space made one space), cut to `max` characters with "…" (never inside a
 * surrogate pair). */
export function excerpt(text, max = 60) {
  const flat = text.replace(/\s+/g, " ").trim();
  if (flat.length <= max) return flat;
  const chars = Array.from(flat); // never cut a surrogate pair
  return chars.length <= max ? flat : chars.slice(0, max - 1).join("") + "…";
}

const OPENING = "“\"«„‘‚‹";
const CLOSING = "”\"»“’‘›";

/** The excerpt in curly quotes, but not twice: a text that opens (or closes) with a quote mark of its own keeps
 * that one instead of ours (a quote's span often takes its marks in: “Nobody wants to”, not ““Nobody wants to””).
 * An apostrophe (’) closes only a text that opened with ‘, as "the players’" does not. */
export function quoted(text, max = 60) {
  const shown = excerpt(text, max);
  const first = shown.charAt(0);
  const opens = OPENING.includes(first);
  const last = shown.charAt(shown.length - 1);
  const closes = shown.length > 1 && CLOSING.includes(last) && (last !== "’" || first === "‘");
  return `${opens ? "" : "“"}${shown}${closes ? "" : "”"}`;
}
