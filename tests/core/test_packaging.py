"""The wheel is the whole app: templates, static files, migrations and mail templates ride
inside it, and an installed copy migrates and renders without the source checkout."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.fixtures import ROOT


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    uv = shutil.which("uv") or str(ROOT / ".uv" / "bin" / "uv")
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        # The wheel is built from an sdist, as a release is: no stale build/ directory leaks in.
        [uv, "build", "--out-dir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("nyhetsbrev-*.whl")
    return built


class TestWheel:
    def test_carries_data_files(self, wheel: Path) -> None:
        names = set(zipfile.ZipFile(wheel).namelist())
        for migration in (ROOT / "migrations" / "versions").glob("*.py"):
            assert f"app/migrations/versions/{migration.name}" in names
        assert "app/migrations/env.py" in names
        assert "app/email_templates/transactional/confirmation.html" in names
        assert "app/email_templates/sommar/theme.css" in names
        assert "app/web/templates/subscribe.html" in names
        assert "app/web/templates/redaktion/base.html" in names
        assert "app/web/static/vendor/htmx.min.js" in names
        assert "app/email_templates/transactional/sign_in.html" in names
        assert "app/web/static/site.css" in names
        assert not any(name.startswith("tests/") for name in names)

    def test_installed_copy_migrates_away_from_the_checkout(
        self, wheel: Path, tmp_path: Path
    ) -> None:
        target = tmp_path / "site"
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(target)
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        env = {
            **os.environ,
            "PYTHONPATH": str(target),
            "NEWSLETTER_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/wheel.db",
        }
        check = subprocess.run(
            [
                sys.executable,
                "-c",
                "import app.resources as r; print(r.MIGRATIONS_DIR); print(r.EMAIL_TEMPLATES_DIR)",
            ],
            env=env,
            cwd=elsewhere,
            capture_output=True,
            text=True,
            check=True,
        )
        assert check.stdout.split() == [
            str(target / "app" / "migrations"),
            str(target / "app" / "email_templates"),
        ]
        upgraded = subprocess.run(
            [sys.executable, "-m", "app.cli", "db", "upgrade"],
            env=env,
            cwd=elsewhere,
            capture_output=True,
            text=True,
            check=False,
        )
        assert upgraded.returncode == 0, upgraded.stderr
        assert "database at head" in upgraded.stdout
