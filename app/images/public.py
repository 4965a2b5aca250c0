"""Public image addresses: /f/{slug}/bilder/{sha256}.{jpg|png}, cached for a year."""

from __future__ import annotations

from fastapi import APIRouter, Response

from app.http import SessionDep
from app.images import service

router = APIRouter(include_in_schema=False)
# The address is the content's hash, so a cached copy can never be stale.
CACHE = "public, max-age=31536000, immutable"


@router.get("/f/{slug}/bilder/{name}")
async def image(slug: str, name: str, session: SessionDep) -> Response:
    data, media_type = await service.served_image(session, slug=slug, name=name)
    return Response(
        data,
        media_type=media_type,
        headers={
            "Cache-Control": CACHE,
            "ETag": f'"{name.partition(".")[0]}"',
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
        },
    )
