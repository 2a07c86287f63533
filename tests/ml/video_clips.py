"""Tiny films made with PyAV for the video tests: a textured scene (or several), film grain,
an optional sound track, any container."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

SAMPLE_RATE = 16000


def scene(index: int, width: int, height: int) -> np.ndarray:
    """Gray values 0-255 of shot `index`: shots differ in tones, not only in shapes."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    if index % 2 == 0:
        return 110 + 70 * np.sin(x / 6.0) * np.cos(y / 5.0)
    return 200 - 0.4 * x + 20 * np.sin(y / 3.0)


def make_clip(
    path: Path,
    *,
    width: int = 64,
    height: int = 48,
    frames: int = 8,
    fps: int = 8,
    scenes: int = 1,
    grain: float = 8.0,
    audio: str | None = "aac",
    container: str | None = None,
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    times_ms: list[int] | None = None,
    rotation: int = 0,
) -> Path:
    """Write a film: `frames` frames at `fps` (or at the millisecond times `times_ms`: a variable
    frame rate), split evenly into `scenes` shots, with Gaussian grain of `grain` gray levels
    (so that consecutive frames differ as film frames do), and a 440 Hz tone as long as the
    film in the `audio` codec."""
    rng = np.random.default_rng(0)
    with av.open(str(path), "w", format=container) as out:
        video = out.add_stream(codec, rate=fps)
        video.width, video.height, video.pix_fmt = width, height, pix_fmt
        if rotation:  # as a phone held upright records
            video.set_display_rotation(rotation)
        if times_ms is not None:
            video.codec_context.time_base = Fraction(1, 1000)
        sound = out.add_stream(audio, rate=SAMPLE_RATE) if audio else None
        if sound is not None:
            sound.layout = "mono"
        for index in range(frames):
            gray = scene(index * scenes // frames, width, height)
            gray = np.clip(gray + rng.normal(0, grain, gray.shape), 0, 255).astype(np.uint8)
            frame = av.VideoFrame.from_ndarray(np.stack([gray] * 3, axis=-1), format="rgb24")
            if times_ms is not None:
                frame.pts, frame.time_base = times_ms[index], Fraction(1, 1000)
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        if sound is not None:
            _write_tone(out, sound, frames / fps)
    return path


def _write_tone(out, sound, seconds: float) -> None:
    samples = round(seconds * SAMPLE_RATE)
    tone = 0.3 * np.sin(2 * np.pi * 440 * np.arange(samples) / SAMPLE_RATE)
    planar = sound.codec_context.name in ("aac", "libopus")
    for start in range(0, samples, 1024):
        chunk = tone[start : start + 1024]
        data = chunk.astype(np.float32) if planar else (chunk * 32767).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(
            data[None], format="fltp" if planar else "s16", layout="mono"
        )
        frame.sample_rate, frame.pts = SAMPLE_RATE, start
        out.mux(sound.encode(frame))
    out.mux(sound.encode(None))


def write_sound_only(path: Path, seconds: float = 1.0) -> Path:
    with av.open(str(path), "w", format="mp4") as out:
        sound = out.add_stream("aac", rate=SAMPLE_RATE)
        sound.layout = "mono"
        _write_tone(out, sound, seconds)
    return path


def decoded(path: Path) -> dict:
    """What a film holds: frame count, size, timestamps (seconds), rate, duration, sound."""
    with av.open(str(path)) as film:
        video = film.streams.video[0]
        frames = list(film.decode(video))
        times = [float(frame.pts * frame.time_base) for frame in frames]
        width, height = video.codec_context.width, video.codec_context.height
        rate = video.average_rate
        rotation = frames[0].rotation if frames else 0
    with av.open(str(path)) as film:
        sound = film.streams.audio[0] if film.streams.audio else None
        packets = [bytes(p) for p in film.demux(sound) if p.size] if sound else []
        audio_codec = sound.codec_context.name if sound else None
        sound_seconds = float(sound.duration * sound.time_base) if sound and sound.duration else 0
    return {
        "frames": len(frames),
        "size": (width, height),
        "times": times,
        "rate": rate,
        "rotation": rotation,
        "pixels": [frame.to_ndarray(format="rgb24") for frame in frames],
        "audio_codec": audio_codec,
        "audio_packets": packets,
        "audio_seconds": sound_seconds,
    }
