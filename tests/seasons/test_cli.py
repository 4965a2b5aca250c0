"""`newsletter seasons run`: makes the due drafts once, and says so."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import select

from app import db
from app.campaigns.models import Theme
from app.federations.models import Federation
from app.seasons.models import Anchor, SeasonalRule
from tests.federations.test_cli import FED, database, invoke

__all__ = ["database"]


def _add_rule() -> None:
    async def _run() -> None:
        try:
            async with db.session_scope() as session:
                federation = (await session.execute(select(Federation))).scalar_one()
                session.add(
                    SeasonalRule(
                        federation_id=federation.id,
                        name="Julhälsning",
                        theme=Theme.JUL,
                        anchor=Anchor.JULAFTON,
                        days_before=10,
                        notify_emails=["chef@norr.example.se"],
                    )
                )
        finally:
            await db.dispose_engine()

    asyncio.run(_run())


def test_run_on_the_day_once(database: Path) -> None:
    assert invoke(*FED)[0] == 0
    _add_rule()
    code, out, _ = invoke("seasons", "run", "--date", "2026-12-13")
    assert (code, out.strip()) == (0, "0 seasonal drafts made")
    code, out, _ = invoke("seasons", "run", "--date", "2026-12-14")
    assert code == 0
    assert "sf-norr: draft" in out
    assert out.strip().endswith("1 seasonal drafts made")
    code, out, _ = invoke("seasons", "run", "--date", "2026-12-15")
    assert (code, out.strip()) == (0, "0 seasonal drafts made")


def test_bad_date_is_refused(database: Path) -> None:
    code, _, err = invoke("seasons", "run", "--date", "julafton")
    assert code != 0
    assert "YYYY-MM-DD" in err
