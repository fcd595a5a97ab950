"""The Prometheus endpoint: this process's metrics and the queue's counts read from the database."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from server.models import Status, Submission, utc_now

router = APIRouter(tags=["metrics"])


class DatabaseCollector(Collector):
    """Gauges computed from the submissions table at each scrape, so they cover every worker."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self.factory = factory

    def collect(self) -> Iterator[Metric]:
        with self.factory() as session:
            counts = session.execute(
                select(Submission.status, Submission.verdict, func.count()).group_by(
                    Submission.status, Submission.verdict
                )
            ).all()
            oldest = session.scalar(
                select(func.min(Submission.created_at)).where(Submission.status == Status.QUEUED.value)
            )

        by_status = {status.value: 0 for status in Status}
        by_verdict: dict[str, int] = {}
        for status, verdict, count in counts:
            by_status[status] = by_status.get(status, 0) + count
            if status == Status.DONE.value and verdict is not None:
                by_verdict[verdict] = count

        yield GaugeMetricFamily(
            "gradedescent_queue_depth",
            "Submissions queued and waiting for a worker.",
            value=by_status[Status.QUEUED.value],
        )
        yield GaugeMetricFamily(
            "gradedescent_running_submissions",
            "Submissions that a worker holds a lease on.",
            value=by_status[Status.RUNNING.value],
        )
        wait = GaugeMetricFamily(
            "gradedescent_oldest_queued_seconds",
            "Seconds the oldest queued submission has waited; 0 when the queue is empty.",
        )
        wait.add_metric([], (utc_now() - oldest).total_seconds() if oldest is not None else 0.0)
        yield wait
        verdicts = GaugeMetricFamily(
            "gradedescent_submissions_by_verdict",
            "Graded submissions in the database, by verdict.",
            labels=["verdict"],
        )
        for verdict, count in sorted(by_verdict.items()):
            verdicts.add_metric([verdict], count)
        yield verdicts


def database_registry(factory: sessionmaker[Session]) -> CollectorRegistry:
    """Return a registry with the database gauges, one per app so that tests can build several apps."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector(factory))
    return registry


@router.get("/metrics", summary="Export metrics in the Prometheus text format")
def metrics(request: Request) -> Response:
    body = generate_latest(REGISTRY) + generate_latest(request.app.state.metrics_registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
