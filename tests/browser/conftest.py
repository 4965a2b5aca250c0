"""Browser fixtures (defined in tests/fixtures/browser.py): live_server, browser, browser_page."""

from __future__ import annotations

from tests.fixtures.browser import browser, browser_page, live_server

__all__ = ["browser", "browser_page", "live_server"]
