"""Screenshot the README gallery: five real letters, rewritten, with buttons, captions, tables.

    python -m bench.gallery

The five letters in ../shared/seeds/ (two sommarhälsningar, two julbrev, one conference report)
are retold here in new words for a made-up federation, using what the Markdown renderer offers:
a `{.knapp}` button, illustrations with captions, a table, a header photo and the author's own
closing. Writes docs/gallery/<n>-<theme>.png (600 px) and docs/gallery/<n>-<theme>-375.png.
Only the app's own static files are served to Chromium; nothing leaves the machine.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass

os.environ.setdefault("NEWSLETTER_SECRET_KEY", "screenshots-only-0123456789abcdef01234567")

from playwright.async_api import async_playwright

from app.campaigns.samples import sample_branding
from app.rendering.mail import (
    SAMPLE_NAME,
    SAMPLE_TOKEN,
    CampaignContent,
    Closing,
    HeaderImage,
    MailOptions,
    body_warnings,
    prepare_campaign,
)
from bench.screenshots import ARGS, BASE_URL, CHROMIUM, ROOT, _serve_static

OUT = ROOT / "docs" / "gallery"
PHOTOS = f"{BASE_URL}/static/demo/photos"


@dataclass(frozen=True)
class Letter:
    theme: str
    subject: str
    preheader: str
    body: str
    closing: Closing
    header: HeaderImage | None = None


CHEF = Closing(sign_off="Ha en skön sommar!", name="Karin Lind", title="Förbundschef")

LETTERS = [
    Letter(
        theme="sommar",
        subject="Sommarhälsning från förbundschefen",
        preheader="Ny styrelse, nya satsningar och tio år av samverkan.",
        body=f"""\
Det har varit en vår med mycket nytt. Styrelsen är till stor del ny, och tillsammans med
kommunerna, Arbetsförmedlingen, Försäkringskassan och regionen har vi dragit i gång flera
satsningar, några av dem med stöd från Europeiska socialfonden.

Samtidigt fortsätter det vardagliga arbetet som vi byggt upp under tio år: att den som behöver
stöd från flera håll ska mötas av ett samlat stöd, inte av en rad separata kontakter.

> ”Min handledare följde med mig hela vägen, även första dagen på den nya arbetsplatsen. Utan
> det hade jag nog inte vågat.” (Deltagare)

![Illustration: fem deltagare vid en odlingslåda med nya plantor]({PHOTOS}/odling.jpg
"En av vårens insatser: arbetsträning i trädgården vid Åsgården.")

Ett varmt tack till alla medarbetare, chefer och samarbetspartner, och till deltagarna som
svarat på våra enkäter och berättat om sina erfarenheter för styrelsen.

I höst ses vi på webbinarier och i våra samverkansforum.

[Se höstens webbinarier](https://example.se/webbinarier){{.knapp}}
""",
        closing=CHEF,
    ),
    Letter(
        theme="arsskifte",
        subject="Tack för året: tio år av samverkan",
        preheader="Ett jubileumsår med ny styrelse, nya projekt och en utvärdering som ger stöd.",
        body="""\
I år fyllde förbundet tio år. Ett decennium av gemensamt lärande, och av människor som fått
stöd från flera myndigheter på en och samma gång.

## Det här tar vi med oss

| Under året | Vad det betyder |
|:--|:--|
| Ny styrelse på plats | Ledamöterna har besökt insatserna och mött deltagarna |
| Ett länsgemensamt projekt | Uppsökande arbete och parallellt stöd för unga |
| Unga med i besluten | Ett samarbete för att ge unga inflytande över verksamheten |

En nationell utvärdering visade i våras att samordnat stöd ger effekt för dem som står långt
från arbetsmarknaden. Därför kan vi fortsätta finansiera de insatser som fungerar, och samtidigt
försöka nå dem vi ännu inte når.

[Läs utvärderingens sammanfattning](https://example.se/utvardering){.knapp}

Tack till deltagare, medarbetare, civilsamhälle och företag: ni gör samverkan möjlig.
""",
        closing=Closing(
            sign_off="Vi önskar dig en god helg och ett gott nytt år.",
            name="Karin Lind",
            title="Förbundschef",
        ),
    ),
    Letter(
        theme="sommar",
        subject="Sommarhälsning: en vår med unga röster",
        preheader="Unga i rummet, ett projekt i full gång och en lag som ses över.",
        body=f"""\
Vilken vår! I maj samlades vi för och med unga i kommunen för att lyssna in deras erfarenheter,
och det myndighetsgemensamma teamet bjöd in till en workshop om hur man skickar en remiss rätt.

![Illustration: fyra unga runt ett bord med lappar]({PHOTOS}/ungdomar.jpg
"Workshop med unga: deras förslag går vidare till styrelsen.")

Vårt lokala delprojekt för stöd till arbete och studier har haft många fler deltagare än vi
räknat med. Det är glädjande, och det ställer krav på oss.

Regeringen har också gett i uppdrag att se över lagen om finansiell samordning. Vi följer
arbetet noga: lagen ger oss möjlighet att våga pröva nytt tillsammans.

[Läs mer om delprojektet](https://example.se/delprojekt){{.knapp}}
""",
        closing=Closing(
            sign_off="Vi ses i höst. Ha en härlig sommar!",
            name="Kansliet",
            title="Samordningsförbundet Norra Dalarna",
        ),
    ),
    Letter(
        theme="jul",
        subject="God jul: det här har vi gjort tillsammans",
        preheader="Kartläggning, kunskapssatsning, ett projekt som avslutas och arbetet mot våld.",
        body=f"""\
Året går mot sitt slut, och vi vill berätta vad samverkan har gett.

## Årets arbete

- **Kartläggning och utvärdering.** Intervjuer med medarbetare, chefer och invånare ger oss en
  grund för nästa års prioriteringar.
- **Unga och framtiden.** En pilot tillsammans med kommunen utforskar hur unga kan få större
  tilltro till sin egen förmåga.
- **Kunskap som fungerar.** Under hösten har chefer och medarbetare utbildats i metoder som
  forskningen visar ger resultat: samordnat och parallellt stöd.
- **Våld ska upptäckas.** I alla insatser vi finansierar ställs frågor om våld, och det har gjort
  skillnad.

![Illustration: fyra tända ljus i ett fönster en mörk decemberkväll]({PHOTOS}/ljus.jpg
"Kansliet håller stängt mellan jul och nyår.")

Ett långvarigt projekt avslutas vid årsskiftet. Många deltagare har börjat arbeta eller studera,
och flera arbetssätt lever vidare hos kommunen.

[Läs populärversionen av slutrapporten](https://example.se/slutrapport){{.knapp}}
""",
        closing=Closing(
            sign_off="Vi önskar dig en god och vilsam jul och ett gott nytt år!",
            name="Karin Lind",
            title="Förbundschef",
        ),
    ),
    Letter(
        theme="allman",
        subject="Samordning gör samhället starkare",
        preheader="Åtta förbund delade erfarenheter: en rapport från konferensen.",
        body="""\
Konferensen inleddes med en hälsning från regeringen: samordningsförbunden skapar trygghet när
människor tar steget in i arbetslivet, och det kräver samarbete.

Under tre digitala timmar berättade åtta förbund om arbetet i sina projekt, inför politiker,
chefer och kollegor.

## Samverkan, hur svårt kan det vara?

En forskare visade hur en verksamhet som är indelad i funktioner styr mot löpande band, där
ingen förväntas ta ett helhetsgrepp.

> ”Det låter som organisationsteori, men det handlar om människor. Vi är hela, men system delar
> upp oss i bitar.”

## Förbundets roll

Förbundschefen och styrelsens ordförande förklarade uppdraget: att människor ska närma sig
arbetsmarknaden med stöd som är anpassat efter dem, långsiktigt och uppföljt.

[Se inspelningen från konferensen](https://example.se/inspelning){.knapp}
""",
        closing=Closing(
            sign_off="",
            name="Redaktionen",
            title="Samordningsförbundet Norra Dalarna",
        ),
        header=HeaderImage(
            url=f"{PHOTOS}/sal.jpg",
            alt="Illustration: en talare framför en full föreläsningssal",
            width=1040,
            height=600,
        ),
    ),
]


async def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    branding = sample_branding()
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for n, letter in enumerate(LETTERS, start=1):
            content = CampaignContent(
                id=n,
                subject=letter.subject,
                preheader=letter.preheader,
                theme=letter.theme,
                body_markdown=letter.body,
                header_image=letter.header,
                closing=letter.closing,
            )
            problems = body_warnings(content, branding)
            assert not problems, problems
            prepared = prepare_campaign(content, branding, MailOptions(base_url=BASE_URL))
            _, html = prepared.render_parts(name=SAMPLE_NAME, unsubscribe_token=SAMPLE_TOKEN)
            for width, suffix in ((600, ""), (375, "-375")):
                context = await browser.new_context(viewport={"width": width, "height": 800})
                page = await context.new_page()
                await page.route("**/*", _serve_static)
                await page.set_content(html, wait_until="load")
                path = OUT / f"{n}-{letter.theme}{suffix}.png"
                await page.screenshot(path=str(path), full_page=True)
                await context.close()
                print(f"letter   {path.relative_to(ROOT)}")
        await browser.close()


if __name__ == "__main__":
    asyncio.run(main())
