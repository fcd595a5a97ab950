"""The FastAPI application and its lifespan: database, TA token, and the worker pool or the Celery broker."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from kombu.utils.url import maybe_sanitize_url

from grader import sandbox
from grader.dispatch import Dispatcher, make_celery
from grader.sandbox import SandboxMode
from grader.worker import WorkerPool
from server import accounts, error_responses
from server.body_limit import BodySizeLimit
from server.config import Settings
from server.db import make_engine, make_session_factory
from server.routes import (
    auth_pages,
    health,
    labs,
    me,
    metrics,
    pages,
    result_pages,
    submissions,
    ta,
    ta_accounts,
    ta_reports,
    ta_roster,
    ta_submissions,
)
from server.security import load_or_create_ta_token

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).with_name("static")


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; the database must already be migrated (``server.migrate.upgrade``)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.resolved_database_url)
        app.state.session_factory = make_session_factory(engine)
        accounts.bootstrap(app.state.session_factory, _ta_token(settings))
        app.state.metrics_registry = metrics.database_registry(app.state.session_factory)
        pool = None
        dispatcher = None
        if settings.broker_url:
            # Scale-out: Celery workers grade; the API only sends each committed submission's id.
            dispatcher = Dispatcher(make_celery(settings.broker_url), app.state.session_factory)
            app.state.notify_workers = dispatcher.send
            logger.info(
                "grading by Celery workers through the broker %s; no local pool",
                maybe_sanitize_url(settings.broker_url),
            )
        else:
            pool = _start_pool(settings, app)
            app.state.notify_workers = (lambda _submission_id: pool.notify()) if pool else (lambda _: None)
        logger.info("gradedescent started: database %s", engine.url.render_as_string(hide_password=True))
        try:
            yield
        finally:
            if pool is not None:
                pool.stop(settings.shutdown_grace_seconds)
            if dispatcher is not None:
                dispatcher.app.close()
            engine.dispose()
            logger.info("gradedescent stopped")

    app = FastAPI(
        title="gradedescent",
        summary="Autograder for gradient-descent optimisation labs",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.add_middleware(BodySizeLimit)
    for module in (
        health,
        labs,
        submissions,
        me,
        ta,
        ta_roster,
        ta_accounts,
        ta_submissions,
        ta_reports,
        pages,
        result_pages,
        auth_pages,
        metrics,
    ):
        app.include_router(module.router)
    # The leaderboard page's refresh script; pages work without it.
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    error_responses.install(app)
    return app


def _ta_token(settings: Settings) -> str:
    if settings.ta_token is not None:
        return settings.ta_token.get_secret_value()
    path = settings.data_dir / "ta_token"
    token, created = load_or_create_ta_token(path)
    if created:
        # Printed once, on the terminal of the person who starts the service. The log never contains it.
        print(f"gradedescent: generated the TA token {token} (stored in {path})", flush=True)
    return token


def _start_pool(settings: Settings, app: FastAPI) -> WorkerPool | None:
    if settings.workers == 0:
        logger.info("no workers: submissions stay queued until a worker process takes them")
        return None
    sandbox.check_available(settings.sandbox)
    if settings.sandbox is SandboxMode.NONE:
        logger.warning(
            "GRADEDESCENT_SANDBOX=none: student code runs without isolation; use this for local experiments only"
        )
    pool = WorkerPool(
        app.state.session_factory,
        size=settings.workers,
        limits=settings.limits,
        mode=settings.sandbox,
        runs_dir=settings.runs_dir,
        lease_seconds=settings.lease_seconds,
        poll_seconds=settings.poll_seconds,
        warm=settings.warm_pool,
        log_format=settings.log_format,
    )
    pool.start()
    return pool
