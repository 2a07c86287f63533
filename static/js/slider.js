// Before/after slider: the top image (.ba-before) is clipped at --pos, the divider is an ARIA
// slider (arrow keys, Page Up/Down, Home/End) and can be dragged with mouse, pen or finger.
// With data-drag-anywhere a press anywhere on the picture moves the divider too (not on result
// pages that take colour hints, where a click on the picture places a colour point).
(function () {
  "use strict";

  function setUp(slider) {
    const handle = slider.querySelector(".ba-handle");
    if (!handle) return;
    let position = 50;
    let dragging = null;

    function labels() {
      const left = slider.querySelector(".ba-label-left");
      const right = slider.querySelector(".ba-label-right");
      return [left ? left.textContent.trim() : "left", right ? right.textContent.trim() : "right"];
    }

    function set(value) {
      position = Math.max(0, Math.min(100, value));
      slider.style.setProperty("--pos", `${position}%`);
      const rounded = Math.round(position);
      const [left, right] = labels();
      handle.setAttribute("aria-valuenow", String(rounded));
      handle.setAttribute("aria-valuetext", `${rounded}% ${left}, ${100 - rounded}% ${right}`);
    }

    function fromPointer(event) {
      const box = slider.getBoundingClientRect();
      return ((event.clientX - box.left) / box.width) * 100;
    }

    function start(event, target) {
      if (event.button !== undefined && event.button !== 0) return;
      event.preventDefault();
      dragging = target;
      target.setPointerCapture(event.pointerId);
      set(fromPointer(event));
      handle.focus({ preventScroll: true });
    }

    handle.addEventListener("pointerdown", (event) => { event.stopPropagation(); start(event, handle); });
    if (slider.hasAttribute("data-drag-anywhere")) {
      slider.addEventListener("pointerdown", (event) => start(event, slider));
    }
    [handle, slider].forEach((target) => {
      target.addEventListener("pointermove", (event) => { if (dragging === target) set(fromPointer(event)); });
      ["pointerup", "pointercancel", "lostpointercapture"].forEach((type) => {
        target.addEventListener(type, () => { if (dragging === target) dragging = null; });
      });
    });

    handle.addEventListener("keydown", (event) => {
      const steps = {
        ArrowLeft: -2, ArrowDown: -2, ArrowRight: 2, ArrowUp: 2, PageDown: -10, PageUp: 10,
      };
      if (event.key in steps) set(position + steps[event.key] * (event.shiftKey ? 5 : 1));
      else if (event.key === "Home") set(0);
      else if (event.key === "End") set(100);
      else return;
      event.preventDefault();
    });
    slider.refreshLabels = () => set(position);
    set(Number(handle.getAttribute("aria-valuenow")) || 50);
  }

  document.querySelectorAll("[data-slider]").forEach(setUp);

  // The compare page: two pickers choose what the slider shows, without reloading.
  const form = document.getElementById("compare-form");
  if (!form) return;
  const slider = document.querySelector(".compare-viewer [data-slider]");
  const leftSelect = document.getElementById("left-side");
  const rightSelect = document.getElementById("right-side");
  const leftImage = document.getElementById("compare-left");
  const rightImage = document.getElementById("compare-right");

  function show() {
    const left = leftSelect.selectedOptions[0];
    const right = rightSelect.selectedOptions[0];
    leftImage.src = left.dataset.url;
    rightImage.src = right.dataset.url;
    leftImage.alt = `Left: ${left.textContent.trim()}`;
    rightImage.alt = `Right: ${right.textContent.trim()}`;
    slider.querySelector('[data-role="left-label"]').textContent = left.textContent.trim();
    slider.querySelector('[data-role="right-label"]').textContent = right.textContent.trim();
    if (slider.refreshLabels) slider.refreshLabels();
    const query = new URLSearchParams({ left: left.value, right: right.value });
    window.history.replaceState(null, "", `?${query}#viewer`);
  }

  leftSelect.addEventListener("change", show);
  rightSelect.addEventListener("change", show);
  form.addEventListener("submit", (event) => { event.preventDefault(); show(); });
  document.querySelectorAll("[data-compare-left][data-compare-right]").forEach((link) => {
    link.addEventListener("click", (event) => {
      event.preventDefault();
      leftSelect.value = link.dataset.compareLeft;
      rightSelect.value = link.dataset.compareRight;
      show();
      document.getElementById("viewer").scrollIntoView({ behavior: "smooth", block: "start" });
      slider.querySelector(".ba-handle").focus({ preventScroll: true });
    });
  });
})();
