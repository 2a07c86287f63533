"""The film pipeline (ml.video, issue #24) on tiny films that PyAV makes here, colorized by a
real network with random weights (tests/conftest.py)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

import ml
from ml import runtime
from ml.color import to_gray
from ml.errors import InvalidParameters
from ml.video import (
    InvalidVideo,
    VideoCancelled,
    VideoTimeLimit,
    colorize_video,
    flicker,
    poster_jpeg,
    probe,
    recommended_video_model,
    video_models,
)
from ml.video.temporal import CUT_THRESHOLD, SceneCuts, histogram
from tests.ml.video_clips import decoded, make_clip, scene, write_sound_only

MODEL = "zhang-eccv16"


def test_a_film_keeps_its_frames_rate_size_duration_and_sound(tmp_path):
    src = make_clip(tmp_path / "film.mp4", frames=10, fps=10)
    poster = tmp_path / "poster.jpg"
    progress = []
    report = colorize_video(
        src,
        tmp_path / "out.mp4",
        MODEL,
        poster=poster,
        on_progress=lambda done, total: progress.append((done, total)),
    )
    before, after = decoded(src), decoded(tmp_path / "out.mp4")
    assert report.frames == after["frames"] == before["frames"] == 10
    assert after["size"] == before["size"] == (64, 48)
    assert after["rate"] == before["rate"] == 10
    assert after["times"] == pytest.approx(before["times"], abs=1e-3)
    assert progress == [(done, 10) for done in range(1, 11)]
    # The sound is copied packet for packet.
    assert report.details["audio"] == "copied (aac)"
    assert after["audio_packets"] == before["audio_packets"]
    assert after["audio_seconds"] == pytest.approx(before["audio_seconds"], abs=1e-3)
    # Colour was added, and each frame keeps its own lightness.
    first = after["pixels"][0].astype(np.float32)
    assert np.ptp(first, axis=-1).mean() > 2
    luma = to_gray(Image.fromarray(after["pixels"][0]))
    assert np.abs(luma - to_gray(Image.fromarray(before["pixels"][0]))).mean() < 0.03
    with Image.open(poster) as image:
        assert image.format == "JPEG" and image.size == (64, 48)
    assert report.poster.size == (64, 48)
    assert poster_jpeg(report.poster)[:2] == b"\xff\xd8"
    assert report.seconds_per_frame > 0 and report.flicker is not None


def test_an_odd_sized_mkv_is_padded_and_its_pcm_sound_becomes_aac(tmp_path):
    src = make_clip(tmp_path / "odd.mkv", width=63, height=47, frames=6, fps=6,
                    audio="pcm_s16le", container="matroska", pix_fmt="yuv444p")  # fmt: skip
    report = colorize_video(src, tmp_path / "out.mp4", MODEL)
    after = decoded(tmp_path / "out.mp4")
    assert after["frames"] == 6 and after["size"] == (64, 48)
    assert "padded to 64 x 48" in report.details["size"]
    assert report.details["audio"] == "re-encoded (pcm_s16le to aac)"
    assert after["audio_codec"] == "aac"
    assert after["audio_seconds"] == pytest.approx(1.0, abs=0.1)  # AAC's priming at most


@pytest.mark.parametrize(("container", "codec", "audio", "name"), [
    ("webm", "libvpx-vp9", "libopus", "film.webm"),
    ("avi", "mpeg4", "pcm_s16le", "film.avi"),
    ("mov", "libx264", "aac", "film.mov"),
])  # fmt: skip
def test_other_containers_are_read(tmp_path, container, codec, audio, name):
    src = make_clip(tmp_path / name, frames=4, fps=4, codec=codec, audio=audio,
                    container=container)  # fmt: skip
    info = probe(src)
    assert (info.frames, info.width, info.height, info.has_audio) == (4, 64, 48, True)
    assert info.duration == pytest.approx(1.0, abs=0.01) and info.fps == pytest.approx(4)
    report = colorize_video(src, tmp_path / "out.mp4", MODEL, smoothing=0)
    assert decoded(tmp_path / "out.mp4")["frames"] == report.frames == 4


def test_smoothing_steadies_a_static_scene(tmp_path):
    src = make_clip(tmp_path / "still.mp4", frames=6, fps=6, grain=14, audio=None)
    plain = colorize_video(src, tmp_path / "plain.mp4", MODEL, smoothing=0)
    steady = colorize_video(src, tmp_path / "steady.mp4", MODEL)
    flow = colorize_video(src, tmp_path / "flow.mp4", MODEL, smoothing_method="flow")
    assert plain.smoothing == "off" and steady.smoothing == "ema 0.6"
    assert flow.smoothing == "flow 0.6"
    assert steady.flicker < 0.8 * plain.flicker
    assert flow.flicker < 0.8 * plain.flicker
    assert plain.details["lag"] < 0.01 < steady.details["lag"]  # float16 storage: not 0
    chroma = [r.details["chroma_flicker"] for r in (plain, steady, flow)]
    assert chroma[1] < 0.7 * chroma[0] and chroma[2] < 0.7 * chroma[0]


def test_a_scene_cut_starts_the_smoothing_again(tmp_path):
    src = make_clip(tmp_path / "cut.mp4", frames=8, fps=8, scenes=2, audio=None)
    work = tmp_path / "work"
    report = colorize_video(src, tmp_path / "out.mp4", MODEL, work_dir=work, smoothing=0.9,
                            smoothing_method="ema")  # fmt: skip
    assert report.scene_cuts == [4]
    # At the cut the stored chroma is the network's own prediction for that frame, not a blend
    # with the previous shot; the next frame is a blend again.
    frame = decoded(src)["pixels"]
    with runtime.in_use(ml.get_spec(MODEL)) as predictor:
        own = [predictor.predict(to_gray(Image.fromarray(frame[i]))).ab for i in (4, 5)]
    stored = [np.load(work / f"{i:06d}.npz")["ab"].astype(np.float32) for i in (4, 5)]
    assert np.abs(stored[0] - own[0]).max() < 0.1
    assert np.abs(stored[1] - own[1]).mean() > 10 * np.abs(stored[0] - own[0]).mean()


def test_scene_cuts_come_from_luminance_histograms():
    cuts = SceneCuts()
    first, other = scene(0, 64, 48) / 255, scene(1, 64, 48) / 255
    assert [cuts.is_cut(g) for g in (first, first + 0.01, other, other)] == [0, 0, 1, 0]
    distance = 0.5 * np.abs(histogram(first) - histogram(other)).sum()
    assert distance > CUT_THRESHOLD


def test_cancelling_stops_within_a_frame_and_leaves_no_output(tmp_path):
    src = make_clip(tmp_path / "film.mp4", frames=8, fps=8, audio=None)
    done = []
    with pytest.raises(VideoCancelled, match="cancelled at frame 3 of 8"):
        colorize_video(src, tmp_path / "out.mp4", MODEL, should_cancel=lambda: len(done) >= 3,
                       on_progress=lambda d, t: done.append(d))  # fmt: skip
    assert done == [1, 2, 3]
    assert not list(tmp_path.glob("out.mp4*"))


def test_a_time_limit_stops_the_job_with_a_clear_error(tmp_path):
    src = make_clip(tmp_path / "film.mp4", frames=4, fps=4, audio=None)
    with pytest.raises(VideoTimeLimit, match="took longer than"):
        colorize_video(src, tmp_path / "out.mp4", MODEL, max_seconds=0)


def test_a_resumed_job_reuses_the_frames_done_and_gives_the_same_film(tmp_path):
    src = make_clip(tmp_path / "film.mp4", frames=8, fps=8)
    work = tmp_path / "work"
    calls = []
    with pytest.raises(VideoCancelled):
        colorize_video(src, tmp_path / "out.mp4", MODEL, work_dir=work,
                       should_cancel=lambda: len(calls) >= 5,
                       on_progress=lambda d, t: calls.append(d))  # fmt: skip
    kept = {path.name: path.read_bytes() for path in work.glob("0*.npz")}
    assert len(kept) == 5
    resumed = colorize_video(src, tmp_path / "out.mp4", MODEL, work_dir=work)
    assert resumed.resumed_from == 5 and resumed.details["predicted"] == 3
    assert resumed.frames == 8
    assert all((work / name).read_bytes() == data for name, data in kept.items())
    whole = colorize_video(src, tmp_path / "whole.mp4", MODEL)
    again, once = decoded(tmp_path / "out.mp4"), decoded(tmp_path / "whole.mp4")
    assert again["frames"] == once["frames"] == 8
    assert again["times"] == once["times"]
    # The same film: the frames that go into the encoder are the same (the stored chroma is
    # the state an uninterrupted run has), but libx264's output is not bit-identical from run
    # to run here, so the decoded frames agree within its noise.
    difference = np.abs(np.stack(again["pixels"]).astype(int) - np.stack(once["pixels"]))
    assert difference.mean() < 1.5
    assert resumed.flicker == pytest.approx(whole.flicker, rel=0.05)
    # Other settings do not reuse these frames.
    other = colorize_video(src, tmp_path / "other.mp4", MODEL, work_dir=work, smoothing=0.3)
    assert other.resumed_from == 0


def test_a_variable_frame_rate_clip_is_accepted_with_its_timestamps(tmp_path):
    times = [0, 40, 80, 200, 240, 400, 440, 480]
    src = make_clip(tmp_path / "phone.mp4", frames=8, times_ms=times, audio=None)
    info = probe(src)
    assert info.variable_frame_rate and info.frames == 8
    assert info.fps == pytest.approx(8 / 0.52)
    colorize_video(src, tmp_path / "out.mp4", MODEL)
    assert decoded(tmp_path / "out.mp4")["times"] == pytest.approx([t / 1000 for t in times])


def test_a_phone_film_keeps_its_display_rotation(tmp_path):
    src = make_clip(tmp_path / "upright.mp4", frames=2, fps=2, audio=None, rotation=90)
    assert probe(src).rotation == 90
    report = colorize_video(src, tmp_path / "out.mp4", MODEL, smoothing=0)
    after = decoded(tmp_path / "out.mp4")
    assert after["rotation"] == 90 and after["size"] == (64, 48)
    assert report.poster.size == (48, 64)  # upright, as a player shows it


def _truncated(path, fraction=0.5):
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])
    return path


@pytest.mark.parametrize(("make", "message"), [
    (lambda p: p.with_suffix(".txt").write_text("hello") and p.with_suffix(".txt"),
     "not a video"),
    (lambda p: write_sound_only(p.with_suffix(".m4a")), "only sound"),
    (lambda p: (p.with_suffix(".srt").write_text("1\n00:00:01,000 --> 00:00:02,000\nHi\n"),
                p.with_suffix(".srt"))[1], "no video stream"),
    (lambda p: make_clip(p.with_suffix(".mp4"), frames=1), "only one frame: too short"),
    (lambda p: _truncated(make_clip(p.with_suffix(".mp4"), frames=16)),
     "damaged or incomplete"),
    (lambda p: _truncated(make_clip(p.with_suffix(".mkv"), frames=24, container="matroska")),
     "incomplete"),
])  # fmt: skip
def test_bad_input_gets_its_message(tmp_path, make, message):
    path = make(tmp_path / "upload")
    with pytest.raises(InvalidVideo, match=message):
        probe(path)
    with pytest.raises(InvalidVideo, match=message):
        colorize_video(path, tmp_path / "out.mp4", MODEL)
    assert not (tmp_path / "out.mp4").exists()


def test_films_over_the_limits_are_refused(tmp_path):
    src = make_clip(tmp_path / "film.mp4", frames=16, fps=8, audio=None)
    with pytest.raises(InvalidVideo, match=r"lasts 2\.0 s; films up to 1 s"):
        probe(src, max_seconds=1)
    with pytest.raises(InvalidVideo, match="64 × 48 pixels; films up to 48 × 1080"):
        probe(src, max_side=48)
    with pytest.raises(InvalidVideo, match="up to 32 × 40"):
        probe(src, max_side=32, max_short_side=40)
    with pytest.raises(InvalidVideo, match=r"MB; films up to 0 MB"):
        probe(src, max_bytes=100)
    with pytest.raises(InvalidVideo, match="films up to 1 s"):
        colorize_video(src, tmp_path / "out.mp4", MODEL, max_duration=1)
    assert probe(src).frames == 16  # the defaults: 60 s, 1080p, 200 MB


def test_flicker_is_the_mean_chroma_change_between_frames():
    still = [np.full((4, 4, 2), 5.0)] * 3
    assert flicker(still) == 0.0
    frames = [np.zeros((4, 4, 2)), np.full((4, 4, 2), 2.0), np.full((4, 4, 2), 6.0)]
    assert flicker(frames) == pytest.approx(3.0)
    assert flicker(frames, cuts=[2]) == pytest.approx(2.0)
    assert flicker(frames[:1]) is None


def test_which_models_can_colorize_a_film(tmp_path):
    keys = {spec.key for spec in video_models()}
    assert {"zhang-eccv16", "deoldify-video", "reference", "coloria-lite"} <= keys
    assert "scribbles" not in keys
    assert recommended_video_model(["zhang-eccv16", "deoldify-video"]) == "deoldify-video"
    assert recommended_video_model(["scribbles", "reference", "zhang-eccv16"]) == "zhang-eccv16"
    assert recommended_video_model(["scribbles"]) is None
    assert recommended_video_model() == "zhang-eccv16"  # the random weights installed here
    src = make_clip(tmp_path / "film.mp4", frames=2, fps=2, audio=None)
    with pytest.raises(InvalidParameters, match="cannot colorize a film"):
        colorize_video(src, tmp_path / "out.mp4", "scribbles")
    with pytest.raises(InvalidParameters, match="does not take a reference"):
        colorize_video(src, tmp_path / "out.mp4", MODEL, reference=io.BytesIO(b""))
    with pytest.raises(InvalidParameters, match="Smoothing"):
        colorize_video(src, tmp_path / "out.mp4", MODEL, smoothing=1.0)
