"""Every messaging route, as one router for the application to include."""

from fastapi import APIRouter

from services.messaging import links_router, messages_router, webhook_router

router = APIRouter()
for part in (links_router, webhook_router, messages_router):
    router.include_router(part.router)
