// Article-level labels (a stance, a document class): radios for a group that takes one value,
// checkboxes for a group that takes several, shown once above the article. Every change is an
// operation in the page's save queue ("article-label" or, when nothing is chosen, "article-unlabel"), to which
// annotate.js adds the version of the group's answer the page saw.

/** The values chosen in a group's fieldset, sorted (the server stores them sorted). */
function chosen(fieldset) {
  return Array.from(fieldset.querySelectorAll("input:checked"), (i) => i.value).filter((v) => v !== "").sort();
}

/** Show `labels` (group name -> list of values) in the form. */
export function showArticleLabels(form, labels) {
  if (!form) return;
  for (const fieldset of form.querySelectorAll("fieldset[data-group]")) {
    const values = labels.get(fieldset.dataset.group) || [];
    for (const input of fieldset.querySelectorAll("input")) {
      input.checked = input.value === "" ? values.length === 0 : values.includes(input.value);
    }
  }
}

/** Turn each change in the form into an operation given to `change`. */
export function watchArticleLabels(form, change) {
  if (!form) return;
  form.addEventListener("change", (event) => {
    const fieldset = event.target.closest("fieldset[data-group]");
    if (!fieldset) return;
    const values = chosen(fieldset);
    const group = fieldset.dataset.group;
    change(values.length ? { op: "article-label", group, values } : { op: "article-unlabel", group });
  });
}
