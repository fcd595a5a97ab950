"""Prometheus metrics of the processes that grade.

The local pool counts into the API process's default registry, which the
API's ``/metrics`` route exports. A Celery worker grades in forked pool
processes, so ``grader.celery_worker`` sets ``PROMETHEUS_MULTIPROC_DIR``
before prometheus_client is imported: every process then writes its values to
files in that directory, and the worker's main process serves their sum (see
``start_multiprocess_exporter``). Queue depth and the other database counts
are not here: the API computes them from the database at each scrape.
"""

from __future__ import annotations

import logging

from prometheus_client import CollectorRegistry, Counter, Histogram, multiprocess, start_http_server

logger = logging.getLogger(__name__)

SANDBOX_STARTS = Counter(
    "gradedescent_sandbox_starts",
    "Sandboxes started: one per cold graded attempt, and one per warm sandbox (re)start.",
)
GRADED = Counter(
    "gradedescent_graded",
    "Submissions whose verdict this process stored, by verdict.",
    ["verdict"],
)
REQUEUED = Counter(
    "gradedescent_requeued",
    "Submissions put back in the queue, by reason: lease_expired, internal_error or shutdown.",
    ["reason"],
)
LATENCY = Histogram(
    "gradedescent_grading_latency_seconds",
    "Seconds from a submission's creation to its stored verdict, time in the queue included.",
    buckets=(1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200),
)
RUN_WALL = Histogram(
    "gradedescent_run_wall_seconds",
    "Wall-clock seconds of one sandboxed run over all of a submission's cases, sandbox start-up included.",
    buckets=(0.5, 1, 2, 3, 5, 10, 20, 30, 60, 120, 300),
)


def start_multiprocess_exporter(address: str, port: int) -> None:
    """Serve the sum over this worker's processes on ``http://address:port/metrics`` from a daemon thread.

    Raises
    ------
    OSError
        If the port cannot be bound.
    """
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    start_http_server(port, addr=address, registry=registry)
    logger.info("metrics exporter listening on http://%s:%d/metrics", address, port)
