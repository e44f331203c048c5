"""Pictures for the demo catalog: a product type's silhouette in the product's colour on a
studio background, so a graphite laptop looks like a graphite laptop.

The silhouettes are Material Design Icons (Pictogrammers, Apache-2.0; the PyPI package
material-design-icons-pack), drawn by resvg (resvg-py) and composed with Pillow. One picture
is drawn per (icon, colour) and shared by every product that looks like it, so the cost
grows with the vocabulary, not with the catalog (about 320 pictures for the demo's types
and colours, whatever the number of products). A picture's file name holds what it
shows and DRAWING_VERSION, and a picture already on disk is not drawn again.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from functools import cache
from typing import NamedTuple

import resvg_py
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, default_storage
from material_design_icons_pack import get_icon
from PIL import Image, ImageChops, ImageDraw, ImageFilter

from .images import rendition_name, rendition_widths

SIZE = 800
SIDE = int(SIZE * 0.7)  # the object's square, a little above the middle
LEFT, TOP = (SIZE - SIDE) // 2, (SIZE - SIDE) // 2 - SIZE // 32
# Raise when the drawing changes: the pictures get new names, hence new URLs.
DRAWING_VERSION = 1


class Picture(NamedTuple):
    icon: str  # a Material Design Icons slug
    colour: str  # "#rrggbb"

    @property
    def name(self) -> str:
        return f"demo/v{DRAWING_VERSION}/{self.icon}/{self.colour[1:]}.webp"


def _rgb(colour: str) -> tuple[int, int, int]:
    return tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))


@cache
def _mask(icon: str, size: int) -> Image.Image:
    """The icon's shape as an 8-bit mask, `size` pixels square."""
    found = get_icon(icon)
    if found is None:
        raise ValueError(f"no Material Design icon {icon!r}")
    png = resvg_py.svg_to_bytes(
        svg_string=found.svg, width=size, height=size, skip_system_fonts=True
    )
    return Image.open(io.BytesIO(png)).getchannel("A")


@cache
def _backdrop() -> Image.Image:
    """The studio every picture stands in: a sweep (light at the top, a little darker towards
    the floor) with the object's shadow. The same for every icon, so made once per process
    (its blur was about half of an icon's set-up, paid again by each drawing process)."""
    ramp = Image.linear_gradient("L").resize((SIZE, SIZE))
    stage = Image.composite(Image.new("RGB", (SIZE, SIZE), (222, 220, 215)),
                            Image.new("RGB", (SIZE, SIZE), (247, 246, 243)), ramp)  # fmt: skip
    shadow = Image.new("L", (SIZE, SIZE), 0)
    ImageDraw.Draw(shadow).ellipse(
        (LEFT + SIDE * 0.18, TOP + SIDE * 0.86, LEFT + SIDE * 0.82, TOP + SIDE * 0.95), fill=90
    )
    stage.paste((60, 58, 55), (0, 0), shadow.filter(ImageFilter.GaussianBlur(SIZE // 40)))
    return stage


@cache
def _stage(icon: str) -> tuple[Image.Image, Image.Image, Image.Image]:
    """What a picture of an icon looks like in any colour: the backdrop, the object's mask and
    its outline (a thin edge, so that a white object still stands out on the light
    background)."""
    mask = _mask(icon, SIDE)
    return _backdrop(), mask, mask.filter(ImageFilter.MaxFilter(5))


@cache
def _lighting() -> tuple[Image.Image, Image.Image]:
    """Light from above: a shade that darkens the object towards its bottom, and a sheen."""
    ramp = Image.linear_gradient("L").resize((SIDE, SIDE))
    shade = Image.merge("RGB", [ramp.point(lambda v: 235 + v * 20 // 255)] * 3)
    return shade, ramp.rotate(180).point(lambda v: v // 5)


def draw(picture: Picture) -> Image.Image:
    """The picture as an RGB image, SIZE pixels square."""
    stage, mask, outline = _stage(picture.icon)
    shade, sheen = _lighting()
    rgb = _rgb(picture.colour)
    canvas = stage.copy()
    canvas.paste(tuple(int(c * 0.72) for c in rgb), (LEFT, TOP), outline)
    body = ImageChops.multiply(Image.new("RGB", (SIDE, SIDE), rgb), shade)
    highlight = Image.new("RGB", (SIDE, SIDE), tuple(min(255, c + 40) for c in rgb))
    canvas.paste(Image.composite(highlight, body, sheen), (LEFT, TOP), mask)
    return canvas


def pictures_make(pictures: Iterable[Picture], location: str | None = None) -> int:
    """Draw the pictures that are not on disk yet, with their renditions; return how many.

    `location` is the media folder (the default storage's when None), given by a seed that
    draws in other processes, whose settings may not be the ones a test changed.
    """
    storage = FileSystemStorage(location=location) if location else default_storage
    made = 0
    for picture in sorted(set(pictures)):
        if storage.exists(picture.name):
            continue
        image = draw(picture)
        # The renditions are made here from the drawn image, with the names and format of
        # catalog.images' (whose Rendition would decode the file again for every width), and
        # with libwebp's method 2: a third less encoding time for these flat pictures, at a
        # few per cent more bytes. The widest rendition is the original itself.
        files = {}
        for width in sorted(rendition_widths(SIZE), reverse=True):
            if width < SIZE:
                image = image.resize((width, width), Image.Resampling.BILINEAR, reducing_gap=2.0)
            buffer = io.BytesIO()
            image.save(buffer, "WEBP", quality=82, method=2)
            files[rendition_name(picture.name, width)] = buffer.getvalue()
        files[picture.name] = files[rendition_name(picture.name, SIZE)]  # written last
        for name, content in files.items():
            if not storage.exists(name):
                storage.save(name, ContentFile(content))
        made += 1
    return made
