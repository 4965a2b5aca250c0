"""The Swedish message catalogue: visitor-facing text that is not in a template."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

MONTHS = (
    "januari",
    "februari",
    "mars",
    "april",
    "maj",
    "juni",
    "juli",
    "augusti",
    "september",
    "oktober",
    "november",
    "december",
)


def swedish_date(at: datetime, zone: str) -> str:
    """ "3 mars 2026" in the given time zone."""
    local = at.astimezone(ZoneInfo(zone))
    return f"{local.day} {MONTHS[local.month - 1]} {local.year}"


def swedish_datetime(value: datetime | None, zone: str = "Europe/Stockholm") -> str:
    """ "3 mars 2026 kl. 09.05" in the given time zone."""
    if value is None:
        return ""
    local = value.astimezone(ZoneInfo(zone))
    return f"{swedish_date(local, zone)} kl. {local:%H.%M}"


PAGES: dict[str, dict[str, str]] = {
    "bad_request": {
        "title": "Något blev fel",
        "message": "Vi kunde inte behandla din begäran. Kontrollera uppgifterna och försök igen.",
    },
    "not_found": {
        "title": "Länken fungerar inte",
        "message": "Sidan finns inte, eller så är länken ogiltig, använd eller för gammal.",
    },
    "rate_limited": {
        "title": "För många försök",
        "message": "Vi har tagit emot för många förfrågningar. Vänta en stund och försök igen.",
    },
    "internal_error": {
        "title": "Tekniskt fel",
        "message": "Något gick fel hos oss. Försök igen om en stund.",
    },
}

# Page titles of the visitor pages, by page.
TITLES: dict[str, str] = {
    "signup": "Prenumerera på nyhetsbrevet",
    "signup_done": "Kolla din inkorg",
    "confirm": "Bekräfta prenumerationen",
    "confirmed": "Prenumerationen är bekräftad",
    "unsubscribe": "Avsluta prenumerationen",
    "unsubscribed": "Prenumerationen är avslutad",
    "privacy": "Integritet och personuppgifter",
    "own_data": "Dina uppgifter",
    "own_data_erased": "Dina uppgifter är raderade",
}

# A subscription's status and its consent events as the self-service page names them, keyed
# by the stored value (SubscriptionStatus and ConsentEvent are StrEnums, so either key works).
SUBSCRIPTION_STATUSES: dict[str, str] = {
    "pending": "Anmäld, inte bekräftad ännu",
    "confirmed": "Prenumererar",
    "unsubscribed": "Prenumerationen är avslutad",
}
CONSENT_EVENTS: dict[str, str] = {
    "signup": "Anmälan",
    "confirm": "Bekräftelse",
    "unsubscribe": "Avslutad prenumeration",
    "import": "Tillagd från en lista",
    "staff_confirmed": "Tillagd av förbundet med ditt samtycke",
}

# The answer to every accepted sign-up through the JSON API, whatever happened behind it.
SIGNUP_ACCEPTED = "Om adressen kan ta emot nyhetsbrevet får den ett mejl med en bekräftelselänk."

# Delivery and campaigns (staff-facing, stored with the campaign or returned by the API).
CAMPAIGN_NOT_PAUSED = "Utskicket är inte pausat."
PAUSED_SENDER_REFUSED = "Reläet avvisade avsändaren: {reply}"

# Staff-facing warnings about Markdown the renderer drops or that readers will stumble over;
# returned with line numbers at save and preview time.
MARKDOWN_WARNINGS: dict[str, str] = {
    "raw_html": "HTML-kod tas bort ur brevet. Skriv med Markdown i stället.",
    "unknown_attribute": "Attributet {detail} känns inte igen och tas bort. "
    "Det enda som stöds är {{.knapp}} efter en länk som står ensam på raden.",
    "button_not_alone": "{{.knapp}} fungerar bara efter en länk som står ensam på en egen rad; "
    "här tas den bort.",
    "image_without_alt": "Bilden {detail} saknar alternativtext och tas bort. "
    "Skriv en kort beskrivning: ![Beskrivning](adress).",
    "image_unsafe_url": "Bilden {detail} har ingen https-adress och tas bort.",
    "vague_link_text": "Länktexten ”{detail}” säger inget om vart länken leder. "
    "Skriv vad läsaren hittar där, t.ex. ”Läs verksamhetsrapporten”.",
    "bare_url": "En lång webbadress står som text: {detail}. "
    "Gör den till en länk med beskrivande text: [Läs rapporten](adress).",
}

# Shown to staff as a campaign's paused_reason.
PAUSED_BY_STAFF = "Pausat av personalen."

# Titles of the iframes a federation embeds on its own site (screen readers announce them).
EMBED_TITLES = {
    "form": "Prenumerera på nyhetsbrevet från",
    "archive": "Tidigare nyhetsbrev från",
}

# The welcome mail's text until the federation writes its own (paragraphs, blank-line separated).
DEFAULT_WELCOME_TEXT = """\
Tack för att du bekräftade din prenumeration. Nu får du våra nyhetsbrev: en sommarhälsning,
en hälsning till jul och nyår, ett brev vid årsskiftet och ibland nyheter om våra insatser.

Alla brev vi har skickat finns också i vårt arkiv på webben, så du kan läsa dem när det
passar dig.
"""
