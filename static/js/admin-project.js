// Project form: show only the inputs of the chosen schema source (preset, paste, upload).
// Without this script every input stays visible and the server still uses only the chosen one.
const form = document.getElementById("project-form");
if (form) {
  document.documentElement.classList.add("js");
  const blocks = { preset: ".source-preset", paste: ".source-paste", upload: ".source-upload" };
  const radios = form.querySelectorAll('input[name="schema_source"]');
  const sync = () => {
    const chosen = form.querySelector('input[name="schema_source"]:checked');
    for (const [source, selector] of Object.entries(blocks)) {
      const block = form.querySelector(selector);
      if (block) block.hidden = !chosen || chosen.value !== source;
    }
  };
  radios.forEach((radio) => radio.addEventListener("change", sync));
  sync();
}
