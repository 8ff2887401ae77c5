// Guidelines editor: one Preview button that toggles between the Markdown text and its preview
// (and reads "Edit" while the preview shows). The preview takes the editor's place, so it is
// never beside a stale text. It is rendered and sanitised on the server (POST
// .../guidelines/preview, JSON in and out, CSRF token in X-CSRFToken), so it shows exactly what
// annotators will see. Without this script the same button submits the form and the server
// answers with the page in preview mode (and an Edit button back).
const form = document.getElementById("guidelines-form");
if (form) {
  const toggle = document.getElementById("preview-guidelines");
  const editor = form.querySelector("textarea");
  const pane = document.getElementById("live-preview");
  const token = document.querySelector('meta[name="csrf-token"]')?.content || "";
  let rendering = 0;

  const show = (previewing) => {
    editor.hidden = previewing;
    pane.hidden = !previewing;
    toggle.textContent = previewing ? "Edit" : "Preview";
    toggle.value = previewing ? "edit" : "preview";
    toggle.setAttribute("aria-pressed", String(previewing));
  };

  const render = async () => {
    const mine = ++rendering; // a slow answer to an older click must not overwrite a newer one
    pane.textContent = "Rendering…";
    try {
      const response = await fetch(form.dataset.previewUrl, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRFToken": token, Accept: "application/json" },
        body: JSON.stringify({ text: editor.value }),
        credentials: "same-origin",
      });
      const body = await response.json();
      if (!response.ok) throw new Error(body.error || response.statusText);
      if (mine === rendering) pane.innerHTML = body.html || '<p class="empty">(empty)</p>'; // sanitised by the server (nh3)
    } catch (error) {
      if (mine === rendering) pane.textContent = `Preview failed: ${error.message}`;
    }
  };

  toggle.addEventListener("click", (event) => {
    event.preventDefault(); // the script does it in place; the submit is only the no-script path
    const previewing = !editor.hidden;
    show(previewing);
    if (previewing) render();
    else editor.focus();
  });
}
