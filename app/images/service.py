"""Image use cases: upload (decode, scale, strip), list, serve, and lookups for rendering."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from app.actors import Actor
from app.audit import service as audit_service
from app.audit.models import AuditAction
from app.config import get_settings
from app.errors import NotFound, PayloadTooLarge, Unprocessable
from app.federations import service as federation_service
from app.federations.models import Federation
from app.federations.schemas import FederationUpdate
from app.images import repository
from app.images.models import Image, ImageFormat
from app.images.processing import ImageRejected, process_image
from app.rendering.mail import HeaderImage

EXTENSIONS = {ImageFormat.JPEG: "jpg", ImageFormat.PNG: "png"}
MEDIA_TYPES = {"jpg": "image/jpeg", "png": "image/png"}
_URL_DIGEST = re.compile(r"/bilder/([0-9a-f]{64})\.(?:jpg|png)")


def public_url(federation: Federation, image: Image) -> str:
    """The stable address: the digest names the content, so it never changes meaning."""
    base = get_settings().base_url
    return f"{base}/f/{federation.slug}/bilder/{image.digest}.{EXTENSIONS[image.format]}"


async def upload_image(
    session: AsyncSession, *, federation: Federation, data: bytes, alt_text: str, actor: Actor
) -> Image:
    """Store an uploaded JPEG, PNG or WebP, re-encoded; the same picture twice is one image."""
    alt = " ".join(alt_text.split())
    if not alt:
        raise Unprocessable(
            "alt_text is required: describe the image for readers who cannot see it.",
            details={"field": "alt_text"},
        )
    try:
        # Decoding and scaling are CPU work: keep them off the event loop.
        processed = await asyncio.to_thread(process_image, data)
    except ImageRejected as exc:
        error = PayloadTooLarge if exc.reason == "too_large" else Unprocessable
        raise error(str(exc), details={"reason": exc.reason}) from None
    existing = await repository.by_digest(
        session, federation_id=federation.id, digest=processed.digest
    )
    if existing is not None:
        return existing
    image = await repository.add(
        session,
        Image(
            federation_id=federation.id,
            digest=processed.digest,
            format=processed.format,
            width=processed.width,
            height=processed.height,
            byte_size=len(processed.data),
            alt_text=alt[:500],
            data=processed.data,
        ),
    )
    await audit_service.record(
        session,
        actor=actor,
        action=AuditAction.IMAGE_UPLOADED,
        federation_id=federation.id,
        target_type="image",
        target_id=image.id,
        summary=f"laddade upp en bild ({image.width} x {image.height} px)",
    )
    return image


async def upload_logo(
    session: AsyncSession, *, federation: Federation, data: bytes, alt_text: str, actor: Actor
) -> Image:
    """Upload an image and make it the federation's logo in mail and on its pages."""
    image = await upload_image(
        session,
        federation=federation,
        data=data,
        alt_text=alt_text or federation.name,
        actor=actor,
    )
    return await use_as_logo(session, federation=federation, image_id=image.id, actor=actor)


async def use_as_logo(
    session: AsyncSession, *, federation: Federation, image_id: int, actor: Actor
) -> Image:
    """Make one of the federation's images its logo; another federation's image is a 404."""
    image = await get_image(session, federation_id=federation.id, image_id=image_id)
    await federation_service.update_federation(
        session,
        federation=federation,
        changes=FederationUpdate(logo_url=public_url(federation, image)),
        actor=actor,
        # Only the logo changes, never the relay: no admin right is needed or given.
        by_admin=False,
    )
    return image


def is_logo(federation: Federation, image: Image) -> bool:
    return federation.logo_url == public_url(federation, image)


async def list_images(session: AsyncSession, *, federation_id: int) -> Sequence[Image]:
    return await repository.list_for_federation(session, federation_id=federation_id)


async def get_image(session: AsyncSession, *, federation_id: int, image_id: int) -> Image:
    image = await repository.get(session, federation_id=federation_id, image_id=image_id)
    if image is None:
        raise NotFound("Image not found.")
    return image


async def served_image(session: AsyncSession, *, slug: str, name: str) -> tuple[bytes, str]:
    """(bytes, media type) for `/f/{slug}/bilder/{digest}.{ext}`; another federation's: 404."""
    digest, _, ext = name.partition(".")
    if ext not in MEDIA_TYPES or not re.fullmatch(r"[0-9a-f]{64}", digest):
        raise NotFound()
    found = await repository.public_bytes(session, slug=slug, digest=digest)
    if found is None or EXTENSIONS[ImageFormat(found[1])] != ext:
        raise NotFound()
    return found[0], MEDIA_TYPES[ext]


async def header_image(
    session: AsyncSession, *, federation: Federation, image_id: int | None
) -> HeaderImage | None:
    """A campaign's header photo, ready for rendering."""
    if image_id is None:
        return None
    image = await repository.get(session, federation_id=federation.id, image_id=image_id)
    if image is None:
        return None
    return HeaderImage(
        url=public_url(federation, image),
        alt=image.alt_text,
        width=image.width,
        height=image.height,
    )


async def widths_in(
    session: AsyncSession, *, federation: Federation, markdown: str
) -> dict[str, int]:
    """Pixel widths of this federation's uploaded images that a Markdown body uses, by URL."""
    digests = set(_URL_DIGEST.findall(markdown))
    found = await repository.widths(session, federation_id=federation.id, digests=digests)
    base = f"{get_settings().base_url}/f/{federation.slug}/bilder/"
    return {f"{base}{d}.{ext}": w for d, w in found.items() for ext in MEDIA_TYPES}
