"""Rendering fixtures: the shared SMTP server fixture, started on a port chosen first
(aiosmtpd's start-up probe cannot connect to port 0, which the shared fixture uses)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from aiosmtpd.controller import Controller

from app.config import get_settings
from tests.conftest import CapturedMail, _Handler


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[CapturedMail]:
    store = CapturedMail()
    port = _free_port()
    controller = Controller(_Handler(store), hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("NEWSLETTER_SMTP_PORT", str(port))
    get_settings.cache_clear()
    try:
        yield store
    finally:
        controller.stop()
        get_settings.cache_clear()
