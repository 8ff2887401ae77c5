/**
 * Which way a text reads, from its letters: the annotation page draws each sentence in its own direction (as the
 * review pages' dir="auto" does), and the article in the direction most of its letters take, so a Hebrew or Arabic
 * article reads right to left while an English one quoting Hebrew keeps its English layout.
 */

// Hebrew, Arabic, Syriac, Thaana, N'Ko, Samaritan, Mandaic and their presentation forms (and the older scripts past U+10800): the strong right-to-left letters
const RTL = /[\u0590-\u08FF\uFB1D-\uFDFF\uFE70-\uFEFF\u{10800}-\u{10FFF}\u{1E800}-\u{1EFFF}]/u;
const STRONG = /\p{L}/u;

/** "rtl" or "ltr" as the first strong letter says (HTML's dir="auto"); "ltr" with none. */
export function firstStrongDirection(text) {
  const at = text.search(STRONG);
  return at >= 0 && RTL.test(String.fromCodePoint(text.codePointAt(at))) ? "rtl" : "ltr";
}

/** "rtl" when more of the text's letters read right to left than left to right: a quote opening an article does not turn it. */
export function mainDirection(text) {
  let rtl = 0, ltr = 0;
  for (const ch of text) {
    if (!STRONG.test(ch)) continue;
    if (RTL.test(ch)) rtl++; else ltr++;
  }
  return rtl > ltr ? "rtl" : "ltr";
}
