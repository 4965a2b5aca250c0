"""The `newsletter` command on a database it cannot use: one line and a non-zero exit, never a
traceback; and `--version`."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.monitoring.build import version
from tests.fixtures.cli import newsletter
from tests.fixtures.smtp import free_port


def _one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


class TestDatabaseProblems:
    @pytest.mark.parametrize(
        "args", [("federation", "list"), ("dispatch",), ("worker",), ("purge",), ("db", "upgrade")]
    )
    def test_unreachable_database(self, args: tuple[str, ...]) -> None:
        url = f"postgresql+asyncpg://postgres:hemligt@127.0.0.1:{free_port()}/nyhetsbrev"
        result = newsletter(url, *args)
        assert result.returncode == 1
        line = _one_error_line(result.stderr)
        assert line.startswith("error: cannot reach the database postgresql+asyncpg://")
        assert "hemligt" not in line

    @pytest.mark.parametrize("args", [("federation", "list"), ("dispatch",), ("worker",)])
    def test_unmigrated_database(self, tmp_path: Path, args: tuple[str, ...]) -> None:
        result = newsletter(f"sqlite+aiosqlite:///{tmp_path}/empty.db", *args)
        assert result.returncode == 1
        line = _one_error_line(result.stderr)
        assert "has no schema yet: run `newsletter db upgrade`" in line

    def test_worker_refuses_an_older_schema(self, tmp_path: Path) -> None:
        url = f"sqlite+aiosqlite:///{tmp_path}/old.db"
        assert newsletter(url, "db", "upgrade", "0001").returncode == 0
        result = newsletter(url, "worker")
        assert result.returncode == 1
        assert "is at revision 0001" in _one_error_line(result.stderr)
        assert newsletter(url, "db", "upgrade").returncode == 0
        assert newsletter(url, "federation", "list").returncode == 0


class TestVersion:
    def test_prints_the_installed_version(self, tmp_path: Path) -> None:
        result = newsletter(f"sqlite+aiosqlite:///{tmp_path}/x.db", "--version")
        assert result.returncode == 0
        assert result.stdout.strip() == f"newsletter {version()}"
        assert version() != "0+unknown"
