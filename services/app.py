"""The FastAPI application: composes the domain routers.

Run it through ``clinic dev`` / ``clinic api``, or ``uvicorn --factory services.app:create_app``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from services import wiring
from services.appointments.router import router as appointments_router
from services.checkins import metrics as checkin_metrics
from services.checkins.router import router as checkins_router
from services.clinic.router import router as clinic_router
from services.core import db_roles, dev_clock
from services.core.audit.router import router as audit_router
from services.core.auth.passwords import PasswordChecks
from services.core.auth.router import router as auth_router
from services.core.auth.users_router import router as users_router
from services.core.body_limit import BodyLimitMiddleware
from services.core.database import Database
from services.core.docs import install_docs
from services.core.errors import install_error_handlers
from services.core.headers import SecurityHeadersMiddleware
from services.core.health import router as health_router
from services.core.logging import configure_logging
from services.core.middleware import RequestContextMiddleware
from services.core.openapi import install_openapi
from services.core.settings import Environment, Settings, SettingsError, get_settings
from services.daysheet.router import router as daysheet_router
from services.messaging import metrics as messaging_metrics
from services.messaging.router import router as messaging_router
from services.notes.patient_router import router as patient_notes_router
from services.notes.router import router as notes_router
from services.notes.templates_router import router as note_templates_router
from services.online.router import router as online_router
from services.patients.router import router as patients_router

ROUTERS = (
    health_router,
    auth_router,
    users_router,
    audit_router,
    clinic_router,
    patients_router,
    appointments_router,
    daysheet_router,
    notes_router,
    patient_notes_router,
    note_templates_router,
    messaging_router,
    checkins_router,
    online_router,
)


def create_app(settings: Settings | None = None, database: Database | None = None) -> FastAPI:
    settings = settings or get_settings()
    if not settings.database_url or not settings.redis_url:
        raise SettingsError(
            "CLINIC_DATABASE_URL and CLINIC_REDIS_URL must be set for the API process "
            "(`clinic dev` starts embedded servers and sets them)"
        )
    configure_logging(
        settings.log_level, json=settings.log_json, cache=settings.env is not Environment.test
    )
    db = database or Database.from_url(settings.database_url, pool_size=settings.db_pool_size)
    # The composition root: whatever database it serves, its sessions announce to the
    # subscribers wired here (an injected one too: tests and benchmarks run as production).
    db.announce_to(wiring.events(settings))
    wiring.register_kinds()
    dev_clock.start(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if database is None:
            # A process on its own login; a caller that passes its database (the tests)
            # has chosen the login itself.
            async with db.engine.connect() as connection:
                db_roles.enforce(await db_roles.login_problems_async(connection), settings.env)
        yield
        await db.dispose()

    docs = settings.docs_enabled
    app = FastAPI(
        title="Clinic practice management API",
        version="0.1.0",
        summary="Patients, scheduling, visit notes, reminders and check-ins for NUCCA clinics.",
        lifespan=lifespan,
        # The schema maps every route and parameter; it goes with the docs (the app reads
        # its own through app.openapi(), which does not need the URL).
        openapi_url="/openapi.json" if docs else None,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.database = db
    app.state.password_checks = PasswordChecks(settings.login_hash_concurrency)
    app.state.metrics_sources = [messaging_metrics.exposition, checkin_metrics.exposition]
    install_error_handlers(app)
    install_openapi(app)
    if docs:
        install_docs(app, "/openapi.json")
    trusted = settings.trusted_proxy_networks
    # The last added runs first: the request id and the log line see every answer and the
    # socket peer; the security headers go on every answer, the body limit's 413 included;
    # only then are X-Forwarded-* believed (from the same proxies) for the client address.
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=[str(n) for n in trusted])
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(SecurityHeadersMiddleware, hsts=settings.https)
    app.add_middleware(RequestContextMiddleware, trusted_proxies=trusted)
    for router in ROUTERS:
        app.include_router(router)
    if settings.env is Environment.development:
        app.include_router(dev_clock.router)
    return app
