// Loaded in <head>, not deferred: mark the page as scripted at once so that widgets JavaScript
// enhances (the upload zone, the slider, the folded menu) are drawn in their final form from the
// start.
document.documentElement.classList.add("js");

document.addEventListener("DOMContentLoaded", () => {
  "use strict";

  // --- The menu button (phones) ------------------------------------------------------------
  // The stylesheet folds the links away below its breakpoint while aria-expanded is "false"
  // (and only on scripted pages: without JavaScript they wrap below the brand instead).
  const menuButton = document.querySelector(".menu-button");
  const nav = menuButton && document.getElementById(menuButton.getAttribute("aria-controls"));
  if (menuButton && nav) {
    const setOpen = (open) => menuButton.setAttribute("aria-expanded", open ? "true" : "false");
    const isOpen = () => menuButton.getAttribute("aria-expanded") === "true";
    menuButton.addEventListener("click", () => {
      setOpen(!isOpen());
      if (isOpen()) {
        const first = nav.querySelector("a, button");
        if (first) first.focus();
      }
    });
    document.addEventListener("keydown", (event) => {
      if (event.key !== "Escape" || !isOpen()) return;
      const inside = nav.contains(document.activeElement);
      setOpen(false);
      if (inside || document.activeElement === document.body) menuButton.focus();
    });
    // A tap outside the open menu closes it, as menus do.
    document.addEventListener("click", (event) => {
      if (isOpen() && !nav.contains(event.target) && !menuButton.contains(event.target)) {
        setOpen(false);
      }
    });
  }

  // --- Forms that destroy something ask first, in the page --------------------------------
  // <form data-confirm="Delete this photo?">: the first press of its button shows the question
  // with a confirming button (labelled like the one pressed) and Cancel, right there; only the
  // confirming button sends the form. No window.confirm(): it cannot be styled, reads badly on
  // phones and some browsers let people silence it. Without JavaScript the form simply posts.
  let asked = 0;
  document.querySelectorAll("form[data-confirm]").forEach((form) => {
    let confirmed = false;
    let box = null;
    let asker = null;

    function close(returnFocus) {
      if (!box) return;
      box.remove();
      box = null;
      if (asker) {
        asker.hidden = false;
        if (returnFocus) asker.focus();
      }
    }

    function ask(submitter) {
      if (box) {
        box.querySelector("[data-confirm-cancel]").focus();
        return;
      }
      asker = submitter || form.querySelector('[type="submit"]');
      asked += 1;
      box = document.createElement("div");
      box.className = "confirm-box";
      box.setAttribute("role", "group");
      const question = document.createElement("p");
      question.className = "confirm-question";
      question.id = `confirm-question-${asked}`;
      question.textContent = form.dataset.confirm;
      box.setAttribute("aria-labelledby", question.id);

      const yes = document.createElement("button");
      yes.type = "submit";
      yes.className = "btn btn-danger btn-small";
      yes.dataset.confirmYes = "";
      // The confirming button says what it does, like the button that was pressed.
      yes.textContent = form.dataset.confirmYes
        || (asker && (asker.textContent || asker.value || "").trim()) || "Yes";
      if (asker && asker.name) {
        yes.name = asker.name;
        yes.value = asker.value;
      }
      yes.addEventListener("click", () => { confirmed = true; });

      const no = document.createElement("button");
      no.type = "button";
      no.className = "btn btn-secondary btn-small";
      no.dataset.confirmCancel = "";
      no.textContent = "Cancel";
      no.addEventListener("click", () => close(true));

      const buttons = document.createElement("div");
      buttons.className = "confirm-actions";
      buttons.append(yes, no);
      box.append(question, buttons);
      box.addEventListener("keydown", (event) => {
        if (event.key === "Escape") {
          event.stopPropagation();
          close(true);
        }
      });
      if (asker) {
        asker.after(box);
        asker.hidden = true;
      } else {
        form.append(box);
      }
      // Focus on Cancel: the question is read out as the group's name, and a second press of
      // Enter cannot delete by accident.
      no.focus();
    }

    form.addEventListener("submit", (event) => {
      if (confirmed) {
        confirmed = false; // pressing Back restores the page: ask again next time
        return;
      }
      event.preventDefault();
      ask(event.submitter);
    });
    window.addEventListener("pageshow", () => { close(false); confirmed = false; });
  });
});
