"""The frame-ancestors policy of visitor pages: only well-formed https origins reach it."""

from __future__ import annotations

from app.web.pages import frame_ancestors_header


def test_only_origins_reach_the_policy() -> None:
    # Stored before validation existed (or written around it): none may add a directive.
    header = frame_ancestors_header(
        ["https://x.example; script-src *", "https://ok.example.se", "https://*.example.se"]
    )
    assert header.endswith("frame-ancestors https://ok.example.se")
    assert header.count(";") == 5


def test_nothing_valid_means_no_framing() -> None:
    assert frame_ancestors_header(["https://x.example;script-src"]).endswith(
        "frame-ancestors 'none'"
    )
