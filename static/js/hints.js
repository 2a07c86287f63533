// Colour-point picker for models that take hints: click the result image to add a point
// (stored in the photo's own pixel coordinates), pick its colour, remove it, run again.
(function () {
  const form = document.getElementById("hint-form");
  if (!form) return;
  const image = document.querySelector(form.dataset.target);
  const field = document.getElementById("hints-field");
  const list = document.getElementById("hint-list");
  let hints = JSON.parse(field.value || "[]");

  function toHex(r, g, b) {
    return "#" + [r, g, b].map((v) => v.toString(16).padStart(2, "0")).join("");
  }

  function colourAt(x, y) {
    // Start from the colour the photo has there now: the user adjusts rather than starts blank.
    const canvas = document.createElement("canvas");
    canvas.width = 1; canvas.height = 1;
    const context = canvas.getContext("2d");
    context.drawImage(image, x, y, 1, 1, 0, 0, 1, 1);
    const [r, g, b] = context.getImageData(0, 0, 1, 1).data;
    return toHex(r, g, b);
  }

  function render() {
    field.value = JSON.stringify(hints);
    list.replaceChildren();
    hints.forEach((hint, index) => {
      const item = document.createElement("li");
      const label = document.createElement("label");
      label.textContent = `Point at ${Math.round(hint[0])}, ${Math.round(hint[1])}: `;
      const picker = document.createElement("input");
      picker.type = "color";
      picker.value = hint[2];
      picker.setAttribute("aria-label", `Colour of point ${index + 1}`);
      picker.addEventListener("input", () => { hint[2] = picker.value; field.value = JSON.stringify(hints); });
      const remove = document.createElement("button");
      remove.type = "button";
      remove.textContent = "Remove";
      remove.addEventListener("click", () => { hints.splice(index, 1); render(); });
      label.appendChild(picker);
      item.append(label, " ", remove);
      list.appendChild(item);
    });
  }

  image.style.cursor = "crosshair";
  image.addEventListener("click", (event) => {
    const box = image.getBoundingClientRect();
    const x = (event.clientX - box.left) * (image.naturalWidth / box.width);
    const y = (event.clientY - box.top) * (image.naturalHeight / box.height);
    hints.push([Math.round(x), Math.round(y), colourAt(x, y)]);
    render();
  });
  render();
})();
