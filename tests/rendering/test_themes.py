"""Every theme's HTML passes the mail accessibility audit, WCAG contrast and SpamAssassin."""

from __future__ import annotations

import itertools
import re
import shutil
import subprocess
from html.parser import HTMLParser

import pytest

from app.campaigns.samples import sample_branding, sample_content
from app.rendering.colors import contrast
from app.rendering.mail import SAMPLE_NAME, MailOptions, prepare_campaign
from app.rendering.markdown import render_body
from app.rendering.themes import THEMES, contrast_pairs, get_theme, theme_colors

BASE = "https://nyhetsbrev.example.se"


class Audit(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.title = ""
        self._in_title = False
        self.first_body_child: tuple[str, dict[str, str | None]] | None = None
        self._in_body = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if self._in_body and self.first_body_child is None:
            self.first_body_child = (tag, a)
        if tag == "body":
            self._in_body = True
        self._in_title = tag == "title"
        self.tags.append((tag, a))

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data

    def handle_endtag(self, tag: str) -> None:
        self._in_title = False

    def all(self, tag: str) -> list[dict[str, str | None]]:
        return [a for t, a in self.tags if t == tag]


def _html(theme: str) -> str:
    prepared = prepare_campaign(sample_content(theme), sample_branding(), MailOptions(BASE))
    return prepared.render_parts(name=SAMPLE_NAME, unsubscribe_token="abc")[1]


def _audit(html: str) -> Audit:
    audit = Audit()
    audit.feed(html)
    return audit


@pytest.mark.parametrize("theme", THEMES)
class TestMailHtmlAudit:
    def test_language_and_title(self, theme: str) -> None:
        audit = _audit(_html(theme))
        assert audit.all("html")[0].get("lang") == "sv"
        assert any(a.get("lang") == "sv" and a.get("role") == "article" for a in audit.all("div"))
        assert audit.title.strip() == sample_content(theme).subject

    def test_layout_tables_are_presentation(self, theme: str) -> None:
        audit = _audit(_html(theme))
        # A Markdown table is a data table (with header cells); every other one is layout.
        tables = [t for t in audit.all("table") if t.get("class") != "tabell"]
        assert tables
        assert all(t.get("role") == "presentation" for t in tables)
        assert tables[0].get("width") == "100%"
        inner = tables[1]
        assert inner.get("width") == "600"
        assert "max-width: 600px" in (inner.get("style") or "")

    def test_images_have_alt_and_hosted_artwork(self, theme: str) -> None:
        audit = _audit(_html(theme))
        images = audit.all("img")
        assert images
        assert all(img.get("alt") is not None for img in images)
        art = [
            i for i in images if (i.get("src") or "").endswith(f"/static/themes/{theme}-header.png")
        ]
        assert art
        assert art[0]["alt"] == get_theme(theme).artwork_alt
        assert (art[0].get("src") or "").startswith(BASE)

    def test_one_h1_and_no_skipped_levels(self, theme: str) -> None:
        audit = _audit(_html(theme))
        levels = [int(t[1]) for t, _ in audit.tags if re.fullmatch(r"h[1-6]", t)]
        assert levels.count(1) == 1
        assert levels[0] == 1
        assert all(b - a <= 1 for a, b in itertools.pairwise(levels))

    def test_nothing_active_or_external(self, theme: str) -> None:
        html = _html(theme)
        audit = _audit(html)
        for tag in ("script", "form", "iframe", "object", "embed", "input"):
            assert not audit.all(tag), tag
        assert not [a for a in audit.all("link") if a.get("rel") == "stylesheet"]
        assert "@import" not in html
        assert not re.search(r"\son[a-z]+=", html)

    def test_size_and_preheader_first(self, theme: str) -> None:
        html = _html(theme)
        assert len(html.encode()) < 90_000
        audit = _audit(html)
        assert audit.first_body_child is not None
        assert audit.first_body_child[1].get("class") == "preheader"

    def test_text_at_least_14px_and_dark_mode_declared(self, theme: str) -> None:
        html = _html(theme)
        sizes = [int(s) for s in re.findall(r"font-size:\s*(\d+)px", html)]
        # 1px belongs to the hidden preheader, 0 to the image cell.
        assert min(s for s in sizes if s > 1) >= 14
        assert '<meta name="color-scheme" content="light dark">' in html
        assert "@media (prefers-color-scheme: dark)" in html

    def test_outlook_gets_a_fixed_600px_wrapper_and_vml_buttons(self, theme: str) -> None:
        html = _html(theme)
        opened = html.index('<!--[if mso]><table role="presentation" width="600" align="center"')
        closed = html.index("<!--[if mso]></td></tr></table><![endif]-->")
        assert opened < html.index('class="content"') < closed
        assert "<v:roundrect" in html
        assert 'class="knapp-td"' in html

    def test_long_words_wrap_and_colour_scheme_is_in_css(self, theme: str) -> None:
        html = _html(theme)
        content = re.search(r'<td class="content"[^>]*style="([^"]*)"', html)
        assert content
        assert "overflow-wrap: anywhere" in content.group(1)
        style = html[html.index("<style>") : html.index("</style>")]
        assert ":root { color-scheme: light dark; supported-color-schemes: light dark; }" in style

    def test_nothing_follows_the_closing(self, theme: str) -> None:
        html = _html(theme)
        after = html[html.index('class="signoff"') : html.index('class="footer"')]
        assert get_theme(theme).sign_off in after
        assert "Varma hälsningar" not in html
        assert "Besök vår webbplats" not in html
        assert "<a " not in after

    def test_every_image_has_a_width_and_captions_show(self, theme: str) -> None:
        html = _html(theme)
        audit = _audit(html)
        assert all((img.get("width") or "").isdigit() for img in audit.all("img"))
        assert 'class="bildtext"' in html

    def test_button_is_a_real_link(self, theme: str) -> None:
        audit = _audit(_html(theme))
        buttons = [a for a in audit.all("a") if a.get("class") == "knapp-a"]
        assert buttons
        assert (buttons[0].get("href") or "").startswith("https://")


@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("brand", ["#1f5f8b", "#f2c14e", "#ffff00", "#00ff66", "#111111"])
def test_declared_colour_pairs_reach_4_5(theme: str, brand: str) -> None:
    t = get_theme(theme)
    for scheme, what, fg, bg in contrast_pairs(t, theme_colors(t, brand, "#f2c14e")):
        ratio = contrast(fg, bg)
        assert ratio >= 4.5, f"{theme} {scheme} {what}: {fg} on {bg} is {ratio:.2f}"


@pytest.mark.parametrize("theme", THEMES)
def test_rendered_colours_are_the_declared_ones(theme: str) -> None:
    """The audit above means something only if the mail uses the palette it declares."""
    t = get_theme(theme)
    html = _html(theme).lower()
    for color in (t.light.text, t.light.card, t.light.heading, t.dark.text, t.dark.card):
        assert color in html


def test_contrast_formula() -> None:
    assert contrast("#000000", "#ffffff") == pytest.approx(21)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)


class TestMarkdown:
    def test_headings_start_at_h2_and_never_skip(self) -> None:
        html = render_body("# A\n\n### B\n\n## C\n\n#### D").html
        assert re.findall(r"<(h\d)>", html) == ["h2", "h3", "h3", "h4"]

    def test_sanitised(self) -> None:
        body = render_body(
            "[x](javascript:alert(1)) ![bild](https://ex.se/a.png) <b onclick=x>y</b>\n\n"
            "> ”Citat” (Deltagare)"
        )
        assert "javascript" not in body.html.split("[x]")[0]
        assert 'src="https://ex.se/a.png" alt="bild"' in body.html
        assert "<b onclick" not in body.html
        assert "<blockquote>" in body.html
        assert "> ”Citat” (Deltagare)" in body.text

    def test_text_keeps_links(self) -> None:
        text = render_body("Läs [rapporten](https://ex.se/r) nu.").text
        assert "rapporten (https://ex.se/r)" in text


@pytest.mark.skipif(shutil.which("spamassassin") is None, reason="spamassassin not installed")
@pytest.mark.slow
@pytest.mark.parametrize("theme", THEMES)
def test_spamassassin_score_below_2(theme: str) -> None:
    prepared = prepare_campaign(sample_content(theme), sample_branding(), MailOptions(BASE))
    raw = prepared.render(
        delivery_id=1, to_address="anna@example.se", name=SAMPLE_NAME, unsubscribe_token="abc123"
    )
    result = subprocess.run(
        ["spamassassin", "-L", "-t"], input=raw, capture_output=True, timeout=120, check=False
    )
    report = result.stdout.decode(errors="replace")
    match = re.search(r"X-Spam-Status: \w+, score=(-?[\d.]+)", report)
    assert match, report[-2000:]
    score = float(match.group(1))
    rules = re.search(r"tests=(.*?)\s+autolearn", report, re.S)
    fired = re.sub(r"\s+", "", rules.group(1)) if rules else ""
    print(f"{theme}: SpamAssassin score {score}; rules fired: {fired}")  # noqa: T201
    assert score < 2.0, report[report.find("Content analysis details") :]
