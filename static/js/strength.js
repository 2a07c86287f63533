// Strength sliders (templates/colorize/includes/strength_field.html): the number beside the
// slider, and a spoken value that says which end it is near ("0.30, towards muted").
(function () {
  "use strict";
  document.querySelectorAll(".strength-input").forEach((input) => {
    const output = input.parentElement.querySelector(".strength-value");
    const [low, high] = (input.dataset.ends || "|").split("|");
    function show() {
      const min = Number(input.min), max = Number(input.max), value = Number(input.value);
      const towards = value - min < (max - min) / 2 ? low : high;
      if (output) output.textContent = input.value;
      input.setAttribute("aria-valuetext", `${input.value}, towards ${towards}`);
    }
    input.addEventListener("input", show);
    show();
  });
})();
