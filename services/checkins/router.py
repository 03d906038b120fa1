"""Every check-in route, as one router for the application to include."""

from fastapi import APIRouter

from services.checkins import alerts_router, checkins_router, pages_router, policies_router

router = APIRouter()
for part in (alerts_router, policies_router, checkins_router, pages_router):
    router.include_router(part.router)
