"""Helpers for staff sign-in tests: invite a person, fetch their link, sign in over HTTP."""

from __future__ import annotations

import re
from email import message_from_bytes, policy
from email.message import EmailMessage

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.schemas import Actor
from app.delivery.models import Delivery, DeliveryKind
from app.federations.models import Federation
from app.users import service
from app.users.models import Role, User

HTML_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
LINK = re.compile(r"https://nyhetsbrev\.example\.se(/redaktion/logga-in/[A-Za-z0-9_-]{32})")


async def invite(
    session: AsyncSession,
    federation: Federation | None,
    email: str = "redaktor@example.se",
    role: Role | None = Role.REDAKTOR,
    *,
    install_admin: bool = False,
) -> User:
    invited = await service.invite_person(
        session,
        email=email,
        federation=federation,
        role=role if federation else None,
        install_admin=install_admin,
        actor=Actor.system("test"),
    )
    await session.commit()
    return invited.user


async def sign_in_deliveries(session: AsyncSession, email: str) -> list[Delivery]:
    result = await session.execute(
        select(Delivery)
        .where(Delivery.kind == DeliveryKind.SIGN_IN, Delivery.to_address == email)
        .order_by(Delivery.id)
    )
    return list(result.scalars())


async def newest_mail(session: AsyncSession, email: str) -> EmailMessage:
    delivery = (await sign_in_deliveries(session, email))[-1]
    recipient, raw = await service.build_sign_in_mail(session, delivery=delivery)
    assert recipient == email
    return message_from_bytes(raw, policy=policy.default)  # type: ignore[return-value]


def link_path(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    match = LINK.search(str(body.get_content()))
    assert match, "no sign-in link in the mail"
    return match.group(1)


def csrf_of(html: str) -> str:
    match = HTML_CSRF.search(html)
    assert match, "no csrf field on the page"
    return match.group(1)


async def sign_in_with(client: httpx.AsyncClient, path: str) -> httpx.Response:
    """Open the link (GET shows a button) and press it (POST)."""
    page = await client.get(path)
    assert page.status_code == 200, page.text
    return await client.post(path, data={"csrf": csrf_of(page.text)})


async def signed_in_client(
    client: httpx.AsyncClient, session: AsyncSession, email: str
) -> httpx.Response:
    """Request a link through the form, then sign in with it; the /redaktion page."""
    form = await client.get("/redaktion/logga-in")
    sent = await client.post(
        "/redaktion/logga-in", data={"csrf": csrf_of(form.text), "email": email}
    )
    assert sent.status_code == 200
    answer = await sign_in_with(client, link_path(await newest_mail(session, email)))
    assert answer.status_code == 303
    return await client.get("/redaktion")
