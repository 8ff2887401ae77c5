// Guidelines editor: a Write / Preview tab pair. The preview is rendered and sanitised on the
// server (POST .../guidelines/preview, JSON in and out, CSRF token in X-CSRFToken), so it shows
// exactly what annotators will see. Without this script the "Preview" submit button does the same.
const form = document.getElementById("guidelines-form");
if (form) {
  const tabs = form.querySelector(".editor-tabs");
  const write = document.getElementById("tab-write");
  const preview = document.getElementById("tab-preview");
  const editor = form.querySelector("textarea");
  const pane = document.getElementById("live-preview");
  const token = document.querySelector('meta[name="csrf-token"]')?.content || "";

  const select = (showPreview) => {
    write.classList.toggle("active", !showPreview);
    preview.classList.toggle("active", showPreview);
    write.setAttribute("aria-selected", String(!showPreview));
    preview.setAttribute("aria-selected", String(showPreview));
    editor.hidden = showPreview;
    pane.hidden = !showPreview;
  };

  const render = async () => {
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
      pane.innerHTML = body.html || '<p class="empty">(empty)</p>'; // sanitised by the server (nh3)
    } catch (error) {
      pane.textContent = `Preview failed: ${error.message}`;
    }
  };

  tabs.hidden = false;
  write.addEventListener("click", () => { select(false); editor.focus(); });
  preview.addEventListener("click", () => { select(true); render(); });
}
