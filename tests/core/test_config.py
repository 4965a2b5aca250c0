"""Configuration: bad values stop start-up with one line naming the variable."""

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.pool import QueuePool

from app import db
from app.config import ConfigError, get_settings


def _run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    base = {"PATH": "/usr/bin:/bin", "HOME": "/tmp"}
    return subprocess.run(
        [sys.executable, "-c", "from app.cli import main; main()", *args],
        env={**base, **env},
        capture_output=True,
        text=True,
        check=False,
    )


class TestSettings:
    @pytest.mark.parametrize(
        ("variable", "value"),
        [
            ("NEWSLETTER_SMTP_PORT", "not-a-port"),
            ("NEWSLETTER_BASE_URL", "nyhetsbrev.example.se"),
            ("NEWSLETTER_DATABASE_URL", "mysql://x"),
            ("NEWSLETTER_TIMEZONE", "Mars/Olympus"),
            ("NEWSLETTER_SMTP_MAX_CONNECTIONS", "0"),
            ("NEWSLETTER_DATABASE_POOL_SIZE", "0"),
            ("NEWSLETTER_DATABASE_MAX_OVERFLOW", "-1"),
        ],
    )
    def test_bad_value_names_the_variable(
        self, monkeypatch: pytest.MonkeyPatch, variable: str, value: str
    ) -> None:
        monkeypatch.setenv(variable, value)
        get_settings.cache_clear()
        try:
            with pytest.raises(ConfigError, match=variable):
                get_settings()
        finally:
            monkeypatch.undo()
            get_settings.cache_clear()

    def test_cleartext_relay_must_be_loopback(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("NEWSLETTER_SMTP_HOST", "smtp.example.se")
        get_settings.cache_clear()
        try:
            with pytest.raises(ConfigError, match="NEWSLETTER_SMTP_SECURITY"):
                get_settings()
            monkeypatch.setenv("NEWSLETTER_SMTP_SECURITY", "starttls")
            get_settings.cache_clear()
            assert get_settings().smtp_host == "smtp.example.se"
        finally:
            monkeypatch.undo()
            get_settings.cache_clear()

    def test_cli_stops_with_one_line(self) -> None:
        result = _run_cli({"NEWSLETTER_SECRET_KEY": "short"}, "federation", "list")
        assert result.returncode == 1
        lines = result.stderr.strip().splitlines()
        assert lines == ["error: NEWSLETTER_SECRET_KEY: must be at least 32 characters"]

    def test_secret_key_required_outside_dev(self) -> None:
        result = _run_cli({}, "federation", "list")
        assert result.returncode == 1
        assert "NEWSLETTER_SECRET_KEY" in result.stderr

    def test_help_works_without_configuration(self) -> None:
        result = _run_cli({}, "--help")
        assert result.returncode == 0
        assert "dispatch" in result.stdout or "demo" in result.stdout

    def test_plain_http_base_url_is_refused_outside_dev(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("NEWSLETTER_BASE_URL", "http://nyhetsbrev.example.se")
        get_settings.cache_clear()
        try:
            with pytest.raises(ConfigError, match="NEWSLETTER_BASE_URL: must start with https"):
                get_settings()
            monkeypatch.setenv("NEWSLETTER_DEV", "true")
            get_settings.cache_clear()
            assert get_settings().base_url == "http://nyhetsbrev.example.se"
            # A loopback rig (the browser tests' live server) reaches no subscriber.
            monkeypatch.setenv("NEWSLETTER_DEV", "false")
            monkeypatch.setenv("NEWSLETTER_BASE_URL", "http://127.0.0.1:8000")
            get_settings.cache_clear()
            assert get_settings().base_url == "http://127.0.0.1:8000"
        finally:
            monkeypatch.undo()
            get_settings.cache_clear()


class TestDatabasePool:
    def test_the_app_engine_takes_the_pool_size_and_overflow(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        monkeypatch.setenv("NEWSLETTER_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/pool.db")
        monkeypatch.setenv("NEWSLETTER_DATABASE_POOL_SIZE", "7")
        monkeypatch.setenv("NEWSLETTER_DATABASE_MAX_OVERFLOW", "3")
        monkeypatch.setattr(db, "_engine", None)
        get_settings.cache_clear()
        engine = db.get_engine()
        try:
            pool = engine.pool
            assert isinstance(pool, QueuePool)
            assert pool.size() == 7
            assert pool._max_overflow == 3  # no public reader for the limit
        finally:
            asyncio.run(engine.dispose())
            get_settings.cache_clear()
