"""The worker's parent process must not load PyTorch (or touch CUDA): forked worker processes
cannot use a CUDA context created by their parent, so models load inside each worker."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]


def test_starting_django_and_queueing_code_imports_no_framework():
    code = (
        "import django, os, sys; os.environ.setdefault('DJANGO_SETTINGS_MODULE', "
        "'coloria_site.settings'); django.setup(); import colorize.tasks, colorize.services, "
        "colorize.views; bad = [m for m in ('torch', 'tensorflow') if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_queue_settings_run_a_job_once():
    cluster = settings.Q_CLUSTER
    assert cluster["timeout"] < cluster["retry"], "a long job would be handed out twice"
    assert cluster["max_attempts"] >= 1 and cluster["ack_failures"] is True
    assert cluster["recycle"] > 0
