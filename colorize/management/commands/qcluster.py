"""`manage.py qcluster`: django-q2's worker cluster, stopping cleanly however it is stopped.

django-q2 leaves SIGTERM at its default in the cluster's sentinel process, so a stop signal sent
to every process of the cluster at once (systemd's default `KillMode=control-group`, Docker's
`docker stop` on a shell-less image, `kill -TERM -<pgid>`) kills the sentinel on the spot; the
main process's handler then waits on an event the dead sentinel can never answer and hangs until
the supervisor's SIGKILL. Here, the main process first gives the sentinel a moment to die of
that same signal; if it did, there is nothing left to stop in order (every worker got the signal
too, and finishes or hands back its job: colorize.worker), and the main process goes on leaving
(it is normally waiting for the sentinel to end, in multiprocessing's exit handler).
A SIGTERM to the main process alone (`KillMode=mixed`) stops the cluster in order, as before.
"""

from __future__ import annotations

import logging
import os
import time
from multiprocessing.process import BaseProcess
from typing import Any

from django_q.cluster import Cluster
from django_q.management.commands import qcluster

log = logging.getLogger(__name__)

# How long the main process waits to see whether the signal also reached (and killed) the
# sentinel: the kernel delivers a group's signal to every member at once, so well within this.
SENTINEL_DEATH_WAIT = 0.5


class StoppableCluster(Cluster):
    def sig_handler(self, signum: int, frame: Any) -> None:
        if self.sentinel is not None and _ended(self.sentinel, SENTINEL_DEATH_WAIT):
            # The whole group was signalled: its processes stop themselves.
            log.info("the cluster's sentinel stopped on the signal; its workers stop on their own")
            return
        super().sig_handler(signum, frame)


def _ended(process: BaseProcess, timeout: float) -> bool:
    """Whether `process` (a child) ends within `timeout` seconds. Besides asking multiprocessing,
    look for the pid itself: the signal may have interrupted the main process just as its exit
    handler reaped the sentinel, before multiprocessing recorded it, and `is_alive()` would then
    call it alive for ever. (Not the process's pipe: the workers it forked hold that open.)"""
    deadline = time.monotonic() + timeout
    while True:
        if not process.is_alive():
            return True
        try:
            os.kill(process.pid, 0)
        except ProcessLookupError:
            return True  # reaped already
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)


class Command(qcluster.Command):
    def handle(self, *args: Any, **options: Any) -> None:
        # django-q2's command builds `Cluster` from its module's namespace.
        qcluster.Cluster = StoppableCluster
        super().handle(*args, **options)
