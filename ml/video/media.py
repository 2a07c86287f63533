"""Reading a film's frames and writing the colorized MP4 with PyAV (FFmpeg's libraries from its
wheel; nothing is run in a shell).

The output is H.264 (libx264, yuv420p) in MP4 with the source's frame timestamps, so its frame
rate, frame count and duration are the source's (a variable-frame-rate clip stays so, in step
with its sound). yuv420p needs even sides: a source with an odd width or height gets one more
column or row, a copy of its last one (nothing of the picture is cut). The first sound track is
copied packet for packet when MP4 can hold its codec, else re-encoded to AAC.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from fractions import Fraction
from typing import BinaryIO

import av
import numpy as np
from PIL import Image

from ml.video.errors import InvalidVideo

# Sound codecs that MP4 holds: their packets are copied as they are.
MP4_AUDIO = frozenset({"aac", "mp3", "opus", "alac", "flac", "ac3", "eac3"})
# libx264: quality 18 is visually lossless for most films; "veryfast" keeps the encoder a small
# share of the time beside the model.
X264_OPTIONS = {"crf": "18", "preset": "veryfast"}


def upright(image: Image.Image, rotation: int) -> Image.Image:
    """A frame turned by its film's display rotation, as a player shows it."""
    return image.rotate(rotation, expand=True) if rotation else image


def first_frame(src: str | os.PathLike | BinaryIO) -> Image.Image:
    """A film's first picture (RGB), upright as a player shows it: its poster before colour."""
    with av.open(src if hasattr(src, "read") else str(src)) as container:
        frame = next(container.decode(video=0))
        return upright(frame.to_image().convert("RGB"), round(frame.rotation or 0))


def even_size(width: int, height: int) -> tuple[int, int]:
    return width + width % 2, height + height % 2


class FilmReader:
    """The film's decoded video frames, in order; its sound packets go to `on_audio`."""

    def __init__(self, path: str | os.PathLike) -> None:
        try:
            self.container = av.open(str(path), mode="r", metadata_errors="ignore")
        except av.FFmpegError as exc:
            raise InvalidVideo("The video file cannot be opened any more.") from exc
        self.video = self.container.streams.video[0]
        self.video.thread_type = "AUTO"
        self.audio = next(iter(self.container.streams.audio), None)

    def frames(self, on_audio) -> Iterator[av.VideoFrame]:
        streams = [self.video] + ([self.audio] if self.audio is not None else [])
        packets = iter(self.container.demux(*streams))
        count = 0
        while True:
            try:  # only reading the source is guarded: a failure there is a damaged file
                packet = next(packets)
                decoded = [] if packet.stream is self.audio else packet.decode()
            except StopIteration:
                return
            except av.FFmpegError as exc:
                raise InvalidVideo(
                    f"The video is damaged after frame {count}: it cannot be decoded further."
                ) from exc
            if packet.stream is self.audio:
                on_audio(packet)
            for frame in decoded:
                count += 1
                yield frame

    def close(self) -> None:
        self.container.close()


class FilmWriter:
    """An MP4 being written: colorized frames in, sound packets from the source copied or
    re-encoded."""

    def __init__(
        self,
        path: str | os.PathLike,
        reader: FilmReader,
        rate: Fraction,
        constant: bool,
        rotation: int = 0,
    ) -> None:
        source = reader.video.codec_context
        self.width, self.height = even_size(source.width, source.height)
        self.padding = (self.height - source.height, self.width - source.width)
        self.container = av.open(str(path), mode="w", format="mp4")
        self.video = self.container.add_stream("libx264", rate=rate, options=dict(X264_OPTIONS))
        self.video.width, self.video.height = self.width, self.height
        self.video.pix_fmt = "yuv420p"
        if rotation:  # a phone's upright film stays upright
            self.video.set_display_rotation(rotation)
        # A constant-rate film is written at exactly its rate (frame i at i / rate, after the
        # first frame's own start); a variable-rate one keeps each frame's source timestamp.
        self.constant = constant
        self.source_base = reader.video.time_base or Fraction(1, 90000)
        self.time_base = 1 / rate if constant else self.source_base
        self.first: int | None = None
        self.video.codec_context.time_base = self.time_base
        self.rate = rate
        self.last_pts: int | None = None
        self.audio_in = reader.audio
        self.audio_out = None
        self.audio_action = None
        if reader.audio is not None:
            self._add_audio(reader.audio)

    def _add_audio(self, source: av.AudioStream) -> None:
        name = source.codec_context.name
        if name in MP4_AUDIO:
            self.audio_out = self.container.add_stream_from_template(source)
            self.audio_action = f"copied ({name})"
        else:
            rate = source.codec_context.sample_rate or 48000
            self.audio_out = self.container.add_stream("aac", rate=rate)
            layout = source.codec_context.layout
            channels = layout.nb_channels if layout is not None else 0
            self.audio_out.codec_context.layout = "mono" if channels == 1 else "stereo"
            self.audio_out.codec_context.format = "fltp"  # what FFmpeg's AAC encoder takes
            self.audio_action = f"re-encoded ({name} to aac)"

    def add_audio(self, packet: av.Packet) -> None:
        if self.audio_out is None:
            return
        if self.audio_action.startswith("copied"):
            if packet.size == 0 or packet.dts is None:
                return
            packet.stream = self.audio_out
            self.container.mux(packet)
            return
        for frame in packet.decode():
            frame.pts = None  # the encoder numbers the samples itself, from the first one
            self.container.mux(self.audio_out.encode(frame))

    def add_frame(self, rgb: np.ndarray, source: av.VideoFrame, index: int) -> None:
        """One colorized frame (H, W, 3 uint8, the source's size) at the source frame's time."""
        if self.padding != (0, 0):
            rgb = np.pad(rgb, ((0, self.padding[0]), (0, self.padding[1]), (0, 0)), mode="edge")
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        pts = source.pts
        if self.constant or pts is None:  # also for containers without timestamps (some AVI)
            if self.first is None:
                start = (pts or 0) * self.source_base
                self.first = round(start / self.time_base) if self.constant else 0
            pts = self.first + round(index / self.rate / self.time_base)
        if self.last_pts is not None and pts <= self.last_pts:
            pts = self.last_pts + 1  # the encoder needs rising timestamps
        self.last_pts = pts
        frame.pts, frame.time_base = pts, self.time_base
        self.container.mux(self.video.encode(frame.reformat(format="yuv420p")))

    def close(self) -> None:
        """Flush the encoders and finish the file."""
        self.container.mux(self.video.encode(None))
        if self.audio_out is not None and not self.audio_action.startswith("copied"):
            self.container.mux(self.audio_out.encode(None))
        self.container.close()

    def abandon(self) -> None:
        with contextlib.suppress(av.FFmpegError, ValueError, OSError):
            self.container.close()
