/**
 * Which way a text reads, from its letters: the annotation page draws each sentence, and the article, in the direction
 * most of their letters take, so a Hebrew or Arabic article reads right to left while an English one quoting Hebrew
 * keeps its English layout, and a Hebrew sentence opening with a Latin name ("CNN") still reads right to left, where
 * its first strong letter (HTML's dir="auto") would turn it.
 */

// Hebrew, Arabic, Syriac, Thaana, N'Ko, Samaritan, Mandaic and their presentation forms (and the older scripts past U+10800): the strong right-to-left letters
const RTL = /[\u0590-\u08FF\uFB1D-\uFDFF\uFE70-\uFEFF\u{10800}-\u{10FFF}\u{1E800}-\u{1EFFF}]/u;
const STRONG = /\p{L}/u;

/** "rtl" when more of the text's letters read right to left than left to right: a quote opening an article does not turn it. */
export function mainDirection(text) {
  let rtl = 0, ltr = 0;
  for (const ch of text) {
    if (!STRONG.test(ch)) continue;
    if (RTL.test(ch)) rtl++; else ltr++;
  }
  return rtl > ltr ? "rtl" : "ltr";
}
