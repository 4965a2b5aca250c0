"""`newsletter user invite`: a person, their role and a first sign-in link in the outbox."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from app.audit.models import AuditAction, AuditEntry
from app.delivery.models import Delivery, DeliveryKind
from app.users.models import Membership, Role, User
from tests.fixtures.cli import FED, database, invoke, query

__all__ = ["database"]  # the migrated CLI database fixture, shared with the federation CLI tests


@pytest.fixture
def federation(database: Path) -> Iterator[None]:
    code, _, err = invoke(*FED)
    assert code == 0, err
    return


@pytest.mark.usefixtures("federation")
class TestUserInvite:
    def test_invites_a_person_with_a_role_and_queues_a_link(self) -> None:
        code, out, err = invoke(
            "user",
            "invite",
            "--email",
            "Anna@Norr.example.se",
            "--federation",
            "sf-norr",
            "--role",
            "ansvarig",
        )
        assert code == 0, err
        assert "invited person" in out
        [user] = query(select(User))
        assert isinstance(user, User)
        assert user.email == "Anna@norr.example.se"
        assert not user.is_install_admin
        [member] = query(select(Membership))
        assert isinstance(member, Membership)
        assert member.role == Role.ANSVARIG
        deliveries = query(select(Delivery).where(Delivery.kind == DeliveryKind.SIGN_IN))
        assert [d.to_address for d in deliveries] == ["Anna@norr.example.se"]  # type: ignore[attr-defined]
        [entry] = query(select(AuditEntry).where(AuditEntry.action == AuditAction.PERSON_INVITED))
        assert isinstance(entry, AuditEntry)
        assert entry.action == AuditAction.PERSON_INVITED
        assert entry.actor_label == "newsletter user invite"

    def test_admin_without_a_federation(self) -> None:
        code, _, err = invoke("user", "invite", "--email", "it@example.se", "--admin")
        assert code == 0, err
        [user] = query(select(User))
        assert isinstance(user, User)
        assert user.is_install_admin

    def test_again_changes_the_role_and_keeps_one_person(self) -> None:
        for role in ("redaktor", "admin"):
            code, _, err = invoke(
                "user",
                "invite",
                "--email",
                "a@example.se",
                "--federation",
                "sf-norr",
                "--role",
                role,
            )
            assert code == 0, err
        assert len(query(select(User))) == 1
        [member] = query(select(Membership))
        assert member.role == Role.ADMIN  # type: ignore[attr-defined]

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (["--email", "a@example.se"], "--admin"),
            (["--email", "a@example.se", "--federation", "sf-norr"], "together"),
            (["--email", "a@example.se", "--federation", "sf-norr", "--role", "chef"], "--role"),
            (["--email", "inte en adress", "--admin"], "e-mail"),
            (["--email", "a@example.se", "--federation", "nope", "--role", "admin"], "nope"),
        ],
    )
    def test_bad_input_is_one_line_and_changes_nothing(self, args: list[str], message: str) -> None:
        code, _, err = invoke("user", "invite", *args)
        assert code == 1
        assert err.startswith("error:")
        assert message in err
        assert query(select(User)) == []


def test_no_federation_at_all_is_refused(database: Path) -> None:
    code, _, err = invoke("user", "invite", "--email", "it@example.se", "--admin")
    assert code == 1
    assert "Create a federation first" in err
    assert query(select(User)) == []
