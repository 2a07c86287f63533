"""Errors of the video pipeline, each with a message a person can act on (the site shows
`str(error)`)."""

from ml.errors import ColorizeError


class InvalidVideo(ColorizeError):
    """The file is not a film that can be colorized: not a video, damaged, over the limits."""


class VideoCancelled(ColorizeError):
    """`should_cancel()` said stop; the frames done so far stay in the work folder."""


class VideoTimeLimit(ColorizeError):
    """Colorizing took longer than `max_seconds`; the frames done so far stay in the work folder."""
