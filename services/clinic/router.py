"""Every route of clinic setup under /api/v1: admins write, every signed-in staff member reads."""

from __future__ import annotations

from fastapi import APIRouter

from services.clinic.appointment_types_router import router as appointment_types_router
from services.clinic.locations_router import router as locations_router
from services.clinic.practitioners_router import router as practitioners_router

router = APIRouter()
for part in (locations_router, practitioners_router, appointment_types_router):
    router.include_router(part)
