"""Draw the illustrative "photos" used by the sample letters and the README gallery.

    python -m bench.demo_photos

Writes app/web/static/demo/photos/<name>.jpg (1040 px wide, deterministic): flat
illustrations, not photographs of anyone, so the samples carry no personal data.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

OUT = Path(__file__).resolve().parent.parent / "app" / "web" / "static" / "demo" / "photos"
W, H = 1040, 600


def _sky(
    draw: ImageDraw.ImageDraw, top: tuple[int, int, int], bottom: tuple[int, int, int]
) -> None:
    for y in range(H):
        t = y / H
        draw.line(
            [(0, y), (W, y)],
            fill=tuple(round(a + (b - a) * t) for a, b in zip(top, bottom, strict=True)),
        )


def _person(
    draw: ImageDraw.ImageDraw, x: int, ground: int, color: tuple[int, int, int], s: float = 1
) -> None:
    draw.ellipse([x - 18 * s, ground - 170 * s, x + 18 * s, ground - 134 * s], fill=(232, 190, 160))
    draw.rounded_rectangle(
        [x - 30 * s, ground - 130 * s, x + 30 * s, ground - 40 * s], 16, fill=color
    )
    draw.rectangle([x - 24 * s, ground - 40 * s, x - 6 * s, ground], fill=(50, 55, 70))
    draw.rectangle([x + 6 * s, ground - 40 * s, x + 24 * s, ground], fill=(50, 55, 70))


def odling(draw: ImageDraw.ImageDraw, rng: random.Random) -> None:
    _sky(draw, (150, 200, 235), (225, 240, 215))
    draw.rectangle([0, 380, W, H], fill=(120, 160, 80))
    draw.rectangle([160, 400, 880, 520], fill=(120, 80, 45))
    draw.rectangle([170, 400, 870, 430], fill=(80, 55, 35))
    for x in range(200, 860, 46):
        h = rng.randint(40, 90)
        draw.line([(x, 410), (x, 410 - h)], fill=(40, 120, 40), width=6)
        draw.ellipse([x - 20, 400 - h, x + 20, 430 - h], fill=(60, 150, 60))
    for i, x in enumerate((110, 300, 520, 720, 930)):
        _person(
            draw,
            x,
            560,
            [(200, 80, 60), (40, 90, 160), (230, 170, 40), (90, 60, 140), (30, 130, 110)][i],
        )


def ljus(draw: ImageDraw.ImageDraw, rng: random.Random) -> None:
    _sky(draw, (25, 30, 60), (70, 40, 60))
    draw.rectangle([220, 60, 820, 420], fill=(255, 210, 140))
    draw.rectangle([220, 60, 820, 420], outline=(90, 60, 40), width=18)
    draw.line([(520, 60), (520, 420)], fill=(90, 60, 40), width=14)
    draw.line([(220, 240), (820, 240)], fill=(90, 60, 40), width=14)
    draw.rectangle([160, 420, 880, 470], fill=(240, 235, 225))
    for x in (320, 440, 600, 720):
        draw.rectangle([x - 14, 340, x + 14, 420], fill=(250, 245, 235))
        draw.ellipse([x - 10, 300, x + 10, 340], fill=(255, 190, 60))
    for _ in range(60):
        x, y = rng.randint(0, W), rng.randint(0, 50)
        draw.ellipse([x, y, x + 3, y + 3], fill=(255, 255, 230))
    draw.rectangle([0, 470, W, H], fill=(60, 45, 45))


def styrelsen(draw: ImageDraw.ImageDraw, rng: random.Random) -> None:
    _sky(draw, (235, 232, 225), (215, 210, 200))
    draw.rectangle([0, 0, W, 60], fill=(200, 195, 185))
    draw.rectangle([700, 90, 960, 300], fill=(170, 205, 230), outline=(120, 120, 120), width=8)
    for i, x in enumerate((180, 330, 480, 630, 780)):
        _person(
            draw,
            x,
            470,
            [(60, 90, 140), (150, 60, 70), (70, 120, 90), (110, 90, 60), (60, 60, 80)][i],
            0.9,
        )
    draw.rounded_rectangle([80, 400, 960, 470], 12, fill=(140, 95, 60))
    draw.rectangle([120, 470, 150, H], fill=(110, 75, 45))
    draw.rectangle([890, 470, 920, H], fill=(110, 75, 45))
    draw.rectangle([430, 380, 610, 400], fill=(250, 250, 250))


def sal(draw: ImageDraw.ImageDraw, rng: random.Random) -> None:
    _sky(draw, (45, 50, 70), (30, 30, 40))
    draw.rectangle([300, 40, 900, 330], fill=(235, 240, 250))
    draw.rectangle([360, 90, 840, 120], fill=(40, 90, 150))
    for i, y in enumerate(range(150, 300, 40)):
        draw.rectangle([360, y, 360 + 380 - i * 60, y + 16], fill=(150, 160, 180))
    _person(draw, 180, 420, (150, 40, 60))
    for row, y in enumerate((470, 530, 600)):
        for x in range(40 + row * 20, W, 80):
            color = rng.choice([(80, 90, 120), (120, 70, 60), (60, 100, 90), (100, 100, 110)])
            draw.ellipse([x, y - 60, x + 44, y - 16], fill=(200, 160, 130))
            draw.rounded_rectangle([x - 8, y - 20, x + 52, y + 40], 14, fill=color)


def ungdomar(draw: ImageDraw.ImageDraw, rng: random.Random) -> None:
    _sky(draw, (250, 225, 190), (245, 240, 230))
    draw.rectangle([0, 420, W, H], fill=(200, 190, 175))
    draw.ellipse([330, 300, 710, 460], fill=(120, 85, 55))
    for i, x in enumerate((250, 420, 620, 790)):
        _person(
            draw, x, 560, [(230, 120, 50), (50, 140, 160), (170, 60, 120), (90, 150, 70)][i], 1.05
        )
    for x, y, c in (
        (380, 340, (255, 230, 90)),
        (520, 360, (140, 200, 250)),
        (620, 330, (250, 150, 150)),
    ):
        draw.rectangle([x, y, x + 70, y + 50], fill=c)


PHOTOS: dict[str, Callable[[ImageDraw.ImageDraw, random.Random], None]] = {
    "odling": odling,
    "ljus": ljus,
    "styrelsen": styrelsen,
    "sal": sal,
    "ungdomar": ungdomar,
}


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, draw_scene in PHOTOS.items():
        image = Image.new("RGB", (W, H))
        draw_scene(ImageDraw.Draw(image), random.Random(name))
        image = image.filter(ImageFilter.SMOOTH)
        path = OUT / f"{name}.jpg"
        image.save(path, "JPEG", quality=82, optimize=True, progressive=True)
        print(f"photo    {path.relative_to(OUT.parent.parent.parent.parent.parent)}")


if __name__ == "__main__":
    main()
