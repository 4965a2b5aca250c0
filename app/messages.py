"""The Swedish message catalogue: visitor-facing text that is not in a template."""

from __future__ import annotations

PAGES: dict[str, dict[str, str]] = {
    "bad_request": {
        "title": "Något blev fel",
        "message": "Vi kunde inte behandla din begäran. Kontrollera uppgifterna och försök igen.",
    },
    "not_found": {
        "title": "Länken fungerar inte",
        "message": (
            "Länken är ogiltig, har redan använts eller har gått ut. "
            "Du kan begära en ny länk nedan."
        ),
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
