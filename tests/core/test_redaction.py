"""Client IPs out of log lines too (app.logs.redact; addresses, tokens and search terms are
tested in test_logs.py), and the access log of a real `newsletter serve` carries none of them."""

from __future__ import annotations

import io
import logging

import httpx
import pytest

from app import logs
from app.logs import redact
from tests.fixtures.live import installation

ADDRESS = "anna.berg+nyhetsbrev@example.se"
TOKEN = "Qk3v9Jk2aXq3v9Jk2aXq3v9Jk2aXq3v9"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"550 5.1.1 <{ADDRESS}>: unknown", "550 5.1.1 <[redacted]>: unknown"),
        (f"GET /u/{TOKEN} HTTP/1.1", "GET /u/[redacted] HTTP/1.1"),
        (f"/f/sf-norra/bekrafta/{TOKEN}", "/f/sf-norra/bekrafta/[redacted]"),
        (
            f"/f/sf-norra/mina-uppgifter/{TOKEN}/export",
            "/f/sf-norra/mina-uppgifter/[redacted]/export",
        ),
        (
            "/subscribers?q=anna%40example.se&status=confirmed",
            "/subscribers?q=[redacted]&status=confirmed",
        ),
        ("203.0.113.7:50000 - GET /healthz", "[redacted]:50000 - GET /healthz"),
        ("2001:db8::7 - GET /healthz", "[redacted] - GET /healthz"),
        ("kl. 12:30:45, 3 av 10 skickade", "kl. 12:30:45, 3 av 10 skickade"),
    ],
)
def test_redact(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_log_lines_are_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    buffer = io.StringIO()
    monkeypatch.setenv(logs.FORMAT_VARIABLE, "json")
    logs.configure_logging(buffer)
    try:
        log = logging.getLogger("app.test")
        log.info('%s - "%s %s HTTP/%s" %d', "203.0.113.7:50000", "GET", f"/u/{TOKEN}", "1.1", 200)
        try:
            raise ValueError(f"no such subscriber {ADDRESS} from 2001:db8::7")
        except ValueError:
            log.exception("lookup of %s failed", ADDRESS)
    finally:
        monkeypatch.undo()
        logs.configure_logging()
    text = buffer.getvalue()
    assert "[redacted]:50000" in text
    for secret in (ADDRESS, TOKEN, "203.0.113.7", "2001:db8::7"):
        assert secret not in text


def test_access_log_of_a_real_server() -> None:
    with installation("sqlite", "accesslog") as install:
        url = install.serve(workers=1)
        for path in (f"/u/{TOKEN}", f"/api/v1/federations/x/subscribers?q={ADDRESS}"):
            httpx.get(f"{url}{path}", timeout=10)
        install.stop_all()
        log = install.log("serve")
    assert "GET /u/[redacted]" in log
    for secret in (TOKEN, ADDRESS, "anna.berg", "127.0.0.1"):
        assert secret not in log
