"""Every scheduling route, as one router for the application to include."""

from fastapi import APIRouter

from services.appointments import (
    appointments_router,
    feeds_router,
    schedule_router,
    series_router,
    waitlist_router,
)

router = APIRouter()
for part in (appointments_router, schedule_router, series_router, waitlist_router, feeds_router):
    router.include_router(part.router)
