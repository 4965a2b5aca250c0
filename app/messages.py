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
    "too_large": {
        "title": "För mycket data",
        "message": "Det du skickade var större än vi tar emot. Fyll i formuläret och försök igen.",
    },
    "rate_limited": {
        "title": "För många försök",
        "message": "Vi har tagit emot för många förfrågningar. Vänta en stund och försök igen.",
    },
    "csrf": {
        "title": "Formuläret kunde inte skickas",
        "message": "Formuläret saknade sin säkerhetskod eller var för gammalt. Ladda om sidan "
        "och försök igen.",
    },
    "sign_in_required": {
        "title": "Logga in",
        "message": "Du behöver logga in i Redaktionen för att se sidan.",
    },
    "role_too_low": {
        "title": "Din roll räcker inte",
        "message": "Din roll i förbundet tillåter inte det här. Be en ansvarig eller en "
        "administratör.",
    },
    "internal_error": {
        "title": "Tekniskt fel",
        "message": "Något gick fel hos oss. Försök igen om en stund.",
    },
}


# Four eyes (campaigns.service): API messages, in English like the rest of the API.
APPROVAL_NEEDED = (
    "This federation requires four eyes: an ansvarig other than the authors must approve "
    "this version before it is scheduled or sent."
)
APPROVAL_BY_AUTHOR = "You wrote or last edited this version; another ansvarig must approve it."
LAST_ADMIN = "The federation must keep at least one admin."
APPROVAL_STALE = "The campaign changed since you opened it; review the new version first."

# The audit log's actions as Redaktionen shows them (keys are app.audit.models.AuditAction).
AUDIT_ACTIONS: dict[str, str] = {
    "signed_in": "Loggade in",
    "signed_out": "Loggade ut",
    "signed_out_everywhere": "Loggade ut på alla enheter",
    "person_invited": "Bjöd in en person",
    "role_changed": "Ändrade en roll",
    "person_removed": "Tog bort en person",
    "campaign_created": "Skapade ett utskick",
    "campaign_edited": "Ändrade ett utskick",
    "campaign_approved": "Godkände ett utskick",
    "campaign_test_sent": "Skickade ett testutskick",
    "campaign_scheduled": "Schemalade ett utskick",
    "campaign_unscheduled": "Tog tillbaka ett schemalagt utskick till utkast",
    "campaign_sent": "Skickade ett utskick",
    "campaign_cancelled": "Avbröt ett utskick",
    "campaign_paused": "Pausade ett utskick",
    "campaign_resumed": "Återupptog ett utskick",
    "campaign_requeued": "Skickade om okända utfall",
    "campaign_deleted": "Tog bort ett utkast",
    "subscriber_added": "Lade till en prenumerant",
    "subscribers_imported": "Importerade prenumeranter",
    "subscriber_edited": "Ändrade en prenumerant",
    "subscriber_erased": "Raderade en prenumerant",
    "settings_changed": "Ändrade inställningar",
    "image_uploaded": "Laddade upp en bild",
    "api_key_created": "Skapade en API-nyckel",
    "api_key_revoked": "Återkallade en API-nyckel",
    "federation_created": "Skapade ett förbund",
}

CAMPAIGN_STATUS: dict[str, str] = {
    "draft": "Utkast",
    "scheduled": "Schemalagt",
    "sending": "Skickas",
    "paused": "Pausat",
    "sent": "Skickat",
    "cancelled": "Avbrutet",
}

DELIVERY_STATUS: dict[str, str] = {
    "queued": "I kö",
    "sending": "Skickas just nu",
    "sent": "Skickade",
    "deferred": "Försenade, försöker igen",
    "failed": "Misslyckade",
    "unknown": "Okänt utfall",
    "suppressed": "Inte skickade (avanmälda eller spärrade)",
    "cancelled": "Avbrutna",
}

# Redaktionen's notices after a form (keys travel in the redirect's ?klart= or ?fel=).
STAFF_NOTICES: dict[str, str] = {
    "sparat": "Utskicket är sparat.",
    "test": "Testutskicket är köat och skickas inom någon minut.",
    "godkant": "Du har godkänt den här versionen.",
    "schemalagt": "Utskicket är schemalagt.",
    "avbrutet": "Utskicket är avbrutet. Mejl som inte redan lämnats till mejlservern skickas inte.",
    "aterupptaget": "Utskicket fortsätter.",
    "omkoat": "Mejlen med okänt utfall skickas igen.",
    "pausat": "Utskicket är pausat. Mejl som redan lämnats till mejlservern går fram; resten "
    "väntar tills du fortsätter.",
    "avschemalagt": "Utskicket är taget tillbaka till utkast. Inget skickas.",
    "skickas": "Utskicket skickas inom någon minut.",
    "kopierat": "Det här är en kopia: ett nytt utkast med samma innehåll.",
    "borttaget": "Utkastet är borttaget.",
}
STAFF_ERRORS: dict[str, str] = {
    "approval_needed": "Förbundet kräver fyra ögon: en annan ansvarig måste godkänna just den "
    "här versionen innan den kan schemaläggas.",
    "own_campaign": "Du har skrivit eller senast ändrat den här versionen. En annan ansvarig "
    "måste godkänna den.",
    "stale": "Utskicket har ändrats sedan du öppnade det. Läs den nya versionen och godkänn igen.",
    "state": "Det går inte i utskickets nuvarande läge.",
    "past": "Välj en tidpunkt som ligger i framtiden.",
    "when": "Fyll i datum och tid som ÅÅÅÅ-MM-DD och TT:MM.",
    "addresses": "Skriv en till tio e-postadresser, en per rad.",
    "no_recipients": "Förbundet har inga bekräftade prenumeranter, så utskicket skulle inte nå "
    "någon. Det kan schemaläggas när någon har bekräftat sin prenumeration.",
    "invalid": "Uppgifterna kunde inte sparas. Kontrollera fälten och försök igen.",
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
TEST_SUBJECT_PREFIX = "[Test]"
TEST_UNSUBSCRIBE = {
    "title": "Det här var ett testutskick",
    "message": "Länken kom i ett testutskick till förbundets personal och avslutar ingen "
    "prenumeration. I det riktiga utskicket leder den till mottagarens egen avregistrering.",
}
HELD_OVERDUE = (
    "Utskicket var mer än {hours:g} timmar försenat när det skulle skickas och har hållits "
    "kvar. Välj Skicka nu eller schemalägg det på nytt."
)

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

IMPORT_PROBLEMS: dict[str, str] = {
    "invalid_email": "ogiltig e-postadress",
    "missing_email": "e-postadress saknas",
    "duplicate_in_file": "finns redan tidigare i filen",
    "suppressed": "raderad eller spärrad, läggs inte till igen",
    "too_long": "för långt värde",
    "malformed_row": "raden kunde inte läsas",
}
IMPORT_JOB_STATUSES: dict[str, str] = {
    "queued": "Väntar på att starta",
    "running": "Pågår",
    "done": "Klar",
    "failed": "Avbröts",
}
IMPORT_FAILURES: dict[str, str] = {
    "interrupted": "Importen avbröts flera gånger innan den blev klar. Raderna som räknas nedan "
    "hann läggas in; importera filen igen för att lägga till resten (de som redan finns "
    "hoppas över).",
    "invalid_file": "Filen gick inte att läsa hela vägen. Raderna som räknas nedan hann läggas "
    "in; rätta filen och importera den igen.",
    "error": "Importen avbröts av ett tekniskt fel. Raderna som räknas nedan hann läggas in; "
    "försök igen om en stund eller kontakta den som driftar tjänsten.",
}
SUBSCRIBER_NOTICES: dict[str, str] = {
    "tillagd": "Prenumeranten är tillagd.",
    "sparad": "Ändringen är sparad.",
    "raderad": "Prenumeranten är raderad. Adressen är spärrad och kan inte läggas till igen.",
}
SUBSCRIBER_ERRORS: dict[str, str] = {
    "already_exists": "Adressen finns redan bland prenumeranterna.",
    "suppressed": "Adressen har raderats eller spärrats och kan inte läggas till igen.",
    "consent_note": "Skriv var och när personen gav sitt samtycke.",
    "invalid": "Kontrollera e-postadressen och försök igen.",
    "file": "Välj en CSV-fil (UTF-8) med en rubrikrad som innehåller email.",
}

# Redaktionen's list hygiene on a subscriber's page, its bounce states and the export choice.
BOUNCE_STATES: dict[str, str] = {
    "ok": "Inga studsar",
    "soft": "Tillfälliga fel (till exempel en full brevlåda)",
    "hard": "Adressen fungerar inte och får inga utskick",
}
BOUNCED_FILTER = "Studsade adresser"
LIST_HYGIENE_NOTICES: dict[str, str] = {
    "avslutad": "Prenumerationen är avslutad. Personen finns kvar men får inga fler utskick.",
    "redan_avslutad": "Prenumerationen var redan avslutad. Inget ändrades.",
    "bekraftelse": "En ny bekräftelse är på väg till adressen.",
    "studsar": "Studsarna är nollställda. Adressen får utskick igen.",
}
LIST_HYGIENE_ERRORS: dict[str, str] = {
    "not_pending": "Bara den som inte har bekräftat ännu kan få en ny bekräftelse.",
    "confirmation_limit": "Adressen har redan fått så många bekräftelser som tillåts för "
    "tillfället. Försök igen senare.",
    "note": "Anteckningen får vara högst 500 tecken.",
}
EXPORT_FORMATS: dict[str, str] = {
    "csv": "Standard-CSV (komma, UTF-8)",
    "excel": "Excel (semikolon)",
}
# How a consent event came about (ConsentRecord.method), for the staff's consent history.
CONSENT_METHODS: dict[str, str] = {
    "form": "Formuläret på webben",
    "api": "Anmälan från förbundets webbplats",
    "link": "Länk i mejl",
    "staff_api": "Av förbundet",
    "staff_import": "Import i Redaktionen",
    "api_import": "Import via API",
    "cli_import": "Import från kommandoraden",
    "demo": "Demodata",
}

# Why Redaktionen's image library refused an upload (keys: the service's reasons and fields).
IMAGE_ERRORS: dict[str, str] = {
    "file": "Välj en bildfil att ladda upp.",
    "alt_text": "Skriv en alternativtext: beskriv vad bilden visar för den som inte ser den.",
    "too_large": "Filen är större än 10 MB. Förminska bilden och försök igen.",
    "decompression_bomb": "Bilden har fler än 50 miljoner bildpunkter och tas inte emot. "
    "Förminska den och försök igen.",
    "unsupported_image": "Filen är ingen läsbar bild i formatet JPEG, PNG eller WebP.",
    "invalid": "Bilden kunde inte tas emot. Försök igen.",
}

# Why Redaktionen's texts page refused a change (keys: form fields and service error codes).
TEXT_ERRORS: dict[str, str] = {
    "welcome_text": "Välkomstbrevets text får vara högst 5 000 tecken.",
    "form_text": "Skriv formulärets text om samtycke (högst 2 000 tecken).",
    "privacy_text": "Skriv integritetstexten (högst 50 000 tecken).",
    "notice_changed": "Någon sparade en ny version samtidigt. Läs den nya versionen och försök "
    "igen.",
    "unsubscribed_retention_days": "Ange ett helt antal dagar mellan 1 och 3 650, eller lämna "
    "rutan tom för standardtiden.",
    "invalid": "Kontrollera uppgifterna och försök igen.",
}

# The retention rules as Redaktionen names them (keys: RetentionRun.kind).
RETENTION_KINDS: dict[str, str] = {
    "unconfirmed_subscribers": "Anmälningar som aldrig bekräftades",
    "unsubscribed_subscribers": "Avslutade prenumeranter",
    "expired_tokens": "Utgångna länkar",
    "consent_client_data": "IP-adress och webbläsare i samtyckesuppgifter",
    "audit_log": "Händelseloggen",
}
