"""Start a Celery grading worker: ``python -m grader.celery_worker [celery worker options]``.

The worker runs ``GRADEDESCENT_WORKERS`` pool processes (default: the
number of CPUs), each grading one submission at a time, and serves their
summed metrics on ``GRADEDESCENT_METRICS_ADDRESS:GRADEDESCENT_METRICS_PORT``.
Extra arguments go to ``celery worker`` and override these defaults.

SIGTERM is Celery's warm shutdown: the worker takes no new task, finishes the
runs it has started and then exits, acknowledging their tasks. Tasks it had
reserved but not started go back to the broker. A second SIGTERM or a
SIGKILL ends the runs at once; their leases then expire and a watchdog
requeues them (docs/deployment.md).
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from pathlib import Path

from server.config import Settings
from server.logs import configure_logging

logger = logging.getLogger("grader.celery_worker")


def main(argv: list[str] | None = None) -> None:
    settings = Settings()
    configure_logging(settings.log_format)
    if not settings.broker_url:
        sys.exit(
            "gradedescent worker: no broker configured: set GRADEDESCENT_BROKER_URL or BROKER_URL "
            "to the Redis URL, for example redis://127.0.0.1:6379/0"
        )
    if settings.workers == 0:
        sys.exit("gradedescent worker: GRADEDESCENT_WORKERS=0 would grade nothing: set it to 1 or more")

    # prometheus_client picks its multiprocess mode when it is first imported, and grader.metrics
    # (imported by grader.celery_app) creates value files in the directory at once. So the directory
    # must exist, without the files of an earlier run, before that import.
    if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="gradedescent-metrics-")
    metrics_dir = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    clear_multiprocess_dir(Path(metrics_dir))
    from grader import metrics
    from grader.celery_app import app

    if settings.metrics_port:
        try:
            metrics.start_multiprocess_exporter(settings.metrics_address, settings.metrics_port)
        except OSError as error:
            sys.exit(
                f"gradedescent worker: cannot serve metrics on {settings.metrics_address}:{settings.metrics_port}: "
                f"{error}; set GRADEDESCENT_METRICS_PORT to a free port, or 0 to turn the exporter off"
            )

    arguments = [
        "worker",
        "--pool=prefork",
        f"--concurrency={settings.workers}",
        "--loglevel=INFO",
        "--without-gossip",
        "--without-mingle",
        *(sys.argv[1:] if argv is None else argv),
    ]
    logger.info("starting the Celery worker: %s", " ".join(arguments))
    app.worker_main(arguments)


def clear_multiprocess_dir(path: Path) -> None:
    """Create ``path`` if needed and delete the value files of earlier runs, as prometheus_client requires."""
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink()


if __name__ == "__main__":
    main()
