// The upload form: a drop zone and a file button feeding one list of photos, with thumbnails,
// remove buttons and the same checks the server makes (type, size, count) so mistakes show at
// once. The server checks everything again. Also: the chosen model's hint and settings.
(function () {
  "use strict";
  const form = document.getElementById("upload-form");
  if (!form) return;
  const input = document.getElementById("images");
  const zone = document.getElementById("dropzone");
  const thumbs = document.getElementById("thumbs");
  const errors = document.getElementById("upload-errors");
  const count = document.getElementById("file-count");
  const select = document.getElementById("model");
  const hint = document.getElementById("model-hint");
  const submit = document.getElementById("submit-button");
  const chooseButton = document.getElementById("choose-button");
  const camera = document.getElementById("camera");
  const cameraButton = document.getElementById("camera-button");

  const maxFiles = Number(form.dataset.maxFiles) || 5;
  const maxBytes = Number(form.dataset.maxBytes) || 20 * 1048576;
  const maxMb = form.dataset.maxMb || String(Math.round(maxBytes / 1048576));
  const maxPixels = Number(form.dataset.maxPixels) || 40e6;
  const colourWarning = document.getElementById("colour-warning");
  const allModels = form.dataset.allModels;
  // What the server accepts (colorize.services.submission.ACCEPTED_FORMATS), from the page.
  const TYPES = new Set((form.dataset.types || "").split(",").filter(Boolean));
  const formatsText = form.dataset.formats || "a supported format";
  const EXTENSIONS = /\.(jpe?g|png|webp|bmp|tiff?)$/i;
  // One short film may be sent instead of photos (colorize.services.films); the server probes it.
  const FILM_TYPES = new Set((form.dataset.filmTypes || "").split(",").filter(Boolean));
  const FILM_EXTENSIONS = /\.(mp4|m4v|mov|webm|avi|mkv)$/i;
  const filmMaxBytes = Number(form.dataset.filmMaxBytes) || 200 * 1048576;
  const filmDefault = form.dataset.filmDefault || "";
  const canAssign = (() => {
    try { return typeof DataTransfer === "function" && new DataTransfer() && "files" in input; } catch (e) { return false; }
  })();

  let files = [];
  const previews = new Map();
  const inColour = new Set(); // chosen photos that are already in colour
  let shownProblems = [];

  function limit() { return select && select.value === allModels ? 1 : maxFiles; }
  function megabytes(bytes) { return (bytes / 1048576).toFixed(1); }
  // As people read sizes: "340 KB" below 1 MB, "2.4 MB" above (never "0.3 MB").
  function fileSize(bytes) {
    const kilobytes = Math.max(1, Math.round(bytes / 1024));
    return kilobytes < 1024 ? `${kilobytes} KB` : `${megabytes(bytes)} MB`;
  }
  function key(file) { return [file.name, file.size, file.lastModified].join("|"); }
  function isImage(file) { return TYPES.has(file.type) || (!file.type && EXTENSIONS.test(file.name)); }
  function isFilm(file) {
    return FILM_TYPES.has(file.type) || file.type.startsWith("video/") || FILM_EXTENSIONS.test(file.name);
  }

  // A film goes alone, to a model fit for film (the site's choice for film if the chosen one is not).
  function addFilm(file, problems) {
    if (file.size === 0) {
      problems.push(`${file.name} is empty (0 bytes).`);
    } else if (file.size > filmMaxBytes) {
      problems.push(`${file.name} is ${megabytes(file.size)} MB; films up to ${Math.round(filmMaxBytes / 1048576)} MB can be colorized.`);
    } else if (files.length) {
      problems.push(`${file.name} was not added: send one film at a time, without photos beside it.`);
    } else {
      files.push(file);
      const option = select && select.selectedOptions[0];
      if (select && filmDefault && !(option && option.hasAttribute("data-film"))) {
        select.value = filmDefault;
        syncModel();
      }
    }
  }

  function showErrors(messages) {
    shownProblems = messages;
    errors.replaceChildren(...messages.map((text) => {
      const item = document.createElement("li");
      item.textContent = text;
      return item;
    }));
    errors.hidden = messages.length === 0;
  }

  function countProblem() {
    if (files.length > limit()) {
      return select.value === allModels
        ? "“All models” compares the models on one photo: remove photos until one is left."
        : `At most ${maxFiles} photos can be sent at once.`;
    }
    return "";
  }

  function add(list) {
    const problems = [];
    for (const file of list) {
      if (isFilm(file) && !files.some((existing) => key(existing) === key(file))) {
        addFilm(file, problems);
      } else if (files.some(isFilm)) {
        problems.push(`${file.name} was not added: a film is sent alone.`);
      } else if (!isImage(file)) {
        problems.push(`${file.name} is not a supported image. Use ${formatsText}.`);
      } else if (file.size === 0) {
        problems.push(`${file.name} is empty (0 bytes).`);
      } else if (file.size > maxBytes) {
        problems.push(`${file.name} is ${megabytes(file.size)} MB; the limit is ${maxMb} MB.`);
      } else if (files.some((existing) => key(existing) === key(file))) {
        continue; // the same file twice: keep one, no need to complain
      } else if (files.length >= limit()) {
        problems.push(limit() === 1
          ? `${file.name} was not added: “All models” takes one photo.`
          : `${file.name} was not added: at most ${maxFiles} photos can be sent at once.`);
      } else {
        files.push(file);
        inspect(file);
      }
    }
    sync();
    showErrors(problems);
  }

  // --- What the browser can tell before sending: pixel count, and whether it is in colour ----
  // A photo over the pixel limit is refused here rather than after its upload; a colour photo
  // is sent only knowing that its colours will be replaced (colorizing works from its grey).
  function inspect(file) {
    if (typeof createImageBitmap !== "function") return;
    createImageBitmap(file).then((bitmap) => {
      if (!files.includes(file)) return;
      if (bitmap.width * bitmap.height > maxPixels) {
        files.splice(files.indexOf(file), 1);
        sync();
        showErrors([...shownProblems, `${file.name} is ${bitmap.width}×${bitmap.height} pixels; ` +
          `the limit is ${Number((maxPixels / 1e6).toPrecision(2))} megapixels.`]);
      } else if (isInColour(bitmap)) {
        inColour.add(file);
        render();
      }
      if (bitmap.close) bitmap.close();
    }, () => { /* not decodable here (TIFF): the server checks it */ });
  }

  function isInColour(bitmap) {
    // Chroma of a small copy: a colour photo has many clearly coloured pixels of varied hues;
    // a toned print (sepia, cyanotype) is tinted but all of one hue, and is not "in colour".
    const scale = Math.min(1, 96 / Math.max(bitmap.width, bitmap.height));
    const canvas = document.createElement("canvas");
    canvas.width = Math.max(1, Math.round(bitmap.width * scale));
    canvas.height = Math.max(1, Math.round(bitmap.height * scale));
    const context = canvas.getContext("2d", { willReadFrequently: true });
    context.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    const pixels = context.getImageData(0, 0, canvas.width, canvas.height).data;
    let coloured = 0, total = 0, sumU = 0, sumV = 0, sumChroma = 0;
    for (let i = 0; i < pixels.length; i += 4) {
      const [r, g, b] = [pixels[i], pixels[i + 1], pixels[i + 2]];
      const u = -0.147 * r - 0.289 * g + 0.436 * b;
      const v = 0.615 * r - 0.515 * g - 0.100 * b;
      const chroma = Math.hypot(u, v);
      total += 1;
      if (chroma > 12) {
        coloured += 1;
        sumU += u; sumV += v; sumChroma += chroma;
      }
    }
    if (coloured < 0.08 * total) return false;
    const oneHue = Math.hypot(sumU, sumV) / sumChroma; // 1: every coloured pixel the same hue
    return oneHue < 0.8;
  }

  function showColourWarning() {
    const names = files.filter((file) => inColour.has(file)).map((file) => file.name);
    colourWarning.hidden = names.length === 0;
    if (!names.length) return;
    const text = document.createElement("p");
    text.textContent = names.length === 1 && files.length === 1
      ? "This photo is already in colour: Coloria will replace its colours."
      : `${names.join(", ")} ${names.length === 1 ? "is" : "are"} already in colour: ` +
        `Coloria will replace ${names.length === 1 ? "its" : "their"} colours.`;
    const choice = document.createElement("p");
    choice.className = "help";
    choice.textContent = "Send anyway to see what a model makes of it, or ";
    const button = document.createElement("button");
    button.type = "button";
    button.className = "btn btn-secondary btn-small";
    button.id = "remove-colour-photos";
    button.textContent = names.length === 1 ? "remove it" : "remove them";
    button.addEventListener("click", () => {
      files.filter((file) => inColour.has(file)).forEach(remove);
    });
    choice.append(button);
    colourWarning.replaceChildren(text, choice);
  }

  function remove(file) {
    const index = files.indexOf(file);
    if (index < 0) return;
    files.splice(index, 1);
    inColour.delete(file);
    const url = previews.get(file);
    if (url) URL.revokeObjectURL(url);
    previews.delete(file);
    sync();
    const problem = countProblem();
    showErrors(problem ? [problem] : []);
    // Keep the keyboard where it was: the next photo's remove button, or the file button.
    const buttons = thumbs.querySelectorAll(".thumb-remove");
    (buttons[Math.min(index, buttons.length - 1)] || chooseButton || input).focus();
  }

  function render() {
    thumbs.replaceChildren(...files.map((file) => {
      const item = document.createElement("li");
      item.className = "thumb";
      if (!previews.has(file) && !isFilm(file)) previews.set(file, URL.createObjectURL(file));
      const image = document.createElement("img");
      image.alt = `Preview of ${file.name}`;
      if (isFilm(file)) {
        // No preview of a film (the page's media may not come from blob: URLs): its type.
        window.setTimeout(() => image.dispatchEvent(new Event("error")), 0);
      } else {
        image.src = previews.get(file);
      }
      image.addEventListener("error", () => {
        // TIFF and some BMPs cannot be previewed by browsers; they are still fine to send.
        const fallback = document.createElement("span");
        fallback.className = "thumb-fallback";
        fallback.textContent = (file.name.split(".").pop() || "image").toUpperCase();
        image.replaceWith(fallback);
      });
      const name = document.createElement("span");
      name.className = "thumb-name";
      name.title = file.name;
      name.append(file.name + " ");
      const size = document.createElement("span");
      size.className = "thumb-size";
      size.textContent = fileSize(file.size);
      name.append(size);
      item.append(image, name);
      if (inColour.has(file)) {
        const tag = document.createElement("span");
        tag.className = "tag thumb-tag";
        tag.textContent = "In colour";
        item.append(tag);
      }
      if (canAssign) {
        const button = document.createElement("button");
        button.type = "button";
        button.className = "thumb-remove";
        button.textContent = "×";
        button.setAttribute("aria-label", `Remove ${file.name}`);
        button.addEventListener("click", () => remove(file));
        item.append(button);
      }
      return item;
    }));
    count.textContent = files.length
      ? `${files.length} photo${files.length === 1 ? "" : "s"} chosen.`
      : "No photo chosen.";
    showColourWarning();
  }

  function sync() {
    if (canAssign) {
      const transfer = new DataTransfer();
      files.forEach((file) => transfer.items.add(file));
      input.files = transfer.files; // does not fire "change": no loop
    }
    render();
  }

  input.addEventListener("change", () => {
    if (canAssign) {
      add(Array.from(input.files));
    } else {
      files = Array.from(input.files);
      render();
      const problem = countProblem();
      showErrors(problem ? [problem] : []);
    }
  });

  if (canAssign) {
    form.classList.add("enhanced");
    // "Take a photo" (shown on touch screens): a second input that opens the camera, its photo
    // joining the same list. Not `capture` on the main input: phones would then offer only the
    // camera, never the photos already on them.
    if (camera && cameraButton) {
      camera.hidden = cameraButton.hidden = false;
      camera.addEventListener("change", () => {
        add(Array.from(camera.files));
        camera.value = "";
      });
    }
    ["dragenter", "dragover"].forEach((type) => zone.addEventListener(type, (event) => {
      event.preventDefault();
      if (event.dataTransfer) event.dataTransfer.dropEffect = "copy";
      zone.classList.add("is-dragover");
    }));
    ["dragleave", "dragend"].forEach((type) => zone.addEventListener(type, (event) => {
      if (!zone.contains(event.relatedTarget)) zone.classList.remove("is-dragover");
    }));
    zone.addEventListener("drop", (event) => {
      event.preventDefault();
      zone.classList.remove("is-dragover");
      if (event.dataTransfer && event.dataTransfer.files.length) add(Array.from(event.dataTransfer.files));
    });
    // A photo dropped beside the zone should not make the browser leave the page.
    window.addEventListener("dragover", (event) => event.preventDefault());
    window.addEventListener("drop", (event) => event.preventDefault());
    // Pasting an image (e.g. a screenshot) adds it too.
    document.addEventListener("paste", (event) => {
      const pasted = Array.from((event.clipboardData && event.clipboardData.files) || []);
      if (pasted.length) add(pasted);
    });
  }

  // --- The model: its hint, its settings --------------------------------------------------
  function syncModel() {
    const option = select.selectedOptions[0];
    hint.textContent = option && option.dataset.hint ? option.dataset.hint : "";
    const sampleModel = document.getElementById("sample-model");
    if (sampleModel) sampleModel.value = select.value; // a sample goes to the chosen model too
    document.querySelectorAll(".experimental-note").forEach((note) => {
      note.hidden = note.dataset.model !== select.value;
    });
    document.querySelectorAll(".model-params").forEach((fieldset) => {
      const chosen = fieldset.dataset.model === select.value;
      fieldset.hidden = !chosen;
      fieldset.disabled = !chosen; // disabled fields are not sent
    });
    const problem = countProblem();
    showErrors(problem ? [problem] : []);
  }
  if (select) {
    select.addEventListener("change", syncModel);
    syncModel();
  }

  // --- Sending -----------------------------------------------------------------------------
  form.noValidate = true; // these checks replace the browser's bubbles, which cannot be styled
  form.addEventListener("submit", (event) => {
    const current = canAssign ? files : Array.from(input.files);
    const problem = current.length === 0 ? "Choose at least one photo."
      : select && !select.value ? "Choose a model to colorize with."
      : countProblem();
    if (problem) {
      event.preventDefault();
      showErrors([problem]);
      errors.setAttribute("tabindex", "-1");
      errors.focus();
      return;
    }
    submit.setAttribute("aria-busy", "true");
    submit.textContent = current.length === 1 ? "Sending your photo…" : `Sending ${current.length} photos…`;
    if (typeof fetch !== "function" || typeof FormData !== "function") {
      setTimeout(() => { submit.disabled = true; }, 0); // still sent; a second click does nothing
      return;
    }
    // Sent from here, so that a refusal leaves every photo and setting in place.
    event.preventDefault();
    const data = new FormData(form);
    submit.disabled = true;
    fetch(form.action || window.location.href, {
      method: "POST", body: data, headers: { Accept: "application/json" }, credentials: "same-origin",
    }).then((response) => response.json().then((answer) => {
      if (answer.redirect) {
        window.location.assign(answer.redirect);
        return;
      }
      throw new Error(answer.error || "Coloria could not take these photos.");
    }, () => { throw new Error(`Coloria could not take these photos (error ${response.status}). Try again in a moment.`); }))
      .catch((error) => {
        const message = error instanceof TypeError
          ? "Coloria could not be reached: check the connection and try again."
          : error.message;
        showErrors([message]);
        errors.setAttribute("tabindex", "-1");
        errors.focus();
        submit.disabled = false;
        submit.removeAttribute("aria-busy");
        submit.textContent = "Colorize";
      });
  });
  // Coming back with the browser's back button: the page may be restored as it was left.
  window.addEventListener("pageshow", () => {
    submit.disabled = false;
    submit.removeAttribute("aria-busy");
    submit.textContent = "Colorize";
  });
  render();
  count.textContent = "";
})();

// The reference photo of "Colours from a reference photo": a thumbnail and a remove button.
(function () {
  const input = document.getElementById("reference");
  if (!input) return;
  const thumb = document.getElementById("reference-thumb");
  const remove = document.getElementById("reference-remove");
  function show() {
    const file = input.files[0];
    if (thumb.src) URL.revokeObjectURL(thumb.src);
    thumb.hidden = remove.hidden = !file;
    if (file) thumb.src = URL.createObjectURL(file);
    else thumb.removeAttribute("src");
  }
  input.addEventListener("change", show);
  remove.addEventListener("click", () => { input.value = ""; show(); });
  // A photo dropped on the reference's own zone is the reference, not one more photo to colour.
  const zone = document.getElementById("reference-drop");
  if (!zone || typeof DataTransfer !== "function") return;
  ["dragenter", "dragover"].forEach((type) => zone.addEventListener(type, (event) => {
    event.preventDefault();
    event.stopPropagation();
    zone.classList.add("is-dragover");
  }));
  zone.addEventListener("dragleave", () => zone.classList.remove("is-dragover"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    event.stopPropagation();
    zone.classList.remove("is-dragover");
    const file = event.dataTransfer && event.dataTransfer.files[0];
    if (!file) return;
    const transfer = new DataTransfer();
    transfer.items.add(file);
    input.files = transfer.files;
    show();
  });
})();
