// The server's pages draw an article's sentences with dir="auto", which goes by the first strong letter: a Hebrew
// sentence opening with "CNN" read left to right. This gives each such element the direction most of its letters
// take (direction.js, the annotation page's rule), so a sentence reads the same way on every page; without scripts
// dir="auto" stays.
import { mainDirection } from "./direction.js";

for (const el of document.querySelectorAll('[dir="auto"]')) el.dir = mainDirection(el.textContent);
