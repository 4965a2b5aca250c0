"""Pydantic shapes for the campaign API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from app.campaigns.models import CampaignStatus, Theme
from app.db import MAX_ROW_ID
from app.delivery.models import DeliveryStatus
from app.rendering.header_text import HeaderText


class ClosingFields(BaseModel):
    """How a letter ends; the same fields on create and update."""

    sign_off: str | None = Field(
        None,
        max_length=300,
        description="Closing line; null: the federation's default (or the theme's), "
        "empty: no closing line.",
        examples=["Ha en skön sommar!"],
    )
    signature_name: str | None = Field(
        None, max_length=200, description="Null: the federation's default; empty: none."
    )
    signature_title: str | None = Field(None, max_length=200)
    signature_image_id: int | None = Field(
        None, ge=1, le=MAX_ROW_ID, description="An uploaded portrait beside the signature."
    )


class CampaignCreate(ClosingFields):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    subject: HeaderText = Field(
        min_length=1, max_length=200, examples=["Sommarhälsning från förbundet"]
    )
    # The preheader is the inbox preview line: one line, like the subject.
    preheader: HeaderText = Field("", max_length=300, examples=["Ett sommarbrev om året som gått."])
    theme: Theme = Field(examples=["sommar"])
    body_markdown: str = Field(
        min_length=1,
        max_length=60_000,
        examples=["Våren har gått fort.\n\n> ”Det här betydde mycket för mig.” (Deltagare)"],
    )
    header_image_id: int | None = Field(
        None,
        ge=1,
        le=MAX_ROW_ID,
        description="An uploaded image shown instead of the theme's artwork.",
    )
    publish_in_archive: bool | None = Field(
        None,
        description="Show the letter in the public archive and its feed once sent; null: the "
        "federation's default (on unless its admins turned it off).",
    )


class CampaignUpdate(ClosingFields):
    """Any subset of the fields; only while the campaign is a draft."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    subject: HeaderText | None = Field(None, min_length=1, max_length=200)
    preheader: HeaderText | None = Field(None, max_length=300)
    theme: Theme | None = None
    body_markdown: str | None = Field(None, min_length=1, max_length=60_000)
    header_image_id: int | None = Field(
        None,
        ge=1,
        le=MAX_ROW_ID,
        description="An uploaded image; null puts the theme's artwork back.",
    )
    publish_in_archive: bool | None = None


class MarkdownWarningRead(BaseModel):
    """Something in the Markdown the letter drops or readers will stumble over."""

    line: int = Field(description="1-based line in body_markdown.")
    code: str = Field(examples=["vague_link_text"])
    message: str = Field(description="Swedish, for the author.")


class CampaignRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    subject: str
    preheader: str
    theme: Theme
    body_markdown: str
    header_image_id: int | None
    sign_off: str | None
    signature_name: str | None
    signature_title: str | None
    signature_image_id: int | None
    publish_in_archive: bool
    status: CampaignStatus
    send_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    paused_reason: str | None
    version: int = Field(description="Grows with every edit; an approval names one version.")
    approved_version: int | None = Field(
        description="The version an ansvarig approved (four eyes); null when none is."
    )
    approved_at: datetime | None
    created_at: datetime
    updated_at: datetime
    archive_url: str | None = Field(None, description="Public web version, once sent.")
    timezone: str = Field("Europe/Stockholm", description="The federation's time zone.")
    send_at_local: datetime | None = Field(None, description="send_at in `timezone`.")
    started_at_local: datetime | None = None
    finished_at_local: datetime | None = None
    warnings: list[MarkdownWarningRead] = Field(
        default_factory=list,
        description="Markdown the renderer dropped or that needs attention (create, update, get).",
    )


class CampaignPreview(BaseModel):
    """The mail as sent to the sample subscriber, with the Markdown warnings."""

    html: str
    text: str
    warnings: list[MarkdownWarningRead]


class CampaignList(BaseModel):
    items: list[CampaignRead]


class ScheduleRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    send_at: datetime = Field(
        description="When to send, in the future. Without an offset it is read in the "
        "federation's time zone (`2027-06-18T08:00` is 08.00 Swedish time).",
        examples=["2027-06-18T08:00", "2027-06-18T08:00:00+02:00"],
    )


class TestSendRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    addresses: list[EmailStr] = Field(min_length=1, max_length=10)


class TestSendResult(BaseModel):
    queued: int
    delivery_ids: list[int]


class RequeueResult(BaseModel):
    requeued: int


class CampaignStats(BaseModel):
    """Live counts of the campaign's deliveries (test sends not included)."""

    campaign_id: int
    status: CampaignStatus
    recipients: int
    counts: dict[str, int]


# A delivery state, or `bounced`: failed because the receiving side refused the message for
# good (a 5xx reply, or a 5.x.x delivery status report after it was accepted).
BOUNCED: Literal["bounced"] = "bounced"
DeliveryFilter = DeliveryStatus | Literal["bounced"]


class DeliveryRead(BaseModel):
    """One recipient's delivery of a campaign: the outcome, never the message itself."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str | None = Field(description="The recipient; null once the subscriber was erased.")
    status: DeliveryStatus
    attempts: int
    smtp_code: int | None = Field(description="The relay's last reply code.")
    enhanced_code: str | None = Field(examples=["5.1.1"])
    smtp_reply: str | None = Field(description="The relay's last reply, addresses redacted.")
    updated_at: datetime


class DeliveryPage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [], "next_cursor": None}]})

    items: list[DeliveryRead]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page."
    )
