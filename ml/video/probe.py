"""What a video file is, read without decoding a picture: `probe(path)` -> VideoInfo.

Every video packet's timestamp is read (demuxing only, milliseconds for a minute of film), so the
frame count, duration and frame-rate regularity are measured rather than taken from a header that
may be missing or wrong (AVI, WebM) or describe more than the file holds (a truncated upload).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from ml.video.errors import InvalidVideo

MAX_DURATION = 60.0  # seconds of film
MAX_SIDE = 1920  # 1080p: the long side at most 1920 pixels ...
MAX_SHORT_SIDE = 1080  # ... and the short side at most 1080
MAX_BYTES = 200 * 2**20
# A clip whose frame intervals differ by more than this fraction of the usual one is variable
# frame rate (phones record so). Timestamp rounding (33 and 34 ms at 30 fps) stays far below it.
VFR_SPREAD = 0.25
# Packets that end this much before the length the file declares mean the file was cut short.
TRUNCATED_FRACTION = 0.9
# The first bytes of the containers accepted (ISO-BMFF: MP4/MOV, EBML: MKV/WebM, RIFF: AVI): a
# file that starts so but cannot be opened is damaged or incomplete, not "not a video".
_MAGIC = ((4, b"ftyp"), (4, b"moov"), (4, b"mdat"), (4, b"wide"), (0, b"\x1aE\xdf\xa3"),
          (0, b"RIFF"))  # fmt: skip


@dataclass
class VideoInfo:
    width: int
    height: int
    fps: float  # average frame rate: frames / duration
    frames: int
    duration: float  # seconds, first frame's start to last frame's end
    has_audio: bool
    codec: str
    variable_frame_rate: bool
    rate: Fraction | None = None  # the average rate as an exact fraction
    audio_codec: str | None = None
    container: str = ""
    # Degrees counterclockwise a player turns the pictures (a phone held upright: 90 or -90);
    # the output keeps the same display rotation, and the poster is turned by it.
    rotation: int = 0


def probe(
    path: str | os.PathLike,
    *,
    max_seconds: float = MAX_DURATION,
    max_side: int = MAX_SIDE,
    max_short_side: int = MAX_SHORT_SIDE,
    max_bytes: int = MAX_BYTES,
) -> VideoInfo:
    """Measure a video file and check it against the limits; raises InvalidVideo saying what is
    wrong (not a video, damaged or incomplete, no pictures, one frame only, too long, too large).

    `max_seconds` here is the film's length, not a time budget."""
    size = _file_size(path, max_bytes)
    container = _open(path, size)
    with container:
        video = _video_stream(container)
        width, height = video.codec_context.width, video.codec_context.height
        if not width or not height:
            raise InvalidVideo("The video's picture size cannot be read: the file is damaged.")
        if max(width, height) > max_side or min(width, height) > max_short_side:
            raise InvalidVideo(
                f"The video is {width} × {height} pixels; films up to {max_side} × "
                f"{max_short_side} (1080p) can be colorized. Make it smaller first."
            )
        times, sound_end = _frame_times(container, video)
        audio = next(iter(container.streams.audio), None)
        info = _measure(times, video, container, sound_end)
        info.update(width=width, height=height, has_audio=audio is not None,
                    audio_codec=audio.codec_context.name if audio else None,
                    codec=video.codec_context.name, container=container.format.name)  # fmt: skip
    result = VideoInfo(**info, rotation=_first_frame_rotation(path))
    if result.duration > max_seconds + 0.5 / max(result.fps, 1e-6):
        raise InvalidVideo(
            f"The video lasts {result.duration:.1f} s; films up to {max_seconds:g} s can be "
            "colorized. Cut it shorter first."
        )
    return result


def _file_size(path: str | os.PathLike, max_bytes: int) -> int:
    try:
        size = Path(path).stat().st_size
    except OSError as exc:
        raise InvalidVideo(f"The video file cannot be read ({exc.strerror or exc}).") from exc
    if size > max_bytes:
        raise InvalidVideo(
            f"The file is {size / 2**20:.0f} MB; films up to {max_bytes / 2**20:.0f} MB can be "
            "colorized."
        )
    return size


def _open(path: str | os.PathLike, size: int) -> av.container.InputContainer:
    try:
        return av.open(str(path), mode="r", metadata_errors="ignore")
    except (av.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        if size and _looks_like_video(path):
            raise InvalidVideo(
                "The video file is damaged or incomplete (perhaps the upload was cut short): "
                "it cannot be opened."
            ) from exc
        raise InvalidVideo(
            "The file is not a video (MP4, MOV, WebM, AVI or MKV) that can be read."
        ) from exc


def _looks_like_video(path: str | os.PathLike) -> bool:
    with open(path, "rb") as handle:
        head = handle.read(16)
    return any(head[at : at + len(magic)] == magic for at, magic in _MAGIC)


def _video_stream(container: av.container.InputContainer) -> av.VideoStream:
    video = next(iter(container.streams.video), None)
    if video is None or video.codec_context is None:
        if container.streams.audio:
            raise InvalidVideo("The file holds only sound: there are no pictures to colorize.")
        raise InvalidVideo("The file has no video stream: there are no pictures to colorize.")
    if video.disposition & av.stream.Disposition.attached_pic:  # a song with its cover picture
        raise InvalidVideo("The file holds only sound and a still picture, not a film.")
    return video


def _frame_times(
    container: av.container.InputContainer, video: av.VideoStream
) -> tuple[np.ndarray, float]:
    """Each video packet's presentation time in the stream's time base, in order, and where
    the sound's packets end (seconds; 0 without sound)."""
    audio = next(iter(container.streams.audio), None)
    stamps, sound_end = [], 0.0
    try:
        for packet in container.demux(*([video] + ([audio] if audio is not None else []))):
            if packet.size == 0:  # the flush packet at the end
                continue
            stamp = packet.pts if packet.pts is not None else packet.dts
            if packet.stream is not video:
                if stamp is not None and packet.time_base:
                    end = (stamp + (packet.duration or 0)) * packet.time_base
                    sound_end = max(sound_end, float(end))
                continue
            stamps.append(stamp if stamp is not None else len(stamps))
    except av.FFmpegError as exc:
        raise InvalidVideo(
            f"The video is damaged after {len(stamps)} frames (perhaps the upload was cut short)."
        ) from exc
    if len(stamps) < 2:
        raise InvalidVideo(
            "The video has only one frame: too short to be a film. Colorize it as a photo."
            if stamps
            else "The video has no frames."
        )
    return np.sort(np.asarray(stamps, dtype=np.int64)), sound_end


def _measure(times: np.ndarray, video: av.VideoStream, container, sound_end: float) -> dict:
    """Frame count, duration, average rate and regularity from the packets' times; a clip that
    ends well before the length its header declares is refused as truncated."""
    base = video.time_base or Fraction(1, 90000)
    steps = np.diff(times)
    usual = float(np.median(steps)) if len(steps) else 0.0
    if usual <= 0:
        raise InvalidVideo("The video's frames have no usable timestamps: the file is damaged.")
    frames = len(times)
    duration = float((int(times[-1] - times[0]) + usual) * base)
    declared = _declared_duration(video, container)
    start = float(times[0] * base)
    if declared and max(duration + start, sound_end) < TRUNCATED_FRACTION * declared - 0.5:
        raise InvalidVideo(
            f"The video is incomplete: it should last {declared:.1f} s but its frames stop "
            f"after {duration:.1f} s (perhaps the upload was cut short)."
        )
    variable = bool(steps.max() - steps.min() > VFR_SPREAD * usual)
    rate = Fraction(frames) / (Fraction(int(times[-1] - times[0]) + round(usual)) * base)
    if not variable and video.average_rate:  # the exact rate the file states (30000/1001)
        rate = Fraction(video.average_rate)
    return {"fps": float(rate), "rate": rate, "frames": frames, "duration": duration,
            "variable_frame_rate": variable}  # fmt: skip


def _declared_duration(video: av.VideoStream, container) -> float | None:
    """The length the file's header states: the video stream's, else the whole file's."""
    if video.duration and video.time_base:
        return float(video.duration * video.time_base)
    if container.duration:
        return container.duration / av.time_base
    return None


def _first_frame_rotation(path: str | os.PathLike) -> int:
    """Decode the first frame (so a stream that cannot be decoded is refused here, not hours
    later) and read its display rotation."""
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            frame = next(container.decode(video=0))
    except (av.FFmpegError, StopIteration) as exc:
        raise InvalidVideo("The video's pictures cannot be decoded: the file is damaged.") from exc
    return round(frame.rotation or 0)
