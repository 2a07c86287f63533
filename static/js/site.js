// Loaded in <head>, not deferred: mark the page as scripted at once so that widgets JavaScript
// enhances (the upload zone, the slider) are drawn in their final form from the start.
document.documentElement.classList.add("js");

document.addEventListener("DOMContentLoaded", () => {
  // Forms that destroy something ask first: <form data-confirm="Delete this photo?">.
  document.querySelectorAll("form[data-confirm]").forEach((form) => {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });
});
