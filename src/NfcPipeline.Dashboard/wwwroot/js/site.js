// Progressive enhancement only: every page works without script.
document.addEventListener("DOMContentLoaded", () => {
  for (const all of document.querySelectorAll("input.select-all")) {
    all.addEventListener("change", () => {
      for (const box of document.querySelectorAll('input[name="ids"][form="bulk"]')) box.checked = all.checked;
    });
  }
});
