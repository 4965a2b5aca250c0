"""Router placeholder; filled in by its workstream."""

from fastapi import APIRouter

from app.http import CommittingRoute

router = APIRouter(route_class=CommittingRoute)
