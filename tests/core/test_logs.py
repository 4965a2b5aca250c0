"""Logging: JSON lines off a terminal, human lines on one, a request id on each request's lines
and in X-Request-ID, and no e-mail address or link token in any line."""

from __future__ import annotations

import io
import json
import logging
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app import logs
from tests.fixtures import ROOT
from tests.fixtures.cli import cli_env, newsletter
from tests.fixtures.smtp import free_port


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """Logging set up as a command does, writing into a buffer (not a terminal)."""
    buffer = io.StringIO()
    monkeypatch.setenv(logs.FORMAT_VARIABLE, "auto")
    logs.configure_logging(buffer)
    yield buffer
    monkeypatch.undo()
    logs.configure_logging()


class TestRedaction:
    @pytest.mark.parametrize(
        ("text", "secret"),
        [
            ("bounce from anna.andersson@example.se", "anna.andersson"),
            ("GET /api/v1/subscribers?email=anna%40example.se HTTP/1.1", "anna"),
            ("GET /api/v1/subscribers?q=anna HTTP/1.1", "anna"),
            ('"GET /u/AbC_123-xyz HTTP/1.1" 200', "AbC_123-xyz"),
            ('"POST /f/sf-norr/bekrafta/tok3n.value HTTP/1.1" 303', "tok3n.value"),
            ('"GET /f/sf-norr/mina-uppgifter/T0KEN/export HTTP/1.1"', "T0KEN"),
        ],
    )
    def test_secret_removed(self, text: str, secret: str) -> None:
        cleaned = logs.redact(text)
        assert secret not in cleaned
        assert logs.REDACTED in cleaned

    def test_ordinary_paths_stay_readable(self) -> None:
        line = '"GET /f/sf-norr/prenumerera HTTP/1.1" 200'
        assert logs.redact(line) == line
        assert logs.redact("/f/sf-norr/mina-uppgifter/X/export").endswith("/export")


class TestFormat:
    def test_json_lines_off_a_terminal(self, captured: io.StringIO) -> None:
        logging.getLogger("app.test").warning("relay said %s", "550 <anna@example.se> unknown")
        entry = json.loads(captured.getvalue().strip().splitlines()[-1])
        assert entry["level"] == "WARNING"
        assert entry["logger"] == "app.test"
        assert entry["message"] == f"relay said 550 <{logs.REDACTED}> unknown"
        assert entry["time"].endswith("+00:00")

    def test_human_lines_when_asked(
        self, captured: io.StringIO, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv(logs.FORMAT_VARIABLE, "human")
        logs.configure_logging(captured)
        logging.getLogger("app.test").error("boom")
        line = captured.getvalue().strip().splitlines()[-1]
        assert " ERROR   app.test: boom" in line
        assert not line.startswith("{")

    def test_exception_text_is_redacted(self, captured: io.StringIO) -> None:
        try:
            raise ValueError("no such user bo@example.se")
        except ValueError:
            logging.getLogger("app.test").exception("failed")
        entry = json.loads(captured.getvalue().strip().splitlines()[-1])
        assert "ValueError" in entry["exception"]
        assert "bo@example.se" not in entry["exception"]

    def test_level_setting(self, captured: io.StringIO, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv(logs.LEVEL_VARIABLE, "warning")
        logs.configure_logging(captured)
        logging.getLogger("app.test").info("quiet")
        logging.getLogger("app.test").warning("loud")
        assert "quiet" not in captured.getvalue()
        assert "loud" in captured.getvalue()

    def test_bad_settings_are_reported(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv(logs.FORMAT_VARIABLE, "xml")
        monkeypatch.setenv(logs.LEVEL_VARIABLE, "LOUD")
        problems = logs.configure_logging(io.StringIO())
        assert any("NEWSLETTER_LOG_FORMAT='xml'" in p for p in problems)
        assert any("NEWSLETTER_LOG_LEVEL='LOUD'" in p for p in problems)
        monkeypatch.undo()
        logs.configure_logging()


class TestRequestId:
    async def test_given_id_is_echoed_and_tags_log_lines(
        self, client: httpx.AsyncClient, captured: io.StringIO
    ) -> None:
        response = await client.get("/f/finns-inte/prenumerera", headers={"X-Request-ID": "req-42"})
        assert response.headers["X-Request-ID"] == "req-42"

    async def test_missing_or_odd_id_is_replaced(self, client: httpx.AsyncClient) -> None:
        made = (await client.get("/healthz")).headers["X-Request-ID"]
        assert len(made) == 32
        odd = await client.get("/healthz", headers={"X-Request-ID": "a b\tc"})
        assert odd.headers["X-Request-ID"] not in ("a b\tc", made)


class TestServe:
    """The real server: uvicorn's access lines and the app's lines in one JSON stream."""

    def test_access_log_is_json_with_request_id_and_no_token(self, tmp_path: Path) -> None:
        url = f"sqlite+aiosqlite:///{tmp_path}/serve.db"
        assert newsletter(url, "db", "upgrade").returncode == 0
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
            env=cli_env(url, NEWSLETTER_LOG_FORMAT="auto"),
            cwd=ROOT,
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(200):
                try:
                    with urllib.request.urlopen(f"{base}/healthz", timeout=2):
                        break
                except OSError:
                    time.sleep(0.1)
            request = urllib.request.Request(
                f"{base}/u/HemligToken123?q=anna@example.se", headers={"X-Request-ID": "rid-7"}
            )
            with pytest.raises(urllib.error.HTTPError) as answer:
                urllib.request.urlopen(request, timeout=10)
            answer.value.close()
            assert answer.value.headers["X-Request-ID"] == "rid-7"
        finally:
            server.send_signal(signal.SIGTERM)
            _, stderr = server.communicate(timeout=30)
        entries = [json.loads(line) for line in stderr.splitlines() if line.strip()]
        access = [e for e in entries if e["logger"] == "uvicorn.access" and "/u/" in e["message"]]
        assert access, stderr
        assert access[0]["request_id"] == "rid-7"
        assert "HemligToken123" not in stderr
        assert "anna@example.se" not in stderr
        assert any(e["logger"] == "uvicorn.error" and e["level"] == "INFO" for e in entries)
