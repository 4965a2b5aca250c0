"""Pydantic shapes for the public sign-up (form and JSON) and its answers."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator


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
    message: str = "Om adressen kan ta emot nyhetsbrevet får den ett mejl med en bekräftelselänk."


class FormStamp(BaseModel):
    """A render stamp for a federation's own form (put it in a hidden field named stamp)."""

    stamp: str
    privacy_notice_version: int
    privacy_notice_url: str
    consent_text: str
