"""Speed, steadiness and memory of the film pipeline: `python -m ml.video.benchmark` (also
`python -m ml.benchmark --video`).

    python -m ml.video.benchmark                          # the shipped models at 480p and 720p
    python -m ml.video.benchmark --models zhang-eccv16-coloria --sizes 1280x720 --frames 48
    python -m ml.video.benchmark --smoothing-only         # flicker: off, ema and flow

The film is generated: a textured gray scene the camera pans across, with film grain, and a cut
to another scene halfway (so smoothing restarts once). Each run is a fresh process so that its
peak resident memory (RSS) is its own; it uses the installed weights (the shipped ones are always
there). Seconds per frame count everything after the model is loaded: decoding, prediction,
smoothing, joining the chroma to the frame's lightness, and encoding. Flicker is the report's
mean |Δab| between consecutive output frames (cuts excluded); on a panning shot part of it is the
motion itself, so compare the settings with one another, not with zero.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SHIPPED_MODELS = ("cnn-coloria", "zhang-eccv16-coloria", "coloria-lite")
SIZES = ((854, 480), (1280, 720))
SMOOTHING_SETTINGS = ((0.0, "ema"), (0.6, "ema"), (0.6, "flow"))


def make_film(
    path: Path, width: int, height: int, frames: int, fps: int = 24, pan: int = 2
) -> Path:
    """A grainy gray film panning `pan` pixels a frame, with one cut halfway (see the module's
    docstring)."""
    import av
    import numpy as np

    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:height, 0 : width + frames * pan].astype(np.float32)
    scenes = [
        110 + 60 * np.sin(x / 23.0) * np.cos(y / 17.0) + 30 * np.sin((x + y) / 61.0),
        170 - 50 * np.cos(x / 41.0) * np.sin(y / 9.0) - 0.03 * y,
    ]
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=fps, options={"crf": "20", "preset": "veryfast"})
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        for index in range(frames):
            shot = scenes[0] if index < frames // 2 else scenes[1]
            view = shot[:, index * pan : index * pan + width]
            gray = np.clip(view + rng.normal(0, 6, view.shape), 0, 255).astype(np.uint8)
            frame = av.VideoFrame.from_ndarray(np.stack([gray] * 3, axis=-1), format="rgb24")
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
    return path


def _child(model: str, film: str, smoothing: float, method: str) -> None:
    """Colorize `film` in this process; print a JSON line of figures."""
    import ml
    from ml import runtime
    from ml.video import colorize_video

    ml.configure(device="cpu")
    started = time.perf_counter()
    runtime.load_predictor(ml.get_spec(model))
    load_seconds = time.perf_counter() - started
    with tempfile.TemporaryDirectory(prefix="coloria-video-") as scratch:
        report = colorize_video(film, Path(scratch) / "out.mp4", model, device="cpu",
                                smoothing=smoothing, smoothing_method=method)  # fmt: skip
    print(json.dumps({
        "load_seconds": load_seconds, "frames": report.frames,
        "seconds_per_frame": report.seconds_per_frame, "flicker": report.flicker,
        "scene_cuts": report.scene_cuts, "smoothing": report.smoothing,
        "lag": report.details["lag"], "chroma_flicker": report.details["chroma_flicker"],
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))  # fmt: skip


def _measure(model: str, film: Path, smoothing: float, method: str) -> dict | None:
    command = [sys.executable, "-m", "ml.video.benchmark", "--child", model, str(film),
               str(smoothing), method]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
        print(f"  {model}: failed: {tail[0]}", flush=True)
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_speed(models, sizes, frames: int, scratch: Path, out=sys.stdout) -> list[dict]:
    """Seconds per frame and peak RSS per model and size, default smoothing."""
    from ml.video.pipeline import DEFAULT_METHOD, DEFAULT_SMOOTHING

    rows = []
    print(f"{'model':<22} {'size':>10} {'frames':>6} {'s / frame':>9} {'load s':>7} "
          f"{'flicker':>8} {'peak RSS MB':>11}", file=out, flush=True)  # fmt: skip
    for width, height in sizes:
        film = make_film(scratch / f"film-{width}x{height}-{frames}.mp4", width, height, frames)
        for model in models:
            row = _measure(model, film, DEFAULT_SMOOTHING, DEFAULT_METHOD)
            if row is None:
                continue
            rows.append({"model": model, "size": f"{width}x{height}", **row})
            line = (
                f"{model:<22} {width:>5}x{height:<4} {row['frames']:>6} "
                f"{row['seconds_per_frame']:>9.3f} {row['load_seconds']:>7.1f} "
                f"{row['flicker']:>8.3f} {row['peak_rss_mb']:>11.0f}"
            )
            print(line, file=out, flush=True)
    return rows


def run_smoothing(model: str, size, frames: int, scratch: Path, out=sys.stdout) -> list[dict]:
    """Flicker, lag and seconds per frame without smoothing, with the moving average and with
    the flow-compensated one, on a still shot and on a pan."""
    width, height = size
    rows = []
    for pan in (0, 4):
        film = make_film(scratch / f"film-{width}x{height}-{frames}-pan{pan}.mp4", width,
                         height, frames, pan=pan)  # fmt: skip
        shot = f"panning {pan} px a frame" if pan else "a still shot"
        print(f"\nsmoothing, {model} at {width}x{height}, {frames} frames, {shot}, one cut",
              file=out)  # fmt: skip
        print(f"{'smoothing':<10} {'flicker':>8} {'chroma':>7} {'lag':>6} {'s / frame':>9} "
              f"{'cuts':>6}",
              file=out)  # fmt: skip
        for strength, method in SMOOTHING_SETTINGS:
            row = _measure(model, film, strength, method)
            if row is None:
                continue
            rows.append({"pan": pan, **row})
            print(f"{row['smoothing']:<10} {row['flicker']:>8.3f} {row['chroma_flicker']:>7.3f} "
                  f"{row['lag']:>6.2f} "
                  f"{row['seconds_per_frame']:>9.3f} {row['scene_cuts']!s:>6}", file=out,
                  flush=True)  # fmt: skip
    return rows


def _size(text: str) -> tuple[int, int]:
    width, _, height = text.partition("x")
    return int(width), int(height)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        model, film, smoothing, method = argv[1:5]
        _child(model, film, float(smoothing), method)
        return 0
    parser = argparse.ArgumentParser(
        prog="python -m ml.video.benchmark",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--models", nargs="+", default=list(SHIPPED_MODELS))
    parser.add_argument("--sizes", nargs="+", type=_size, default=list(SIZES))
    parser.add_argument("--frames", type=int, default=24, help="frames of the generated film")
    parser.add_argument("--smoothing-model", default="zhang-eccv16-coloria")
    parser.add_argument("--smoothing-only", action="store_true")
    parser.add_argument("--no-smoothing", action="store_true", help="skip the smoothing table")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="coloria-video-bench-") as scratch:
        rows = []
        if not args.smoothing_only:
            rows += run_speed(args.models, args.sizes, args.frames, Path(scratch))
        if not args.no_smoothing:
            rows += run_smoothing(args.smoothing_model, args.sizes[0], args.frames, Path(scratch))
    return 0 if rows else 1


if __name__ == "__main__":
    sys.exit(main())
