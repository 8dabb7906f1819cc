"""The application factory: one FastAPI app serving the API, the docs and the UI."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.routing import APIRoute

from assay import pillars
from assay.api import errors, health, keys, users
from assay.api.context import AppContext
from assay.api.middleware import BodyLimit, RequestContext
from assay.api.routing import build_route_contexts, skip_routers_by_prefix
from assay.core import migrate
from assay.core.db import Database
from assay.core.settings import Settings, get_settings

API_PREFIX = "/api/v1"


def _operation_id(route: APIRoute) -> str:
    return route.name


def build_context(settings: Settings) -> AppContext:
    from assay.core.blobs import open_store

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.resolved_database_url)
    return AppContext(settings=settings, db=db, blobs=open_store(settings))


def create_app(
    settings: Settings | None = None,
    *,
    context: AppContext | None = None,
    migrate_on_start: bool = True,
    run_workers: bool | None = None,
) -> FastAPI:
    """Build the app. Workers start with the server unless `run_workers` is False."""
    settings = settings or (context.settings if context else get_settings())
    pillars.load(settings)
    ctx = context or build_context(settings)
    from assay.curation.snapshots import SNAPSHOTS

    # Dataset snapshots are saved under the data directory so a restart loads, not rebuilds.
    SNAPSHOTS.configure(settings.data_dir / "snapshots")
    want_workers = settings.workers > 0 if run_workers is None else run_workers

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if migrate_on_start:
            migrate.upgrade(ctx.db)
        runner = None
        if want_workers:
            from assay.core.worker import WorkerPool

            runner = WorkerPool(ctx, threads=settings.workers, name="serve")
            runner.start()
            ctx.runner = runner
        if settings.warm_routes:
            build_route_contexts(app)
        # What exists now (routes, compiled statements, caches) lives as long as the process:
        # keep it out of the collector's scans, whose pauses showed in the queue's p99.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            if runner is not None:
                runner.stop()
            loop_pool = getattr(app.state, "loop_pool", None)  # api/queue.py's
            if loop_pool is not None:
                app.state.loop_pool = None
                await loop_pool.close()
            if context is None:
                ctx.db.dispose()

    app = FastAPI(
        title="Assay",
        version="0.1.0",
        summary="Self-hosted data engine: label, curate, evaluate.",
        openapi_url="/api/openapi.json",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
    )
    app.state.ctx = ctx
    errors.install(app)

    # Each module's router straight under the app (not under one /api/v1 router): FastAPI
    # walks a nested router's routes again for every request it matches there.
    for module in _api_modules():
        app.include_router(module.router, prefix=API_PREFIX)
    from assay.api import queue as queue_routes  # the labeling queue's hot pair, matched first

    app.router.routes[:0] = queue_routes.fast_routes(API_PREFIX)
    from assay.compat import nucleus, scale_v1, scale_v2  # Scale's APIs for the official clients

    app.include_router(scale_v1.router)
    app.include_router(scale_v2.router)
    app.include_router(nucleus.router)
    app.include_router(health.router)
    from assay.api import media  # /media/{sha256}: outside /api/v1, signed URLs only

    app.include_router(media.router)

    from assay.web import pages

    pages.install(app)

    skip_routers_by_prefix(app)  # after the last route: routers are given their paths' heads
    app.add_middleware(
        BodyLimit,
        default=settings.max_request_bytes,
        by_prefix={
            f"{API_PREFIX}/blobs": settings.max_upload_bytes,
            f"{API_PREFIX}/eval-sets": settings.max_upload_bytes,  # imports: the file is the body
            "/v1/files/upload": settings.max_upload_bytes,
            "/v1/nucleus/upload/": settings.max_upload_bytes,
        },
    )
    app.add_middleware(RequestContext)
    return app


def app_from_environment() -> FastAPI:
    """The factory `assay serve --processes N` gives uvicorn: each server process builds its
    app from the environment; the parent has migrated the database before starting them."""
    from assay.core import logs

    settings = get_settings()
    logs.configure(fmt=settings.log_format, level=settings.log_level)
    return create_app(settings, migrate_on_start=False)


def _api_modules() -> list:
    from assay.api import (
        batches,
        blobs,
        datasets,
        embeddings,
        evaluations,
        exports,
        grading,
        jobs,
        judges,
        ml_models,
        object_embeddings,
        projects,
        providers,
        queue,
        scenarios,
        slices,
        task_bulk,
        task_detail,
        tasks,
        webhooks,
        workforce,
    )
    from assay.api import quality as quality_routes
    from assay.api import quality_stats as quality_stats_routes
    from assay.api import task_context as task_context_routes

    # The labeling queue first: routes are matched in order, and it is the hottest path.
    modules = [queue, users, keys, jobs, webhooks, blobs, exports, projects, batches, tasks]
    modules += [task_bulk, task_detail]
    # Workforce before batches: /batches/priorities must match before /batches/{batch_id}.
    modules.insert(modules.index(batches), workforce)
    modules.append(quality_stats_routes)
    modules.append(quality_routes)
    modules.append(task_context_routes)
    modules.append(datasets)
    modules.append(slices)
    modules.append(embeddings)
    modules.append(object_embeddings)
    modules.append(ml_models)
    modules.append(evaluations)
    modules.append(scenarios)
    modules.append(providers)
    from assay.api import eval_sets

    modules.append(eval_sets)
    # The evaluate pillar's human grading: judge calibrations, human evaluations, profiles.
    from assay.api import calibrations, human_evaluations, rater_profiles

    modules += [calibrations, human_evaluations, rater_profiles]
    modules += [judges, grading]
    from assay.api import eval_runs

    modules.append(eval_runs)
    return modules
