"""Running the `newsletter` command and the web server as separate processes, as in production."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


def cli_env(database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_LOG_")}
    return {**env, "NEWSLETTER_DATABASE_URL": database_url, **extra}


def newsletter(
    database_url: str, *args: str, cwd: Path = ROOT, **extra: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        env=cli_env(database_url, **extra),
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
        timeout=120,
    )
