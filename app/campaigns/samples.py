"""Sample letters, one per theme: demo data, screenshots, benchmarks and tests."""

from __future__ import annotations

from dataclasses import dataclass

from app.rendering.mail import CampaignContent, MailIdentity

SAMPLE_BASE_URL = "https://nyhetsbrev.example.se"


@dataclass(frozen=True)
class Sample:
    subject: str
    preheader: str
    body_markdown: str


SAMPLES: dict[str, Sample] = {
    "sommar": Sample(
        subject="Sommarhälsning från förbundschefen",
        preheader="Ett halvår av samverkan, nya insatser och en önskan om en skön sommar.",
        body_markdown="""\
Nu när ängarna blommar och de flesta av oss ser fram emot några veckors ledighet vill jag
stanna upp och tacka för ett intensivt första halvår.

I våras startade vi två nya insatser tillsammans med kommunerna, Arbetsförmedlingen och
regionen. Båda handlar om samma sak: att den som behöver stöd från flera håll ska mötas av
en sammanhållen väg framåt, inte av en kö till nästa handläggare.

> ”Första gången kände jag att alla satt vid samma bord och pratade med mig, inte om mig.
> Det gjorde att jag vågade ta nästa steg.” (Deltagare i Steg för steg)

## Det här har hänt under våren

- **42 deltagare** har påbörjat en insats, och drygt hälften har redan nått ett delmål.
- Vårt nätverk för handledare har träffats fyra gånger, senast på temat arbetsträning.
- Styrelsen har beslutat om en utvärdering av insatsen [Nästa steg](https://example.se/nasta-steg).

![Illustration: fem deltagare vid en odlingslåda
med nya plantor]({base}/static/demo/photos/odling.jpg
"Deltagarna i Steg för steg har byggt en egen odling vid Åsgården.")

[Läs verksamhetsrapporten för första halvåret](https://example.se/rapport-2026){.knapp}

Ett varmt tack till alla medarbetare, chefer och deltagare som delat med sig av sina
erfarenheter. Vi ses i augusti!
""",
    ),
    "jul": Sample(
        subject="God jul och gott nytt år från förbundet",
        preheader="Ett år av samverkan i korthet, och ett tack till alla som gjort det möjligt.",
        body_markdown="""\
Decembermörkret har lagt sig över länet, men i våra verksamheter har det lyst starkt i år.
Tillsammans har vi hjälpt fler människor närmare arbete och studier än något år tidigare.

> ”Jag trodde inte att någon skulle orka följa med mig hela vägen. Nu har jag ett jobb
> att gå till efter nyår.” (Deltagare i Vägen vidare)

## Året i korthet

1. Tre nya insatser har startat, en av dem för unga vuxna.
2. Över 300 medarbetare har deltagit i våra utbildningsdagar.
3. Vi har tagit fram en gemensam modell för uppföljning med alla medlemmar.

![Illustration: fyra tända ljus i ett fönster
en mörk decemberkväll]({base}/static/demo/photos/ljus.jpg
"Kansliet i Falun, första advent.")

[Se årets alla insatser](https://example.se/insatser){.knapp}

Kansliet håller stängt mellan jul och nyår. Behöver du nå oss innan dess, skriv till
[kansliet@example.se](mailto:kansliet@example.se).

Vi önskar dig lugna helger med tid för vila och gemenskap.
""",
    ),
    "arsskifte": Sample(
        subject="Brev vid årsskiftet: det vi lärt oss och det som väntar",
        preheader="En tillbakablick på året och förbundets inriktning för nästa år.",
        body_markdown="""\
Ett år är till ända, och det är dags att summera. Det här brevet är lite längre än vanligt,
eftersom vi vill berätta både vad vi lärt oss och vart vi är på väg.

## Det vi lärt oss

Utvärderingen av de myndighetsgemensamma teamen visar att kontinuitet betyder mest: en
kontaktperson som finns kvar hela vägen gör större skillnad än någon enskild metod.

> ”Att få träffa samma person varje gång gjorde att jag slapp börja om från början.”
> (Deltagare i det gemensamma teamet)

## Det som väntar

Under nästa år prioriterar styrelsen tre områden:

- tidiga insatser för unga som varken arbetar eller studerar,
- stöd till arbetsgivare som vill ta emot deltagare,
- bättre uppföljning, så att vi vet vad som ger resultat.

| Område | Budget nästa år |
|:--|--:|
| Tidiga insatser för unga | 2,4 mnkr |
| Stöd till arbetsgivare | 1,1 mnkr |
| Uppföljning | 0,6 mnkr |

![Illustration: fem personer vid ett
sammanträdesbord]({base}/static/demo/photos/styrelsen.jpg
"Styrelsen fastställde verksamhetsplanen i november.")

[Läs hela verksamhetsplanen](https://example.se/verksamhetsplan){.knapp}
""",
    ),
    "allman": Sample(
        subject="Välkommen till vårens inspirationsdag om samverkan",
        preheader="Anmälan är öppen: föreläsningar, erfarenhetsutbyte och nya kontakter.",
        body_markdown="""\
Den 14 april bjuder förbundet in till en inspirationsdag för alla som arbetar med
samordnad rehabilitering: handläggare, chefer, coacher och politiker.

## Program i korthet

- Förmiddag: forskare berättar om vad som gör att insatser i samverkan lyckas.
- Lunch och mingel med utställare från våra insatser.
- Eftermiddag: workshoppar om arbetsträning, unga vuxna och uppföljning.

> ”Dagen gav mig kontakter som jag fortfarande har nytta av i mitt arbete.”
> (Deltagare förra året)

![Illustration: en talare framför en full
föreläsningssal]({base}/static/demo/photos/sal.jpg
"Förra årets inspirationsdag samlade 180 deltagare.")

Dagen är kostnadsfri.

[Anmäl dig senast den 20 mars](https://example.se/anmalan){.knapp}
""",
    ),
}


def sample_branding() -> MailIdentity:
    """A made-up federation for screenshots and tests."""
    return MailIdentity(
        slug="sf-norra",
        name="Samordningsförbundet Norra Dalarna",
        from_email="nyhetsbrev@sf-norra.example.se",
        from_name="Samordningsförbundet Norra Dalarna",
        reply_to="kansliet@sf-norra.example.se",
        postal_address="Storgatan 12\n791 71 Falun",
        contact_email="kansliet@sf-norra.example.se",
        website_url="https://sf-norra.example.se",
        logo_url=None,
        brand_color="#1f5f8b",
        accent_color="#f2c14e",
    )


def sample_markdown(theme: str, base_url: str = SAMPLE_BASE_URL) -> str:
    """The sample body with its illustrations at `base_url` (/static/demo/photos/)."""
    return SAMPLES[theme].body_markdown.replace("{base}", base_url)


def sample_content(
    theme: str, campaign_id: int = 1, base_url: str = SAMPLE_BASE_URL
) -> CampaignContent:
    sample = SAMPLES[theme]
    return CampaignContent(
        id=campaign_id,
        subject=sample.subject,
        preheader=sample.preheader,
        theme=theme,
        body_markdown=sample_markdown(theme, base_url),
    )
