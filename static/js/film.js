// A film's before/after player: the original (.ba-before) plays in step with the colorized film
// (.ba-after) under the slider's divider (slider.js). The colorized film leads: play, pause, seek
// and speed follow it, and a drift of more than a few frames is corrected while it plays.
(function () {
  "use strict";
  const box = document.querySelector("[data-film]");
  if (!box) return;
  const lead = box.querySelector(".ba-after");
  const follow = box.querySelector(".ba-before");
  const play = document.getElementById("film-play");
  const seek = document.getElementById("film-seek");
  const clock = document.getElementById("film-time");
  const DRIFT = 0.12; // seconds

  function format(seconds) {
    const whole = Math.floor(seconds || 0);
    return `${Math.floor(whole / 60)}:${String(whole % 60).padStart(2, "0")}`;
  }

  function align(force) {
    if (!follow) return;
    if (force || Math.abs(follow.currentTime - lead.currentTime) > DRIFT) {
      follow.currentTime = lead.currentTime;
    }
  }

  function show() {
    if (play) play.textContent = lead.paused ? "Play" : "Pause";
    if (seek && lead.duration) seek.value = String(Math.round((lead.currentTime / lead.duration) * 1000));
    if (clock) clock.textContent = `${format(lead.currentTime)} / ${format(lead.duration)}`;
    box.dataset.playing = lead.paused ? "false" : "true";
  }

  lead.addEventListener("play", () => {
    align(true);
    if (follow) follow.play().catch(() => {});
    show();
  });
  lead.addEventListener("pause", () => {
    if (follow) follow.pause();
    align(true);
    show();
  });
  lead.addEventListener("seeked", () => align(true));
  lead.addEventListener("ratechange", () => { if (follow) follow.playbackRate = lead.playbackRate; });
  lead.addEventListener("timeupdate", () => {
    if (!lead.paused) align(false);
    show();
  });
  lead.addEventListener("loadedmetadata", show);
  if (play) {
    play.addEventListener("click", () => {
      if (lead.paused) lead.play().catch(() => {});
      else lead.pause();
    });
  }
  if (seek) {
    seek.addEventListener("input", () => {
      if (lead.duration) lead.currentTime = (Number(seek.value) / 1000) * lead.duration;
    });
  }
  show();
})();
