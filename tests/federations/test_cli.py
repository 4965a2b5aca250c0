"""The staff commands: federation create|list, apikey create|revoke, subscribers import, purge,
seasons run."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import select

from app import db
from app.campaigns.models import Theme
from app.federations.models import ApiKey, Federation
from app.seasons.models import Anchor, SeasonalRule
from app.security import token_hash
from app.subscribers.models import RetentionRun, Subscriber
from tests.fixtures.cli import FED, database, invoke, query

__all__ = ["database"]  # the fixture, from tests/fixtures/cli.py


def test_federation_create_and_list(database: Path) -> None:
    code, out, _ = invoke(*FED)
    assert code == 0, out
    code, out, err = invoke(*FED)
    assert code == 1
    assert err.strip().startswith("error:")
    assert "already exists" in err
    assert len(err.strip().splitlines()) == 1
    code, out, _ = invoke("federation", "list")
    assert code == 0
    assert "sf-norr" in out


def test_federation_create_rejects_bad_values(database: Path) -> None:
    code, _, err = invoke(*[a if a != "sf-norr" else "SF Norr" for a in FED])
    assert code == 1
    assert "--slug" in err


def test_apikey_create_prints_key_last_and_revoke_works(database: Path) -> None:
    assert invoke(*FED)[0] == 0
    code, out, _ = invoke("apikey", "create", "--federation", "sf-norr", "--name", "kansli")
    assert code == 0
    raw = out.strip().splitlines()[-1]
    assert raw.startswith("nb_")
    assert " " not in raw
    [key] = query(select(ApiKey).where(ApiKey.key_hash == token_hash(raw)))
    assert isinstance(key, ApiKey)
    assert key.federation_id is not None
    assert key.name == "kansli"

    code, out, _ = invoke("apikey", "create", "--admin")
    admin_raw = out.strip().splitlines()[-1]
    [admin] = query(select(ApiKey).where(ApiKey.key_hash == token_hash(admin_raw)))
    assert isinstance(admin, ApiKey)
    assert admin.federation_id is None

    assert invoke("apikey", "revoke", raw[:12])[0] == 0
    [revoked] = query(select(ApiKey.revoked_at).where(ApiKey.id == key.id))
    assert revoked is not None
    assert invoke("apikey", "revoke", "nb_doesnotexist")[0] == 1
    assert invoke("apikey", "create")[0] == 1
    assert invoke("apikey", "create", "--federation", "okand")[0] == 1


def test_subscribers_import_and_purge(database: Path, tmp_path: Path) -> None:
    assert invoke(*FED)[0] == 0
    csv_file = tmp_path / "lista.csv"
    csv_file.write_text("\ufeffe-post;namn\nanna@example.se;Anna\nfel;Fel\n", encoding="utf-8")
    code, out, err = invoke("subscribers", "import", "sf-norr", str(csv_file))
    assert code == 0, err
    assert "1 added" in out
    assert "1 invalid" in out
    assert "line 3: invalid_email" in err
    code, out, _ = invoke("subscribers", "import", "sf-norr", str(csv_file))
    assert "0 added, 1 already there" in out
    assert query(select(Subscriber.email)) == ["anna@example.se"]
    code, _, err = invoke("subscribers", "import", "sf-norr", str(csv_file), "--mode", "confirmed")
    assert code == 1
    assert "consent_note" in err

    code, out, _ = invoke("purge")
    assert code == 0
    assert "purged 0 unconfirmed" in out
    assert "deleted 0 audit log rows" in out
    # One per rule for the federation, and one for the install-wide audit rows.
    assert len(query(select(RetentionRun.id))) == 6


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


def test_seasons_run_on_the_day_once(database: Path) -> None:
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


def test_seasons_run_refuses_a_bad_date(database: Path) -> None:
    code, _, err = invoke("seasons", "run", "--date", "julafton")
    assert code != 0
    assert "YYYY-MM-DD" in err
