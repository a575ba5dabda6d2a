// Progressive enhancement only: every page works without script.
document.addEventListener("DOMContentLoaded", () => {
  // Destructive forms ask first (data-confirm); the server does not depend on it.
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  }
  for (const all of document.querySelectorAll("input.select-all")) {
    all.addEventListener("change", () => {
      for (const box of document.querySelectorAll('input[name="ids"][form="bulk"]')) box.checked = all.checked;
    });
  }
});
