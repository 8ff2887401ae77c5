// The ONE place where offsets change units.
//
// The server stores Unicode code-point offsets into the article's original text
// (Python's text[start:end]); the DOM and JS strings count UTF-16 code units, in
// which every character outside the Basic Multilingual Plane (emoji, flags,
// many CJK extensions) takes two units. An OffsetMap is built once per article
// text; everything the page receives from the server is converted to UTF-16 on
// the way in (toUtf16), everything it sends is converted back (toCodePoint).
// Grapheme boundaries (what a reader sees as one character: 👍🏽, 🇺🇦, é written
// as e + U+0301) are here too, so that moving a span edge by "one character"
// never splits one.

const isHigh = (c) => c >= 0xd800 && c <= 0xdbff;
const isLow = (c) => c >= 0xdc00 && c <= 0xdfff;

export class OffsetMap {
  /** @param {string} text the article's original text, exactly as the server sent it */
  constructor(text) {
    this.text = text;
    this.length16 = text.length;
    let pairs = 0;
    for (let i = 0; i + 1 < text.length; i++) {
      if (isHigh(text.charCodeAt(i)) && isLow(text.charCodeAt(i + 1))) { pairs++; i++; }
    }
    this.lengthCp = text.length - pairs;
    this.identity = pairs === 0; // the common case: no astral characters, both units agree
    if (this.identity) return;
    // cpToU16[cp] = UTF-16 index where code point cp starts (and lengthCp -> length16)
    // u16ToCp[u]  = code point that contains UTF-16 unit u (the pair's first cp for a low surrogate)
    this.cpToU16 = new Int32Array(this.lengthCp + 1);
    this.u16ToCp = new Int32Array(this.length16 + 1);
    let cp = 0;
    for (let i = 0; i < text.length; i++) {
      this.cpToU16[cp] = i;
      this.u16ToCp[i] = cp;
      if (isHigh(text.charCodeAt(i)) && i + 1 < text.length && isLow(text.charCodeAt(i + 1))) {
        this.u16ToCp[i + 1] = cp;
        i++;
      }
      cp++;
    }
    this.cpToU16[this.lengthCp] = this.length16;
    this.u16ToCp[this.length16] = this.lengthCp;
  }

  /** Code-point offset (server) -> UTF-16 index (DOM). Out-of-range values are clamped. */
  toUtf16(cp) {
    const c = Math.max(0, Math.min(this.lengthCp, Math.trunc(cp)));
    return this.identity ? c : this.cpToU16[c];
  }

  /**
   * UTF-16 index (DOM) -> code-point offset (server). An index between the two
   * halves of a surrogate pair is not a character boundary: "floor" moves it to
   * the pair's start (use for a span's start), "ceil" past the pair (for an end).
   */
  toCodePoint(u16, round = "floor") {
    const u = Math.max(0, Math.min(this.length16, Math.trunc(u16)));
    if (this.identity) return u;
    const cp = this.u16ToCp[u];
    if (this.cpToU16[cp] === u) return cp;
    return round === "ceil" ? cp + 1 : cp;
  }

  /** True when a UTF-16 index does not split a surrogate pair. */
  isCodePointBoundary(u16) {
    if (this.identity) return u16 >= 0 && u16 <= this.length16;
    return u16 >= 0 && u16 <= this.length16 && this.cpToU16[this.u16ToCp[u16]] === u16;
  }

  /** Python's text[start:end] for code-point offsets, as a JS string. */
  sliceCp(start, end) {
    return this.text.slice(this.toUtf16(start), this.toUtf16(end));
  }

  /** Sorted UTF-16 indices of grapheme-cluster boundaries (0 and length16 included), built on first use. */
  graphemeBoundaries() {
    if (this._graphemes) return this._graphemes;
    const out = [];
    if (typeof Intl !== "undefined" && Intl.Segmenter) {
      const seg = new Intl.Segmenter(undefined, { granularity: "grapheme" });
      for (const s of seg.segment(this.text)) out.push(s.index);
    } else {
      for (let i = 0; i < this.length16; i++) if (this.isCodePointBoundary(i)) out.push(i);
    }
    out.push(this.length16);
    if (out[0] !== 0) out.unshift(0);
    this._graphemes = Int32Array.from(out);
    return this._graphemes;
  }

  /** The grapheme boundary `steps` characters after (steps > 0) or before (< 0) a UTF-16 index. */
  stepGrapheme(u16, steps) {
    const b = this.graphemeBoundaries();
    let lo = 0, hi = b.length - 1;
    while (lo < hi) { // first boundary >= u16
      const mid = (lo + hi) >> 1;
      if (b[mid] < u16) lo = mid + 1; else hi = mid;
    }
    let i = lo;
    if (b[i] !== u16) { // u16 is inside a cluster: its end (or start) is the first step
      if (steps > 0) steps--;
      else if (steps < 0) { i--; steps++; }
    }
    i = Math.max(0, Math.min(b.length - 1, i + steps));
    return b[i];
  }

  /**
   * The words' starts and ends (sorted UTF-16 indices), built on first use: Unicode word segmentation (a word is a
   * segment with letters or digits, so punctuation and spaces are stepped over; CJK splits into dictionary words),
   * or runs of non-space where Intl.Segmenter is missing.
   */
  wordEdges() {
    if (this._words) return this._words;
    const starts = [], ends = [];
    if (typeof Intl !== "undefined" && Intl.Segmenter) {
      for (const s of new Intl.Segmenter(undefined, { granularity: "word" }).segment(this.text)) {
        if (!s.isWordLike && !/[\p{L}\p{N}\p{Extended_Pictographic}]/u.test(s.segment)) continue; // an emoji is a word too
        starts.push(s.index);
        ends.push(s.index + s.segment.length);
      }
    } else {
      for (const m of this.text.matchAll(/\S+/g)) { starts.push(m.index); ends.push(m.index + m[0].length); }
    }
    this._words = { starts: Int32Array.from(starts), ends: Int32Array.from(ends) };
    return this._words;
  }

  /**
   * Word by word from a UTF-16 index, inside [lo, hi]: an edge "start" steps to word starts, an edge "end" to word
   * ends (steps > 0 right, < 0 left). With no further word inside [lo, hi], it stops at lo or hi.
   */
  stepWord(u16, steps, edge, lo = 0, hi = this.length16) {
    const b = edge === "start" ? this.wordEdges().starts : this.wordEdges().ends;
    let pos = u16;
    for (let n = Math.abs(steps); n > 0; n--) {
      let next = steps > 0 ? hi : lo;
      if (steps > 0) { for (const x of b) if (x > pos) { next = Math.min(x, hi); break; } }
      else { for (let i = b.length - 1; i >= 0; i--) if (b[i] < pos) { next = Math.max(b[i], lo); break; } }
      pos = next;
    }
    return pos;
  }
}
