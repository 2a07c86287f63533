// Live progress without reloading: poll a JSON status URL (a batch's or a job's) and update the
// elements marked with data-job / data-role. A container with data-reload-on-finish reloads once
// everything has finished, so the server can draw the finished page (slider, comparison).
(function () {
  "use strict";
  const container = document.querySelector("[data-progress][data-status-url]");
  if (!container) return;
  const url = container.dataset.statusUrl;
  const started = Date.now();
  let timer = null;
  let failures = 0;

  function setText(root, role, text) {
    root.querySelectorAll(`[data-role="${role}"]`).forEach((node) => { node.textContent = text; });
  }

  function updateJob(job) {
    document.querySelectorAll(`[data-job="${CSS.escape(job.id)}"]`).forEach((row) => {
      row.dataset.status = job.status;
      setText(row, "status-text", job.status_label);
      if (job.status === "running") {
        setText(row, "status-text-long", job.kind === "video" ? "Colorizing your film…" : "Colorizing your photo…");
      }
      if (job.progress) { // a film: frame by frame
        row.querySelectorAll('[data-role="film-progress"]').forEach((bar) => {
          bar.max = Math.max(1, job.progress.total);
          bar.value = job.progress.done;
          bar.textContent = `${job.progress.done} of ${job.progress.total}`;
        });
        setText(row, "film-progress-text", job.progress.text || "");
      }
      setText(row, "duration", job.duration != null ? `in ${job.duration.toFixed(1)} s` : "");
      row.querySelectorAll('[data-role="error"]').forEach((node) => {
        node.textContent = job.error || "";
        node.hidden = !job.error;
      });
      row.querySelectorAll('[data-role="retry"]').forEach((node) => { node.hidden = !job.can_retry; });
      row.querySelectorAll('[data-role="open"]').forEach((node) => {
        node.textContent = job.status === "succeeded" ? "Open result" : "Open";
      });
      if (job.thumbnail_url) {
        row.querySelectorAll('[data-role="result-thumb"]').forEach((image) => {
          if (!image.getAttribute("src")) image.src = job.thumbnail_url;
          image.hidden = false;
        });
        row.querySelectorAll('[data-role="result-placeholder"]').forEach((node) => node.remove());
      }
    });
  }

  function updateBatch(data) {
    const finished = data.done + data.failed;
    container.querySelectorAll('[data-role="progress"]').forEach((bar) => {
      bar.max = data.total;
      bar.value = finished;
      bar.textContent = `${finished} of ${data.total}`;
    });
    const summary = data.finished
      ? `All done: ${data.done} colorized${data.failed ? `, ${data.failed} failed` : ""}.`
      : `${finished} of ${data.total} finished — this page updates by itself.`;
    setText(container, "progress-text", summary);
    container.querySelectorAll('[data-role="zip"]').forEach((link) => { link.hidden = data.done === 0; });
  }

  async function poll() {
    timer = null;
    let data;
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" });
      if (!response.ok) throw new Error(`status ${response.status}`);
      data = await response.json();
      failures = 0;
    } catch (error) {
      failures += 1;
      schedule();
      return;
    }
    const jobs = data.jobs || [data];
    jobs.forEach(updateJob);
    if (data.jobs) updateBatch(data);
    const finished = data.jobs ? data.finished : ["succeeded", "failed"].includes(data.status);
    if (finished) {
      if (container.hasAttribute("data-reload-on-finish")) window.location.reload();
      return;
    }
    schedule();
  }

  function schedule() {
    if (timer || document.hidden) return;
    // Quick at first, gentler later and after network errors.
    const elapsed = Date.now() - started;
    const delay = Math.min(10000, (elapsed < 60000 ? 1000 : 3000) * 2 ** Math.min(failures, 3));
    timer = window.setTimeout(poll, delay);
  }

  document.addEventListener("visibilitychange", () => {
    if (document.hidden) {
      window.clearTimeout(timer);
      timer = null;
    } else {
      poll();
    }
  });
  schedule();
})();
