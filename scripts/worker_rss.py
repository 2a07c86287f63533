"""A worker's resident memory after 1, 10 and N jobs, run as a worker runs them: photos submitted
through the site's services, each job run by the worker's task (`colorize.tasks.run_job`) in this
one process, in a scratch data directory (its own SQLite database and media).

    scripts/worker-rss                                   # 100 jobs, the shipped models in turn
    scripts/worker-rss --jobs 100 --cache-mb 60          # the same within a 60 MB model budget
    scripts/worker-rss --models coloria-lite --jobs 100  # one model
    scripts/worker-rss --random-weights --models zhang-eccv16 zhang-siggraph17 coloria-lite
                                       # models without installed weights: random ones (as
                                       # python -m ml.benchmark does; time and memory are the same)

Prints one line per checkpoint: jobs done, resident memory now (MB), the peak so far and the
models loaded with their sizes (ml.runtime's cache).
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ("coloria-lite", "zhang-eccv16-coloria", "cnn-coloria")


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/worker-rss",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--models", nargs="+", default=list(SHIPPED), help="run in turn")
    parser.add_argument("--cache-mb", type=int, default=0, help="COLORIA_MODEL_CACHE_MB")
    parser.add_argument("--ttl", type=int, default=0, help="COLORIA_MODEL_TTL")
    parser.add_argument(
        "--random-weights", action="store_true",
        help="random weights in the official layout for models whose weights are not installed",
    )  # fmt: skip
    parser.add_argument("--size", nargs=2, type=int, default=(1024, 768), metavar=("W", "H"))
    args = parser.parse_args(argv)

    scratch = tempfile.mkdtemp(prefix="coloria-worker-rss-")
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("REDIS_URL", None)
    if args.random_weights:
        os.environ["COLORIA_WEIGHTS_DIR"] = _random_weights(args.models, Path(scratch) / "weights")
    os.environ.update(
        DJANGO_SETTINGS_MODULE="coloria_site.settings", COLORIA_DATA_DIR=scratch,
        COLORIA_SYNC_JOBS="false", COLORIA_DAILY_JOBS_PER_ANONYMOUS="0",
        COLORIA_QUEUE_NAME=f"worker-rss-{os.getpid()}",
        COLORIA_MODEL_CACHE_MB=str(args.cache_mb), COLORIA_MODEL_TTL=str(args.ttl),
    )  # fmt: skip
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    import numpy as np
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.core.management import call_command
    from django_q.brokers import get_broker
    from PIL import Image

    from colorize import tasks
    from colorize.services import submission
    from ml import runtime

    call_command("migrate", verbosity=0)
    width, height = args.size
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:height, 0:width]
    gray = 128 + 60 * np.sin(x / 90) * np.cos(y / 70) + rng.normal(0, 8, (height, width))
    buffer = io.BytesIO()
    Image.fromarray(np.clip(gray, 0, 255).astype(np.uint8)).save(buffer, "PNG")
    photo = buffer.getvalue()

    print(f"{args.jobs} jobs of a {width} x {height} photo, models in turn: "
          f"{', '.join(args.models)}; model cache "
          f"{f'{args.cache_mb:g} MB' if args.cache_mb else 'without a budget'}"
          f"{f', TTL {args.ttl:g} s' if args.ttl else ''}", flush=True)  # fmt: skip
    print(f"  start: RSS {rss_mb():.0f} MB", flush=True)
    started = time.perf_counter()
    checkpoints = {1, 10, args.jobs} | {n for n in (25, 50) if n < args.jobs}
    for number in range(1, args.jobs + 1):
        model = args.models[(number - 1) % len(args.models)]
        upload = SimpleUploadedFile("photo.png", photo, content_type="image/png")
        batch = submission.job_submit(files=[upload], model_key=model)
        for job in batch.jobs.all():
            status = tasks.run_job(str(job.pk))
            if status != "succeeded":
                job.refresh_from_db()
                print(f"job {number} ({model}): {status}: {job.error}", file=sys.stderr)
                return 1
        if number in checkpoints:
            models = ", ".join(f"{key[0]} {size / 2**20:.0f} MB"
                               for key, size in runtime.loaded().items())  # fmt: skip
            print(f"  after {number:>4} jobs: RSS {rss_mb():.0f} MB, peak {peak_mb():.0f} MB, "
                  f"{time.perf_counter() - started:.0f} s; loaded: {models or 'none'}",
                  flush=True)  # fmt: skip
    get_broker().purge_queue()
    return 0


def _random_weights(models: list[str], directory: Path) -> str:
    """A weights directory with the installed weights, and random ones for the others."""
    sys.path.insert(0, str(ROOT))
    from ml import benchmark
    from ml.registry import get_spec
    from ml.weights import is_installed, known, weights_path

    directory.mkdir(parents=True)
    for model in models:
        spec = get_spec(model)
        if not spec.weights:
            continue
        if is_installed(spec.weights):
            (directory / known(spec.weights).filename).symlink_to(weights_path(spec.weights))
        else:
            benchmark._random_weights(model, directory)
    return str(directory)


if __name__ == "__main__":
    sys.exit(main())
