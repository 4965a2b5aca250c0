"""Start-up warns about a NEWSLETTER_* variable that nothing reads (a typo)."""

from __future__ import annotations

from pathlib import Path

from app.config import unknown_variables
from tests.fixtures.cli import newsletter


class TestUnknownVariables:
    def test_typo_is_named_with_the_closest_setting(self) -> None:
        lines = unknown_variables({"NEWSLETTER_SMTP_HOTS": "relay", "NEWSLETTER_BASE_URL": "x"})
        assert lines == [
            "NEWSLETTER_SMTP_HOTS is not a known setting and is ignored; "
            "did you mean NEWSLETTER_SMTP_HOST?"
        ]

    def test_known_and_foreign_variables_pass(self) -> None:
        environ = {"NEWSLETTER_DATABASE_URL": "x", "NEWSLETTER_LOG_LEVEL": "x", "PATH": "/bin"}
        assert unknown_variables(environ, also_known=["NEWSLETTER_LOG_LEVEL"]) == []

    def test_command_warns_once_and_still_runs(self, tmp_path: Path) -> None:
        url = f"sqlite+aiosqlite:///{tmp_path}/typo.db"
        result = newsletter(url, "db", "upgrade", NEWSLETTER_SEND_RATE_PER_SECUND="5")
        assert result.returncode == 0, result.stderr
        warnings = [line for line in result.stderr.splitlines() if "SECUND" in line]
        assert len(warnings) == 1
        assert "did you mean NEWSLETTER_SEND_RATE_PER_SECOND?" in warnings[0]


class TestDispatcherStartUp:
    def test_a_dispatch_run_imports_neither_the_web_framework_nor_unused_builders(
        self, tmp_path: Path
    ) -> None:
        # cron starts `newsletter dispatch` every minute; FastAPI was a sixth of its start-up.
        url = f"sqlite+aiosqlite:///{tmp_path}/tick.db"
        assert newsletter(url, "db", "upgrade").returncode == 0
        result = newsletter(url, "dispatch", PYTHONPROFILEIMPORTTIME="1")
        assert result.returncode == 0, result.stderr
        imported = {
            line.rsplit("|", 1)[-1].strip()
            for line in result.stderr.splitlines()
            if line.startswith("import time:")
        }
        assert {"app.delivery.runner", "app.campaigns.service"} <= imported
        assert {"fastapi", "starlette"} & imported == set()
        # The builders of mail other than campaigns come when first called (app.composition).
        lazy = {"app.subscribers.service", "app.users.service", "app.seasons.service"}
        assert lazy & imported == set()
        # Nobody scrapes a cron dispatcher's counters (app.delivery.outcomes.REPLY_CLASSES),
        # and only a DKIM signer needs dkimpy and dnspython: 0.07 and 0.1 s of CPU.
        assert {"prometheus_client", "dkim", "dns"} & imported == set()
        # cron's runs have no terminal, so no progress bar.
        assert "rich.progress" not in imported

    def test_a_dispatch_run_freezes_its_start_up_before_the_work(self, tmp_path: Path) -> None:
        """What start-up made is frozen for the cyclic collector (gc.freeze) once the campaign
        path is imported and before the run: the collector's walk over it at exit was a
        quarter of an empty cron tick."""
        url = f"sqlite+aiosqlite:///{tmp_path}/tick.db"
        assert newsletter(url, "db", "upgrade").returncode == 0
        probe = tmp_path / "probe"
        probe.mkdir()
        (probe / "sitecustomize.py").write_text(
            "import gc, sys\n"
            "_freeze = gc.freeze\n"
            "def freeze():\n"
            "    _freeze()\n"
            '    sys.stderr.write(f"FROZEN {gc.get_freeze_count()} '
            "{'app.campaigns.service' in sys.modules}\\n\")\n"
            "gc.freeze = freeze\n"
        )
        result = newsletter(url, "dispatch", PYTHONPATH=str(probe))
        assert result.returncode == 0, result.stderr
        frozen = [line.split() for line in result.stderr.splitlines() if line.startswith("FROZEN")]
        assert len(frozen) == 1, result.stderr
        count, campaign_path_loaded = frozen[0][1:]
        assert int(count) > 10_000
        assert campaign_path_loaded == "True"
