// A share link's "Copy link" button (hidden until this script shows it): copies with the
// Clipboard API where the browser offers it (secure pages); where it does not, or refuses, the
// link is selected in its visible field for the visitor to copy by hand.
(function () {
  "use strict";

  document.querySelectorAll("button[data-copy]").forEach((button) => {
    const field = document.getElementById(button.dataset.copy);
    const status = document.getElementById(button.dataset.copyStatus || "");
    if (!field) return;
    const say = (text) => { if (status) status.textContent = text; };
    button.hidden = false;
    button.addEventListener("click", async () => {
      field.focus();
      field.select();
      if (navigator.clipboard && window.isSecureContext) {
        try {
          await navigator.clipboard.writeText(field.value);
          say("Link copied: paste it wherever you like.");
          return;
        } catch (error) {
          // Refused (no permission, page not focused): the selection below still helps.
        }
      }
      say("The link is selected: press Ctrl+C (⌘C on a Mac) to copy it.");
    });
  });

  // A click in the field selects the whole link, ready to copy.
  document.querySelectorAll("input[data-select-all]").forEach((field) => {
    field.addEventListener("focus", () => field.select());
  });
})();
