"""The FastAPI application: composes the domain routers.

Run it through ``clinic dev`` / ``clinic api``, or ``uvicorn --factory services.app:create_app``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.appointments.router import router as appointments_router
from services.checkins import metrics as checkin_metrics
from services.checkins.router import router as checkins_router
from services.clinic.router import router as clinic_router
from services.core.audit.router import router as audit_router
from services.core.auth.passwords import PasswordChecks
from services.core.auth.router import router as auth_router
from services.core.auth.users_router import router as users_router
from services.core.database import Database
from services.core.errors import install_error_handlers
from services.core.health import router as health_router
from services.core.logging import configure_logging
from services.core.middleware import RequestContextMiddleware
from services.core.openapi import install_openapi
from services.core.settings import Environment, Settings, SettingsError, get_settings
from services.messaging import metrics as messaging_metrics
from services.messaging.router import router as messaging_router
from services.notes.patient_router import router as patient_notes_router
from services.notes.router import router as notes_router
from services.notes.templates_router import router as note_templates_router
from services.patients.router import router as patients_router

ROUTERS = (
    health_router,
    auth_router,
    users_router,
    audit_router,
    clinic_router,
    patients_router,
    appointments_router,
    notes_router,
    patient_notes_router,
    note_templates_router,
    messaging_router,
    checkins_router,
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

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await db.dispose()

    app = FastAPI(
        title="Clinic practice management API",
        version="0.1.0",
        summary="Patients, scheduling, visit notes, reminders and check-ins for NUCCA clinics.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.database = db
    app.state.password_checks = PasswordChecks(settings.login_hash_concurrency)
    app.state.metrics_sources = [messaging_metrics.exposition, checkin_metrics.exposition]
    install_error_handlers(app)
    install_openapi(app)
    app.add_middleware(RequestContextMiddleware)
    for router in ROUTERS:
        app.include_router(router)
    return app
