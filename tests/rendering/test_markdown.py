"""Campaign Markdown: buttons, captions, tables, and warnings for what the letter drops."""

from __future__ import annotations

import re

import pytest

from app.rendering.markdown import BodyStyle, render_body


def _codes(source: str) -> list[tuple[int, str]]:
    return [(w.line, w.code) for w in render_body(source).warnings]


class TestButton:
    SOURCE = "Inledning.\n\n[Anmäl dig till dagen](https://ex.se/anmalan){.knapp}\n\nSlut."

    def test_lone_link_with_knapp_is_a_bulletproof_button(self) -> None:
        body = render_body(self.SOURCE, style=BodyStyle(button_background="#8b1c23"))
        html = body.html
        cell = re.search(r'<td class="knapp-td"[^>]*>', html)
        assert cell
        assert 'bgcolor="#8b1c23"' in cell.group()
        # Outlook desktop draws the VML shape; every other client the padded link.
        mso = re.search(r"<!--\[if mso\]>(.*?)<!\[endif\]-->", html, re.S)
        assert mso
        assert '<v:roundrect xmlns:v="urn:schemas-microsoft-com:vml"' in mso.group(1)
        assert 'href="https://ex.se/anmalan"' in mso.group(1)
        assert 'fillcolor="#8b1c23"' in mso.group(1)
        assert ">Anmäl dig till dagen</center>" in mso.group(1)
        assert re.search(
            r'<!--\[if !mso\]><!--><a class="knapp-a" href="https://ex.se/anmalan"[^>]*>'
            r"Anmäl dig till dagen</a><!--<!\[endif\]-->",
            html,
        )
        assert "{.knapp}" not in html
        assert not body.warnings

    def test_text_part_keeps_the_link(self) -> None:
        text = render_body(self.SOURCE).text
        assert "Anmäl dig till dagen (https://ex.se/anmalan)" in text
        assert "knapp" not in text

    def test_label_and_url_are_escaped(self) -> None:
        html = render_body('[A & "c" 1<2](https://ex.se/?a=1&b="2"){.knapp}').html
        assert ">A &amp; &quot;c&quot; 1&lt;2</a>" in html
        assert 'href="https://ex.se/?a=1&amp;b=%222%22"' in html

    def test_unsafe_scheme_is_no_button(self) -> None:
        html = render_body("[x](javascript:alert(1)){.knapp}").html
        assert "knapp-td" not in html
        assert "javascript:" not in html.replace("[x](javascript:alert(1))", "")

    def test_knapp_inside_a_sentence_is_reported_and_dropped(self) -> None:
        body = render_body("Text [x](https://ex.se){.knapp} mer.")
        assert "knapp-td" not in body.html
        assert "{.knapp}" not in body.html
        assert [(w.line, w.code) for w in body.warnings] == [(1, "button_not_alone")]


class TestImages:
    def test_lone_image_with_title_gets_a_visible_caption(self) -> None:
        body = render_body('![Två deltagare](https://ex.se/a.jpg "Vårens grupp")')
        assert 'alt="Två deltagare"' in body.html
        assert '<td class="bildtext">Vårens grupp</td>' in body.html
        assert "[Två deltagare: https://ex.se/a.jpg]\nVårens grupp" in body.text

    def test_every_image_carries_a_width_attribute(self) -> None:
        html = render_body(
            "![Stor](https://ex.se/big.jpg)\n\nText ![liten](https://ex.se/s.png) här.",
            image_widths={"https://ex.se/s.png": 120, "https://ex.se/big.jpg": 1200},
        ).html
        widths = dict(re.findall(r'<img src="([^"]+)"[^>]*width="(\d+)"', html))
        assert widths == {"https://ex.se/big.jpg": "520", "https://ex.se/s.png": "120"}

    def test_image_without_alt_text_is_dropped_with_its_line(self) -> None:
        body = render_body("Först.\n\n![](https://ex.se/a.jpg)\n")
        assert "<img" not in body.html
        assert "<p></p>" not in body.html
        assert [(w.line, w.code) for w in body.warnings] == [(3, "image_without_alt")]
        assert "https://ex.se/a.jpg" in body.warnings[0].message


class TestTable:
    def test_pipe_table_keeps_alignment_and_text(self) -> None:
        body = render_body("| Insats | Antal |\n|:--|--:|\n| Steg | 42 |\n")
        assert '<table class="tabell">' in body.html
        assert '<th align="right">Antal</th>' in body.html
        assert '<td align="right">42</td>' in body.html
        assert "style=" not in body.html
        assert "Insats | Antal\nSteg | 42" in body.text


class TestWarnings:
    def test_raw_html_is_dropped_and_reported_per_line(self) -> None:
        body = render_body("Ett <b>fett</b> ord.\n\n<div>\nblock\n</div>\n\nSlut.")
        assert "<b>" not in body.html
        assert "&lt;b&gt;" not in body.html
        assert "block" not in body.html
        assert "Ett fett ord." in body.html
        assert [(w.line, w.code) for w in body.warnings] == [(1, "raw_html"), (3, "raw_html")]

    @pytest.mark.parametrize("label", ["klicka här", "Här", "länk", "Klicka här!"])
    def test_vague_link_text(self, label: str) -> None:
        assert _codes(f"Rad ett\nrad två [{label}](https://ex.se).") == [(2, "vague_link_text")]

    def test_descriptive_link_text_is_fine(self) -> None:
        assert _codes("Läs [verksamhetsplanen för 2027](https://ex.se/plan).") == []

    def test_bare_long_url_in_text_and_as_autolink(self) -> None:
        url = "https://example.se/verksamhet/rapporter/2026/halvarsrapport-final.pdf"
        assert _codes(f"Se {url}\n\noch <{url}>") == [(1, "bare_url"), (3, "bare_url")]
        assert _codes("Se https://ex.se/kort") == []

    def test_unknown_attribute_is_dropped(self) -> None:
        body = render_body("Rubrik\n\nText {.rod} och {width=300}.")
        assert "{" not in body.html
        assert [(w.line, w.code) for w in body.warnings] == [
            (3, "unknown_attribute"),
            (3, "unknown_attribute"),
        ]
        assert "{.rod}" in body.warnings[0].message

    def test_curly_braces_in_prose_are_not_attributes(self) -> None:
        body = render_body("Mängden {a, b} är liten.")
        assert "{a, b}" in body.html
        assert not body.warnings

    def test_every_message_is_swedish_text(self) -> None:
        source = "<i>x</i> [här](https://ex.se) ![](https://ex.se/a.png) {.x}"
        messages = [w.message for w in render_body(source).warnings]
        assert len(messages) == 4
        assert all(m and "{" not in m.replace("{.knapp}", "").replace("{.x}", "") for m in messages)
