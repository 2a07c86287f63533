"""Colorize a short film (issue #24): pure Python over PyAV and the photo pipeline; never Django.

    from ml.video import probe, colorize_video
    info = probe("film.mov")                       # VideoInfo, or InvalidVideo saying why not
    report = colorize_video("film.mov", "out.mp4", "zhang-eccv16-coloria",
                            work_dir="/var/coloria/jobs/42", on_progress=show,
                            should_cancel=cancelled, poster="poster.jpg")

Public interface (kept stable for the site's worker):

`probe(path, *, max_seconds=60, max_side=1920, max_short_side=1080, max_bytes=200 MB)`
    -> VideoInfo(width, height, fps, frames, duration, has_audio, codec, variable_frame_rate,
    rate: Fraction, audio_codec, container, rotation). Reads every video packet's timestamp
    (decoding only the first frame) and raises InvalidVideo with a message for people: not a
    video; damaged or incomplete (cut short); sound only; no video stream; one frame only ("too
    short to be a film", refused: colorize it as a photo); longer than max_seconds (the film's
    length); larger than max_side × max_short_side; more than max_bytes. Accepted containers:
    whatever FFmpeg opens, MP4, MOV, WebM, AVI and MKV among them.

    Variable frame rate (phone clips) is accepted: `fps` is the average rate and the output
    keeps every frame's own timestamp, so the sound stays in step; `variable_frame_rate` says
    so (frame intervals that differ by more than 25 % of the usual one).

`colorize_video(src, dst, model, *, params=None, device=None, reference=None, smoothing=0.6,
smoothing_method="ema", work_dir=None, on_progress=None, should_cancel=None, max_seconds=None,
poster=None, max_duration=60, max_side=1920, max_short_side=1080, max_bytes=200 MB)`
    -> VideoReport(frames, fps, seconds, seconds_per_frame, flicker, smoothing, scene_cuts,
    resumed_from, details, poster: PIL image, info: VideoInfo).

    - `model`: a registry key fit for video (`video_models()`); `params` its parameters as for
      ml.colorize; `reference` the one colour photo for the whole film of a model that needs
      one.
    - Output `dst`: MP4, H.264 (libx264, yuv420p, crf 18), the source's frame timestamps (so
      its frame rate, frame count and duration), its size (an odd side gets one repeated
      column or row: yuv420p needs even sides; details["size"] says so), and its first sound
      track, copied packet for packet when MP4 holds its codec (AAC, MP3, Opus, ALAC, FLAC,
      AC-3), else re-encoded to AAC (details["audio"]), and its display rotation (a phone's
      upright film stays upright). Written as `dst.part`, renamed when whole.
    - Colour: each frame goes through the photo pipeline: gray values (ml.color.to_gray), the
      model's chroma at its working size, joined to the frame's own full-resolution lightness
      (ml.color.compose). Coloria's predictors take one picture per call, so frames are
      predicted one at a time.
    - `smoothing` in [0, 1) (0: off) and `smoothing_method` "ema" or "flow" (motion
      compensated; no better on the films measured, kept for fast motion): the chroma is
      blended over time (ml.video.temporal), starting again at scene cuts (luminance
      histograms whose total variation distance exceeds 0.3).
    - `work_dir`: each frame's smoothed chroma is kept there, so a rerun after a restart
      predicts only the frames not yet done (`resumed_from`); ml.video.store.
    - `on_progress(done, total)`: after every frame. `should_cancel()`: checked before every
      frame; True raises VideoCancelled. `max_seconds`: a time budget for this run; past it,
      VideoTimeLimit (the frames done stay in work_dir).
    - `poster`: a path or binary file to write the first colorized frame to as JPEG; the image
      is also `report.poster` (`poster_jpeg(image)` gives JPEG bytes).
    - `details["lag"]`: mean |smoothed - predicted chroma|, what steadiness cost (colour
      trailing behind motion).
    - `flicker`: mean |Δab| (CIE Lab, output frames shrunk to 128 px) between consecutive
      frames, cuts excluded; `flicker(frames_ab)` computes the same for any frames.

`video_models()` -> the ModelSpecs with `video=True` (all but the colour scribbles);
`recommended_video_model(installed=None)` -> "deoldify-video" when installed, else the first
installed fit model that needs only the film, else None.

Errors: InvalidVideo, VideoCancelled, VideoTimeLimit (all ColorizeError).
"""

from ml.video.errors import InvalidVideo, VideoCancelled, VideoTimeLimit
from ml.video.media import first_frame
from ml.video.models import recommended_video_model, video_models
from ml.video.pipeline import VideoReport, colorize_video, poster_jpeg
from ml.video.probe import VideoInfo, probe
from ml.video.temporal import flicker

__all__ = [
    "InvalidVideo",
    "VideoCancelled",
    "VideoInfo",
    "VideoReport",
    "VideoTimeLimit",
    "colorize_video",
    "first_frame",
    "flicker",
    "poster_jpeg",
    "probe",
    "recommended_video_model",
    "video_models",
]
