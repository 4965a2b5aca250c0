"""Pydantic shapes in and out of the subscriber endpoints: the public sign-up and the staff API."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from app.messages import SIGNUP_ACCEPTED
from app.subscribers.models import NAME_LENGTH, BounceState, ImportJobStatus, SubscriptionStatus

_ATTRIBUTES: Any = Field(
    default_factory=dict,
    description="Free-form JSON object (for example municipality or organisation).",
    examples=[{"kommun": "Umeå", "organisation": "Arbetsförmedlingen"}],
)


class CreateMode(StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"


class SubscriberCreate(BaseModel):
    """A subscriber added by staff. By default the address gets a confirmation mail (double
    opt-in); `status: confirmed` skips it and needs a `consent_note` saying where consent was
    given, kept as evidence."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {"email": "anna.berg@example.se", "name": "Anna Berg"},
                {
                    "email": "lars.holm@example.se",
                    "name": "Lars Holm",
                    "status": "confirmed",
                    "consent_note": "Anmälde sig på papper vid nätverksträffen 12 mars.",
                    "attributes": {"kommun": "Vännäs"},
                },
            ]
        },
    )

    email: str = Field(min_length=3, max_length=254)
    name: str | None = Field(default=None, max_length=NAME_LENGTH)
    attributes: dict[str, Any] = _ATTRIBUTES
    status: CreateMode = CreateMode.PENDING
    consent_note: str | None = Field(
        default=None,
        max_length=2000,
        description="Required with status confirmed: how and when the person consented.",
    )

    @model_validator(mode="after")
    def _confirmed_needs_evidence(self) -> Self:
        if self.status is CreateMode.CONFIRMED and not (self.consent_note or "").strip():
            raise ValueError("consent_note is required when status is confirmed")
        return self


class SubscriberUpdate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={"examples": [{"name": "Anna Berg", "attributes": {"kommun": "Umeå"}}]},
    )

    name: str | None = Field(default=None, max_length=NAME_LENGTH)
    attributes: dict[str, Any] | None = Field(
        default=None, description="Replaces the whole attributes object."
    )


class SubscriberRead(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": 42,
                    "email": "anna.berg@example.se",
                    "name": "Anna Berg",
                    "status": "confirmed",
                    "attributes": {"kommun": "Umeå"},
                    "bounce_state": "ok",
                    "created_at": "2026-11-01T09:00:00Z",
                    "updated_at": "2026-11-01T09:05:00Z",
                    "confirmed_at": "2026-11-01T09:05:00Z",
                    "unsubscribed_at": None,
                }
            ]
        },
    )

    id: int
    email: str
    name: str | None
    status: SubscriptionStatus
    attributes: dict[str, Any]
    bounce_state: BounceState
    created_at: datetime
    updated_at: datetime
    confirmed_at: datetime | None
    unsubscribed_at: datetime | None


class SubscriberPage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [], "next_cursor": None}]})

    items: list[SubscriberRead]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page."
    )


class ListFilters(BaseModel):
    status: SubscriptionStatus | None = None
    q: str | None = Field(default=None, max_length=200)
    created_after: AwareDatetime | None = None
    created_before: AwareDatetime | None = None
    bounced: bool | None = Field(
        default=None,
        description="true: only addresses with a bounce state (soft or hard); false: only "
        "those without.",
    )


ProblemReason = Literal[
    "invalid_email",
    "non_ascii_local_part",
    "missing_email",
    "duplicate_in_file",
    "suppressed",
    "too_long",
    "malformed_row",
]


class ImportProblem(BaseModel):
    line: int = Field(description="Line number in the file (the header is line 1).")
    reason: ProblemReason
    detail: str | None = None


class ImportReport(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "rows": 4,
                    "created": 2,
                    "existing": 1,
                    "suppressed": 0,
                    "invalid": 1,
                    "problems": [{"line": 4, "reason": "invalid_email", "detail": None}],
                }
            ]
        }
    )

    rows: int = Field(description="Data rows read (header excluded).")
    created: int
    existing: int = Field(description="Already subscribers; left exactly as they were.")
    suppressed: int = Field(description="Erased or blocked addresses; not added again.")
    invalid: int
    problems: list[ImportProblem] = Field(
        description="One entry per row not imported for a reason other than already existing "
        "(at most 1000 listed)."
    )


class ImportJobError(BaseModel):
    code: Literal["interrupted", "invalid_file", "error"]
    message: str


class ImportJobRead(BaseModel):
    """A CSV import run in the background: `rows_done` of `rows_total` is the progress; the
    report is the final one when `status` is done, and what was imported before the failure
    when it is failed."""

    id: int
    status: ImportJobStatus
    filename: str | None
    mode: CreateMode
    rows_total: int = Field(description="Data rows in the file (header and blank lines excluded).")
    rows_done: int = Field(description="Rows imported and committed so far.")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error: ImportJobError | None = Field(description="Why the job failed (status failed).")
    report: ImportReport | None = Field(description="Set when the job has ended.")


class SignupRequest(BaseModel):
    """One sign-up as posted by the hosted form or a federation's own form."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="ignore")

    # Lengths are checked by the service, which answers with a field error instead of a 422
    # from the parser, so the form can show the message next to the field.
    email: str = ""
    name: str = ""
    consent: bool = False
    # Honeypot: people never see it; anything in it means a bot filled the form.
    website: str = ""
    stamp: str = ""

    @field_validator("consent", mode="before")
    @classmethod
    def _checkbox(cls, value: object) -> bool:
        # An HTML checkbox sends "on" (or its value) when ticked and nothing otherwise.
        if isinstance(value, bool):
            return value
        return str(value).strip().lower() in {"on", "1", "true", "yes", "ja"}

    @field_validator("email", "name", "website", "stamp", mode="before")
    @classmethod
    def _text(cls, value: object) -> str:
        return "" if value is None else str(value)


class SignupAccepted(BaseModel):
    """The same answer whatever the address's state (no enumeration)."""

    status: Literal["ok"] = "ok"
    message: str = SIGNUP_ACCEPTED


class FormStamp(BaseModel):
    """A render stamp for a federation's own form (put it in a hidden field named stamp)."""

    stamp: str
    privacy_notice_version: int
    privacy_notice_url: str
    consent_text: str


class StaffUnsubscribe(BaseModel):
    """Unsubscribe on the person's request; `note` says how they asked (kept as evidence)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    note: str | None = Field(None, max_length=500, examples=["Ringde kansliet 3 mars"])


class ConfirmationQueued(BaseModel):
    delivery_id: int


class PrivacyNoticeCreate(BaseModel):
    """A new version of the sign-up form's consent sentence and the privacy notice."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    form_text: str = Field(min_length=1, max_length=2000, description="Beside the checkbox.")
    privacy_text: str = Field(
        min_length=1, max_length=50_000, description="The privacy page, in Markdown."
    )


class PrivacyNoticeRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    version: int
    form_text: str
    privacy_text: str
    created_at: datetime


class PrivacyNoticeList(BaseModel):
    items: list[PrivacyNoticeRead] = Field(description="Newest (the one shown now) first.")
