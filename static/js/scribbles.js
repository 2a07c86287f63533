// Repaint a result: draw colour strokes on a copy of it (colour picker, brush size, eraser,
// undo), then "Apply" sends them, in the photo's own pixels, to be spread along its edges.
(function () {
  const form = document.getElementById("scribble-form");
  if (!form) return;
  const canvas = document.getElementById("scribble-canvas");
  const field = document.getElementById("strokes-field");
  const colour = document.getElementById("scribble-colour");
  const size = document.getElementById("scribble-size");
  const eraser = document.getElementById("scribble-eraser");
  const undo = document.getElementById("scribble-undo");
  const apply = document.getElementById("scribble-apply");
  const context = canvas.getContext("2d");
  const photo = new Image();
  let strokes = [];
  let current = null;

  // Brush sizes are in screen pixels; strokes are stored in the photo's pixels.
  const scale = () => photo.naturalWidth / canvas.getBoundingClientRect().width;

  function redraw() {
    context.drawImage(photo, 0, 0, canvas.width, canvas.height);
    const toCanvas = canvas.width / photo.naturalWidth;
    for (const stroke of strokes) {
      context.strokeStyle = context.fillStyle = stroke.color;
      context.lineWidth = stroke.width * toCanvas;
      context.lineCap = context.lineJoin = "round";
      context.beginPath();
      stroke.points.forEach(([x, y], i) => (i ? context.lineTo : context.moveTo).call(context, x * toCanvas, y * toCanvas));
      if (stroke.points.length === 1) {
        const [x, y] = stroke.points[0];
        context.arc(x * toCanvas, y * toCanvas, (stroke.width * toCanvas) / 2, 0, 2 * Math.PI);
        context.fill();
      } else {
        context.stroke();
      }
    }
    field.value = JSON.stringify(strokes);
    apply.disabled = strokes.length === 0;
    undo.disabled = strokes.length === 0;
  }

  function at(event) {
    const box = canvas.getBoundingClientRect();
    const x = (event.clientX - box.left) * (photo.naturalWidth / box.width);
    const y = (event.clientY - box.top) * (photo.naturalHeight / box.height);
    return [Math.round(Math.min(Math.max(x, 0), photo.naturalWidth)),
            Math.round(Math.min(Math.max(y, 0), photo.naturalHeight))];
  }

  function erase(point) {
    const reach = (Number(size.value) * scale()) / 2;
    strokes = strokes.filter((stroke) => !stroke.points.some(([x, y]) =>
      Math.hypot(x - point[0], y - point[1]) <= reach + stroke.width / 2));
  }

  canvas.addEventListener("pointerdown", (event) => {
    event.preventDefault();
    canvas.setPointerCapture(event.pointerId);
    const point = at(event);
    if (eraser.checked) { erase(point); redraw(); return; }
    current = { points: [point], color: colour.value, width: Math.max(1, Math.round(Number(size.value) * scale())) };
    strokes.push(current);
    redraw();
  });
  canvas.addEventListener("pointermove", (event) => {
    if (eraser.checked && event.buttons) { erase(at(event)); redraw(); return; }
    if (!current || current.points.length >= 2000) return;
    current.points.push(at(event));
    redraw();
  });
  const finish = () => { current = null; };
  canvas.addEventListener("pointerup", finish);
  canvas.addEventListener("pointercancel", finish);
  undo.addEventListener("click", () => { strokes.pop(); redraw(); });

  photo.addEventListener("load", () => {
    canvas.width = Math.min(photo.naturalWidth, 1200);
    canvas.height = Math.round(canvas.width * photo.naturalHeight / photo.naturalWidth);
    redraw();
  });
  photo.src = canvas.dataset.src;
})();
