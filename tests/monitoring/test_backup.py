"""Backup and restore as the README documents them: `pg_dump -Fc` of a database with data,
`pg_restore` into a fresh one, and every table reads back the same."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.fixtures.cli import newsletter
from tests.fixtures.database import scratch_postgres

pytestmark = pytest.mark.postgres

# The commands in README "Backup and restore", against a libpq URL instead of `compose exec`.
BACKUP = ["pg_dump", "--format=custom", "--no-owner"]
RESTORE = ["pg_restore", "--no-owner", "--exit-on-error", "--single-transaction"]


def _libpq(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


def _psql(url: str, sql: str) -> str:
    result = subprocess.run(
        ["psql", _libpq(url), "-XAtq", "-c", sql], capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


def _fingerprint(url: str) -> dict[str, str]:
    """Each table's row count and a digest of its rows in a fixed order."""
    tables = _psql(
        url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
    ).split()
    return {
        table: _psql(
            url,
            f"SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)),"
            f" '') FROM \"{table}\" t",
        )
        for table in tables
    }


class TestBackupRestore:
    def test_restored_copy_matches_and_serves(self, backend: str, tmp_path: Path) -> None:
        dump = tmp_path / "nyhetsbrev.dump"
        with scratch_postgres("backup_src") as source, scratch_postgres("backup_dst") as target:
            assert newsletter(source, "db", "upgrade").returncode == 0
            loaded = newsletter(source, "demo", NEWSLETTER_DEV="true")
            assert loaded.returncode == 0, loaded.stderr
            assert newsletter(source, "dispatch").returncode == 0
            original = _fingerprint(source)
            assert int(original["subscribers"].split(":")[0]) > 0
            assert int(original["dispatcher_ticks"].split(":")[0]) == 1

            subprocess.run([*BACKUP, f"--file={dump}", _libpq(source)], check=True)
            subprocess.run([*RESTORE, f"--dbname={_libpq(target)}", str(dump)], check=True)

            assert _fingerprint(target) == original
            listed = newsletter(target, "federation", "list")
            assert listed.returncode == 0, listed.stderr
            assert "norra-alvdalen" in listed.stdout
