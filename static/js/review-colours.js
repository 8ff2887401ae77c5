// Review pages: colour label badges, swatches and span highlights from the project's schema.
// The colour comes in a data-color attribute; CSP forbids inline style attributes, so it is
// set here through the CSSOM as the custom property --c (review.css uses it).
const COLOUR = /^#[0-9a-fA-F]{6}$/;

export function applyColours(root = document) {
  for (const el of root.querySelectorAll("[data-color]")) {
    const colour = el.dataset.color;
    if (COLOUR.test(colour)) el.style.setProperty("--c", colour);
  }
}

applyColours();
