"""`newsletter demo` is idempotent and prints a usable staff key."""

import os
import subprocess
import sys
from pathlib import Path


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "NEWSLETTER_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/demo.db",
        "NEWSLETTER_DEV": "true",
    }
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    )


class TestDemo:
    def test_twice_gives_same_data_and_key(self, tmp_path: Path) -> None:
        assert _cli(tmp_path, "db", "upgrade").returncode == 0
        first = _cli(tmp_path, "demo")
        second = _cli(tmp_path, "demo")
        assert first.returncode == 0, first.stderr
        assert second.returncode == 0, second.stderr
        key = first.stdout.strip().splitlines()[-1]
        assert key.startswith("nb_")
        assert second.stdout.strip().splitlines()[-1] == key
        assert "/f/norra-alvdalen/prenumerera" in first.stdout
        import sqlite3

        con = sqlite3.connect(tmp_path / "demo.db")
        try:
            assert con.execute("SELECT count(*) FROM federations").fetchone()[0] == 2
            assert con.execute("SELECT count(*) FROM api_keys").fetchone()[0] == 1
            confirmed = "SELECT count(*) FROM subscribers WHERE status = 'confirmed'"
            assert con.execute(confirmed).fetchone()[0] == 6
            assert con.execute("SELECT count(*) FROM campaigns").fetchone()[0] == 2
            tokens = "SELECT count(*) FROM tokens WHERE purpose = 'unsubscribe'"
            assert con.execute(tokens).fetchone()[0] == 6
        finally:
            con.close()
