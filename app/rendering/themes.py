"""The four campaign themes: palettes (light and dark), header artwork, typography, labels.

Every text/background pair a theme declares is checked for WCAG contrast (4.5:1) in tests,
in both colour schemes, together with the federation colours derived by `theme_colors`.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.rendering.colors import readable_on

THEMES = ("sommar", "jul", "arsskifte", "allman")


@dataclass(frozen=True)
class Palette:
    page: str  # area around the letter
    card: str  # the letter itself
    text: str
    muted: str  # footer and small print, on `page`
    heading: str
    kicker: str  # the small label above the h1
    quote_bg: str
    quote_text: str
    quote_border: str  # decorative, no text on it
    rule: str  # decorative


@dataclass(frozen=True)
class Theme:
    key: str
    label: str  # kicker above the h1, e.g. "Sommarhälsning"
    artwork_alt: str
    heading_font: str
    heading_style: str  # "normal" or "italic"
    sign_off: str  # closing line above the footer
    light: Palette
    dark: Palette

    @property
    def artwork_path(self) -> str:
        return f"/static/themes/{self.key}-header.png"


SERIF = "Georgia, 'Times New Roman', Times, serif"
SANS = "'Segoe UI', Helvetica, Arial, sans-serif"

_THEMES = {
    "sommar": Theme(
        key="sommar",
        label="Sommarhälsning",
        artwork_alt="Illustration: midsommarstång med blomsterkransar i en solig sommaräng",
        heading_font=SERIF,
        heading_style="italic",
        sign_off="Vi önskar dig en skön och vilsam sommar!",
        light=Palette(
            page="#eaf3e4",
            card="#ffffff",
            text="#1f2d24",
            muted="#3f5245",
            heading="#1d5230",
            kicker="#8a4b08",
            quote_bg="#f4f8ec",
            quote_text="#1f2d24",
            quote_border="#e8b930",
            rule="#cfe3c4",
        ),
        dark=Palette(
            page="#0d1710",
            card="#14231a",
            text="#e7f0e9",
            muted="#b9c9bd",
            heading="#a9dcb3",
            kicker="#f2cf73",
            quote_bg="#1c3124",
            quote_text="#e7f0e9",
            quote_border="#e8b930",
            rule="#2c4434",
        ),
    ),
    "jul": Theme(
        key="jul",
        label="God jul och gott nytt år",
        artwork_alt="Illustration: granris, tända ljus och gyllene stjärnor mot en vinröd himmel",
        heading_font=SERIF,
        heading_style="normal",
        sign_off="Vi önskar dig en riktigt god jul och ett gott nytt år!",
        light=Palette(
            page="#f1e6d6",
            card="#fffaf2",
            text="#2e1f1a",
            muted="#5a3f33",
            heading="#8b1c23",
            kicker="#7a4a00",
            quote_bg="#f7ead8",
            quote_text="#2e1f1a",
            quote_border="#c9a227",
            rule="#e6d3b8",
        ),
        dark=Palette(
            page="#170d0c",
            card="#231514",
            text="#f4e8de",
            muted="#d6c1b4",
            heading="#f3aaa3",
            kicker="#ebc96d",
            quote_bg="#33201e",
            quote_text="#f4e8de",
            quote_border="#c9a227",
            rule="#4a2f2c",
        ),
    ),
    "arsskifte": Theme(
        key="arsskifte",
        label="Brev vid årsskiftet",
        artwork_alt="Illustration: stilla vinterlandskap i skymning med nymåne och stjärnor",
        heading_font="'Palatino Linotype', Palatino, 'Book Antiqua', Georgia, serif",
        heading_style="normal",
        sign_off="Tack för det här året. Vi ser fram emot att fortsätta arbetet tillsammans.",
        light=Palette(
            page="#e8ecf1",
            card="#ffffff",
            text="#1c2530",
            muted="#46566a",
            heading="#22384f",
            kicker="#4a5a6e",
            quote_bg="#f0f3f7",
            quote_text="#1c2530",
            quote_border="#8ea4bf",
            rule="#d5dde7",
        ),
        dark=Palette(
            page="#0c1219",
            card="#141d27",
            text="#e4eaf1",
            muted="#b3c0ce",
            heading="#bfd1e6",
            kicker="#aebdcd",
            quote_bg="#1d2935",
            quote_text="#e4eaf1",
            quote_border="#8ea4bf",
            rule="#2a3848",
        ),
    ),
    "allman": Theme(
        key="allman",
        label="Nyhetsbrev",
        artwork_alt="Illustration: mjuka, överlappande former i blått och grönt",
        heading_font=SANS,
        heading_style="normal",
        sign_off="Hör gärna av dig om du har frågor eller idéer.",
        light=Palette(
            page="#f0f1f2",
            card="#ffffff",
            text="#1b1d20",
            muted="#4a4f57",
            heading="#1b1d20",
            kicker="#3d5566",
            quote_bg="#f3f5f7",
            quote_text="#1b1d20",
            quote_border="#7d9bb0",
            rule="#dde1e5",
        ),
        dark=Palette(
            page="#111315",
            card="#1b1e21",
            text="#eceef0",
            muted="#bcc2c9",
            heading="#ffffff",
            kicker="#b7c9d6",
            quote_bg="#262a2e",
            quote_text="#eceef0",
            quote_border="#7d9bb0",
            rule="#33383d",
        ),
    ),
}


def get_theme(key: str) -> Theme:
    try:
        return _THEMES[key]
    except KeyError:
        raise ValueError(f"unknown theme {key!r}") from None


@dataclass(frozen=True)
class BrandColors:
    """Federation colours made readable for one theme: the band with the federation's name,
    the button, and links (each with its own background, light and dark)."""

    band: str  # background of the name band; white text on it
    button: str  # background of the button; white text on it (same in both schemes)
    link: str  # on the light card
    link_dark: str  # on the dark card
    accent: str  # decorative stripe, no text on it


def theme_colors(theme: Theme, brand: str, accent: str) -> BrandColors:
    """Brand colours shifted just enough to reach 4.5:1 where text sits on or in them."""
    white = "#ffffff"
    return BrandColors(
        band=readable_on(brand, white),
        button=readable_on(brand, white),
        link=readable_on(brand, theme.light.card),
        link_dark=readable_on(brand, theme.dark.card),
        accent=accent,
    )


def contrast_pairs(theme: Theme, colors: BrandColors) -> list[tuple[str, str, str, str]]:
    """(scheme, what, foreground, background) for every text the theme puts on a colour."""
    pairs: list[tuple[str, str, str, str]] = []
    for scheme, p, link in (
        ("light", theme.light, colors.link),
        ("dark", theme.dark, colors.link_dark),
    ):
        pairs += [
            (scheme, "text", p.text, p.card),
            (scheme, "heading", p.heading, p.card),
            (scheme, "kicker", p.kicker, p.card),
            (scheme, "link", link, p.card),
            (scheme, "quote", p.quote_text, p.quote_bg),
            (scheme, "footer", p.muted, p.page),
            (scheme, "footer link", p.text, p.page),
            (scheme, "topbar", p.muted, p.page),
            (scheme, "button", "#ffffff", colors.button),
            (scheme, "band", "#ffffff", colors.band),
        ]
    return pairs
