"""Staff API for images: upload (photos, header photos, logo) and list."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile

from app.federations.auth import CallerActor, CurrentFederation
from app.federations.models import Federation
from app.http import CommittingRoute, SessionDep
from app.images import service
from app.images.models import Image
from app.images.processing import MAX_UPLOAD_BYTES
from app.images.schemas import ImageList, ImageRead
from app.openapi import error_responses

router = APIRouter(
    prefix="/api/v1/federations/{slug}", tags=["images"], route_class=CommittingRoute
)
Upload = Annotated[UploadFile, File(description="JPEG, PNG or WebP, at most 10 MB.")]
AltText = Annotated[
    str, Form(min_length=1, max_length=500, description="What the image shows, for screen readers.")
]


def _read(federation: Federation, image: Image) -> ImageRead:
    return ImageRead(
        id=image.id,
        url=service.public_url(federation, image),
        format=image.format,
        width=image.width,
        height=image.height,
        byte_size=image.byte_size,
        alt_text=image.alt_text,
        created_at=image.created_at,
    )


async def _bytes(file: UploadFile) -> bytes:
    # One byte past the limit is enough to refuse; the rest is never read into memory.
    return await file.read(MAX_UPLOAD_BYTES + 1)


@router.post(
    "/images",
    status_code=201,
    responses=error_responses(401, 404, 413, 422),
    summary="Upload an image (decoded, scaled to 1200 px, metadata removed)",
)
async def upload_image(
    file: Upload,
    alt_text: AltText,
    federation: CurrentFederation,
    session: SessionDep,
    actor: CallerActor,
) -> ImageRead:
    image = await service.upload_image(
        session, federation=federation, data=await _bytes(file), alt_text=alt_text, actor=actor
    )
    return _read(federation, image)


@router.get("/images", responses=error_responses(401, 404), summary="List images, newest first")
async def list_images(federation: CurrentFederation, session: SessionDep) -> ImageList:
    images = await service.list_images(session, federation_id=federation.id)
    return ImageList(items=[_read(federation, i) for i in images])


@router.post(
    "/logo",
    status_code=201,
    responses=error_responses(401, 404, 413, 422),
    summary="Upload the federation's logo (used in every mail and page)",
)
async def upload_logo(
    file: Upload,
    alt_text: AltText,
    federation: CurrentFederation,
    session: SessionDep,
    actor: CallerActor,
) -> ImageRead:
    image = await service.upload_logo(
        session, federation=federation, data=await _bytes(file), alt_text=alt_text, actor=actor
    )
    return _read(federation, image)
