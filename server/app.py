"""The FastAPI application and its lifespan: database, TA token and worker pool."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from grader import sandbox
from grader.sandbox import SandboxMode
from grader.worker import WorkerPool
from server.config import Settings
from server.db import make_engine, make_session_factory
from server.routes import health, labs, pages, submissions, ta
from server.security import load_or_create_ta_token

logger = logging.getLogger(__name__)

SHUTDOWN_GRACE_SECONDS = 15.0


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; the database must already be migrated (``server.migrate.upgrade``)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.resolved_database_url)
        app.state.session_factory = make_session_factory(engine)
        app.state.ta_token = _ta_token(settings)
        pool = _start_pool(settings, app)
        app.state.notify_workers = pool.notify if pool else (lambda: None)
        logger.info("gradedescent started: database %s", engine.url.render_as_string(hide_password=True))
        try:
            yield
        finally:
            if pool is not None:
                pool.stop(SHUTDOWN_GRACE_SECONDS)
            engine.dispose()
            logger.info("gradedescent stopped")

    app = FastAPI(
        title="gradedescent",
        summary="Autograder for gradient-descent optimisation labs",
        lifespan=lifespan,
    )
    app.state.settings = settings
    for module in (health, labs, submissions, ta, pages):
        app.include_router(module.router)
    return app


def _ta_token(settings: Settings) -> str:
    if settings.ta_token is not None:
        return settings.ta_token.get_secret_value()
    path = settings.data_dir / "ta_token"
    token, created = load_or_create_ta_token(path)
    if created:
        # Shown once, on the terminal of whoever starts the service; the log never gets it.
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
    )
    pool.start()
    return pool
