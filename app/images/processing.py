"""Pure image handling: decode an upload with Pillow, refuse bombs, scale, strip metadata."""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from app.images.models import ImageFormat

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_WIDTH = 1200
# A 10 MB upload has no business being larger than a 50-megapixel photo; anything above is
# treated as a decompression bomb before a single pixel is decoded.
MAX_PIXELS = 50_000_000
ACCEPTED = {"JPEG", "PNG", "WEBP"}
JPEG_QUALITY = 85


class ImageRejected(ValueError):
    """The upload is not an image the service accepts; `reason` is a stable code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class ProcessedImage:
    data: bytes
    format: ImageFormat
    width: int
    height: int

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def _open(data: bytes) -> Image.Image:
    with warnings.catch_warnings():
        # Pillow warns above MAX_IMAGE_PIXELS and raises above twice that; both are refusals.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=sorted(ACCEPTED))
            if image.width * image.height > MAX_PIXELS:
                raise Image.DecompressionBombError("too many pixels")
            image.load()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise ImageRejected(
                "decompression_bomb", f"The image has more than {MAX_PIXELS} pixels."
            ) from None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
            raise ImageRejected(
                "unsupported_image", "The file is not a readable JPEG, PNG or WebP image."
            ) from None
    return image


def process_image(data: bytes) -> ProcessedImage:
    """Decode, turn upright, scale to at most 1200 px wide and re-encode without metadata.

    Re-encoding is the point: EXIF (GPS positions in phone photos are personal data), XMP,
    comments and anything smuggled after the image data do not survive it. WebP becomes PNG
    (with transparency) or JPEG, since Outlook desktop and older clients cannot show WebP."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise ImageRejected("too_large", "The file is larger than 10 MB.")
    image = _open(data)
    source_format = image.format
    image = ImageOps.exif_transpose(image)
    if image.width > MAX_WIDTH:
        height = max(1, round(image.height * MAX_WIDTH / image.width))
        image = image.resize((MAX_WIDTH, height), Image.Resampling.LANCZOS)
    has_alpha = image.mode in {"RGBA", "LA", "PA"} or (
        image.mode == "P" and "transparency" in image.info
    )
    keep_png = source_format == "PNG" or (source_format == "WEBP" and has_alpha)
    out = io.BytesIO()
    if keep_png:
        clean = image.convert("RGBA" if has_alpha else "RGB")
        clean.save(out, format="PNG", optimize=True)
        kind = ImageFormat.PNG
    else:
        clean = image.convert("RGB")
        clean.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
        kind = ImageFormat.JPEG
    return ProcessedImage(data=out.getvalue(), format=kind, width=clean.width, height=clean.height)
