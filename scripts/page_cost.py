"""What one request to each of the busiest pages costs, measured in-process (see scripts/page-cost).

Runs Django as scripts/serve does (DEBUG off, the collected, hashed static files, the same
middleware and context processors) and sends each request through Django's WSGI handler, as
gunicorn does: the database connection is closed after each request (CONN_MAX_AGE 0 on SQLite)
and cookies are kept as a browser keeps them. The data is scripts/load-fixtures' account with 200
finished jobs: pages are read signed in by its session, the API with its token.

Prints, per page: CPU ms per request (median and 90th percentile, time.process_time), wall ms,
SQL queries and the response's size. A measurement tool, not a test: run it under `nice` on a
quiet machine and compare figures taken in one run.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import runpy
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "coloria_site.settings")
# As scripts/serve runs the site; throttles and quotas off, as for scripts/load-test's figures.
os.environ.setdefault("COLORIA_STATIC_MANIFEST", "true")
os.environ.setdefault("COLORIA_DB_CONN_MAX_AGE", "60")
os.environ.setdefault("COLORIA_SECRET_KEY", "page-cost-measurements-only")
os.environ.setdefault("COLORIA_API_READ_RATE", "off")
os.environ.setdefault("COLORIA_DAILY_JOBS_PER_USER", "0")
os.environ["COLORIA_DEBUG"] = "false"

PAGES = ("home", "job", "history", "api")


@dataclass(frozen=True)
class Figures:
    page: str
    cpu_ms: list[float]
    wall_ms: list[float]
    queries: int
    size: int
    status: int

    def row(self) -> str:
        cpu, wall = sorted(self.cpu_ms), sorted(self.wall_ms)
        p90 = cpu[int(0.9 * (len(cpu) - 1))]
        return (
            f"{self.page:<8} {statistics.median(cpu):8.2f} {p90:8.2f} "
            f"{statistics.median(wall):8.2f} {self.queries:7d} {self.size:8d} {self.status:6d}"
        )


class Browser:
    """Sends GET requests through the WSGI handler, keeping cookies as a browser does."""

    def __init__(self, cookies: dict[str, str], headers: dict[str, str]) -> None:
        from django.core.handlers.wsgi import WSGIHandler
        from django.test import RequestFactory

        self.app = WSGIHandler()
        self.factory = RequestFactory()
        self.cookies = dict(cookies)
        self.headers = headers

    def get(self, path: str) -> tuple[int, int]:
        """(status, body size) of one request."""
        cookie = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        environ = self.factory.get(path, HTTP_COOKIE=cookie, **self.headers).environ
        statuses: list[str] = []
        response = self.app(environ, lambda status, headers: statuses.append(status))
        size = sum(len(chunk) for chunk in response)
        response.close()  # as a WSGI server does: request_finished, the connection closed
        for name, morsel in SimpleCookie(response.cookies.output(header="")).items():
            self.cookies[name] = morsel.value
        return int(statuses[0].split()[0]), size


def prepare() -> dict[str, str]:
    """Settings loaded, database migrated, static files collected (as scripts/serve does), the
    fixture account ready; returns load-fixtures' session, token and job id."""
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    call_command("collectstatic", verbosity=0, interactive=False)
    fixtures = runpy.run_path(str(ROOT / "scripts" / "load-fixtures"), run_name="load_fixtures")
    return fixtures["make_fixtures"]()


def page_requests(fixtures: dict[str, str]) -> dict[str, Callable[[], tuple[int, int]]]:
    signed_in = Browser({"sessionid": fixtures["session"]}, {})
    token = Browser({}, {"HTTP_AUTHORIZATION": f"Token {fixtures['token']}"})
    return {
        "home": lambda: signed_in.get("/"),
        "job": lambda: signed_in.get(f"/jobs/{fixtures['job']}/"),
        "history": lambda: signed_in.get("/history/"),
        "api": lambda: token.get("/api/v1/jobs"),
    }


def measure(page: str, request: Callable[[], tuple[int, int]], count: int) -> Figures:
    from django.db import connection

    queries = 0

    def counted(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        nonlocal queries
        queries += 1
        return execute(sql, params, many, context)

    for _ in range(max(5, count // 10)):  # warm: templates compiled, caches filled, imports done
        request()
    cpu_ms, wall_ms = [], []
    with connection.execute_wrapper(counted):
        for _ in range(count):
            cpu, wall = time.process_time(), time.perf_counter()
            status, size = request()
            cpu_ms.append((time.process_time() - cpu) * 1000)
            wall_ms.append((time.perf_counter() - wall) * 1000)
    return Figures(page, cpu_ms, wall_ms, queries // count, size, status)


def profile(request: Callable[[], tuple[int, int]], count: int, limit: int) -> None:
    for _ in range(10):
        request()
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(count):
        request()
    profiler.disable()
    stats = pstats.Stats(profiler).strip_dirs()
    stats.sort_stats("cumulative").print_stats(limit)
    stats.sort_stats("tottime").print_stats(limit)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pages", nargs="*", help=f"some of {', '.join(PAGES)} (default: all)")
    parser.add_argument("-n", "--requests", type=int, default=200, help="per page (default 200)")
    parser.add_argument("--profile", action="store_true", help="cProfile the pages instead")
    parser.add_argument("--limit", type=int, default=40, help="rows of the profile")
    args = parser.parse_args()
    if unknown := set(args.pages) - set(PAGES):
        parser.error(f"no such page: {', '.join(sorted(unknown))}")
    args.pages = args.pages or list(PAGES)
    requests = page_requests(prepare())
    if args.profile:
        for page in args.pages:
            print(f"==> {page}")
            profile(requests[page], args.requests, args.limit)
        return
    print(f"{'page':<8} {'cpu p50':>8} {'cpu p90':>8} {'wall p50':>8} {'queries':>7} "
          f"{'bytes':>8} {'status':>6}")  # fmt: skip
    for page in args.pages:
        print(measure(page, requests[page], args.requests).row(), flush=True)
    print(f"(ms per request, {args.requests} requests a page; load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())})")  # fmt: skip


if __name__ == "__main__":
    main()
