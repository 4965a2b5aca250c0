"""WCAG contrast arithmetic, used to keep federation brand colours readable in every theme."""

from __future__ import annotations


def _channel(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def parse_hex(color: str) -> tuple[int, int, int]:
    """#rrggbb or #rgb to an RGB triple."""
    value = color.strip().lstrip("#")
    if len(value) == 3:
        value = "".join(ch * 2 for ch in value)
    if len(value) != 6:
        raise ValueError(f"not a hex colour: {color!r}")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def to_hex(rgb: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def luminance(color: str) -> float:
    r, g, b = parse_hex(color)
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast(a: str, b: str) -> float:
    """WCAG 2.1 contrast ratio between two colours (1 to 21)."""
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def _mix(color: str, target: tuple[int, int, int], amount: float) -> str:
    rgb = parse_hex(color)
    mixed = tuple(round(c + (t - c) * amount) for c, t in zip(rgb, target, strict=True))
    return to_hex((mixed[0], mixed[1], mixed[2]))


def readable_on(color: str, background: str, minimum: float = 4.5) -> str:
    """The colour itself if it reaches `minimum` against `background`, else the nearest shade
    (towards black on light backgrounds, towards white on dark ones) that does."""
    if contrast(color, background) >= minimum:
        return to_hex(parse_hex(color))
    target = (0, 0, 0) if luminance(background) > 0.18 else (255, 255, 255)
    for step in range(1, 21):
        candidate = _mix(color, target, step / 20)
        if contrast(candidate, background) >= minimum:
            return candidate
    return to_hex(target)
