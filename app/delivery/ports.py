"""What delivery needs from the domains above it, declared here and wired in by
app.composition: delivery never imports the campaigns or subscribers services."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from app.delivery.models import Delivery


class PreparedCampaign(Protocol):
    """A campaign rendered once for sending; `render_wire()` gives one recipient's message in
    SMTP wire form (CRLF, dot-stuffed, ending in the "." line), written after DATA as it is."""

    def render_wire(
        self, *, delivery_id: int, to_address: str, name: str | None, unsubscribe_token: str
    ) -> bytes: ...


class CampaignBuilder(Protocol):
    """`test`: the staff test send's variant ("[Test]" subject, a signed preview link)."""

    async def __call__(
        self, session: AsyncSession, *, federation_id: int, campaign_id: int, test: bool = False
    ) -> PreparedCampaign: ...


class TransactionalBuilder(Protocol):
    """(recipient, raw RFC 5322 bytes) for a confirmation or self-service delivery."""

    async def __call__(self, session: AsyncSession, *, delivery: Delivery) -> tuple[str, bytes]: ...


@dataclass(frozen=True, slots=True)
class MailBuilders:
    campaign: CampaignBuilder
    transactional: TransactionalBuilder
    # A staff sign-in link (app.users): same shape, addressed by the row's to_address.
    sign_in: TransactionalBuilder
    # "A draft is waiting for you" to a seasonal rule's owner (app.seasons), by to_address.
    draft_notice: TransactionalBuilder
