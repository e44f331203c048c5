"""Product pictures: what an upload may be, and the WebP renditions made from it.

An uploaded original is never overwritten (the storage gives a new upload a new name), and a
rendition's name is derived from its original's name and width alone. So every picture URL
names one content for ever: it is served with a year of `immutable` caching, a page can
compute its `srcset` without touching the disk, and replacing a picture gives it new URLs,
which reach the pages through the product's tag (catalog.receivers -> services).

Renditions are made with django-imagekit's `ImageSpec` (pilkit's processors, EXIF-aware
orientation, WebP encoding options) when a picture is saved or seeded, never on a page view.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import Storage, default_storage
from imagekit import ImageSpec
from imagekit.processors import ResizeToFit, Transpose
from PIL import Image

# Widths of the renditions (CSS pixels x 1 and x 2 of the card, the page's picture at x 1
# and x 2 up to 1,200). A picture narrower than a width gets no rendition of it.
WIDTHS = (240, 480, 800, 1200)
# Part of every rendition's name: raise it when the encoding changes, so that browsers and
# proxies holding the old files for a year get new URLs.
RENDITION_VERSION = 1
FORMATS = {"JPEG", "PNG", "WEBP"}


class Rendition(ImageSpec):
    """One width of a picture, as WebP."""

    format = "WEBP"
    # method 4 is libwebp's default trade-off; quality 82 keeps the studio gradients smooth.
    options = {"quality": 82, "method": 4}

    def __init__(self, source, width: int) -> None:
        self.width = width
        super().__init__(source=source)

    @property
    def processors(self):
        return [Transpose(), ResizeToFit(self.width, self.width * 2, upscale=False)]


def rendition_name(name: str, width: int) -> str:
    """The storage name of `name`'s rendition `width` pixels wide."""
    stem = PurePosixPath(name).with_suffix("")
    return f"renditions/v{RENDITION_VERSION}/{width}/{stem}.webp"


def rendition_widths(width: int | None) -> list[int]:
    """The rendition widths a picture `width` pixels wide has (all of them when unknown)."""
    return [w for w in WIDTHS if not width or w <= width]


def renditions_make(name: str, storage: Storage | None = None) -> list[str]:
    """Write the missing renditions of the original `name`; return the names written."""
    storage = storage or default_storage
    written = []
    with storage.open(name) as original:
        width = Image.open(original).size[0]
        for w in rendition_widths(width):
            target = rendition_name(name, w)
            if storage.exists(target):
                continue
            original.seek(0)
            content = Rendition(original, w).generate()
            saved = storage.save(target, ContentFile(content.read()))
            written.append(saved)
    return written


def picture(name: str, width: int | None, alt: str) -> dict:
    """What a page needs to show the picture: src (a mid-sized rendition), srcset and alt."""
    widths = rendition_widths(width)
    if not widths:  # smaller than the smallest rendition: the original itself
        url = default_storage.url(name)
        return {"src": url, "srcset": "", "alt": alt}
    urls = [(w, default_storage.url(rendition_name(name, w))) for w in widths]
    src = next((u for w, u in urls if w >= 480), urls[-1][1])
    return {"src": src, "srcset": ", ".join(f"{u} {w}w" for w, u in urls), "alt": alt}


def upload_validate(file) -> None:
    """Refuse an upload that is not a JPEG, PNG or WebP, too large, or too many pixels.

    Read from the file's header only: a decompression bomb is refused before it is decoded.
    A picture already stored (a row saved again) was checked when it was uploaded.
    """
    if getattr(file, "_committed", False):
        return
    if file.size > settings.CATALOG_IMAGE_MAX_BYTES:
        raise ValidationError(
            "This picture is %(size)s MB; pictures may be at most %(limit)s MB.",
            code="too_large",
            params={
                "size": f"{file.size / 1_000_000:.1f}",
                "limit": f"{settings.CATALOG_IMAGE_MAX_BYTES / 1_000_000:g}",
            },
        )
    position = file.tell() if hasattr(file, "tell") else 0
    try:
        with Image.open(file) as image:
            kind, (width, height) = image.format, image.size
    except Exception as exc:  # Pillow raises many kinds for a file it cannot read
        raise ValidationError("Upload a JPEG, PNG or WebP picture.", code="invalid_image") from exc
    finally:
        file.seek(position)
    if kind not in FORMATS:
        raise ValidationError(
            "This is a %(kind)s file; upload a JPEG, PNG or WebP picture.",
            code="invalid_format",
            params={"kind": kind},
        )
    if width * height > settings.CATALOG_IMAGE_MAX_PIXELS:
        raise ValidationError(
            "This picture has %(pixels)s megapixels; pictures may have at most %(limit)s.",
            code="too_many_pixels",
            params={
                "pixels": f"{width * height / 1_000_000:.0f}",
                "limit": f"{settings.CATALOG_IMAGE_MAX_PIXELS / 1_000_000:g}",
            },
        )
