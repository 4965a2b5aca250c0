"""Per-recipient cost of building a campaign mail: naive EmailMessage vs prepared substitution.

    python -m bench.render [recipients]

The naive path builds an EmailMessage per recipient from the already-rendered and inlined
HTML and text (so it is not charged for Jinja or CSS inlining) and serialises it. Ours joins
pre-encoded byte segments. Both run in the same process on the same letter.
"""

from __future__ import annotations

import os
import sys
import time
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid

os.environ.setdefault("NEWSLETTER_SECRET_KEY", "bench-only-0123456789abcdef0123456789abcd")

from app.campaigns.samples import sample_branding, sample_content
from app.clock import now
from app.rendering.mail import (
    MailOptions,
    greeting,
    prepare_campaign,
    render_html,
    render_text,
)

BASE = "https://nyhetsbrev.example.se"


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    content, branding = sample_content("sommar"), sample_branding()
    recipients = [
        (i, f"person{i}@example.se", f"Person Nummer{i}", f"tok{i:029d}") for i in range(n)
    ]

    t0 = time.perf_counter()
    prepared = prepare_campaign(content, branding, MailOptions(BASE))
    prepare_ms = (time.perf_counter() - t0) * 1000

    html_tpl = render_html(content, branding, BASE, greeting_html="@@G@@", unsubscribe_url="@@U@@")
    text_tpl = render_text(content, branding, BASE, greeting_text="@@G@@", unsubscribe_url="@@U@@")

    def naive(i: int, to: str, name: str, token: str) -> bytes:
        url = f"{BASE}/u/{token}"
        msg = EmailMessage()
        msg["Date"] = format_datetime(now())
        msg["From"] = f"{branding.from_name} <{branding.from_email}>"
        msg["To"] = to
        msg["Subject"] = content.subject
        msg["Message-ID"] = make_msgid(idstring=str(i), domain="sf-norra.example.se")
        msg["List-Unsubscribe"] = f"<{url}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        msg["Precedence"] = "bulk"
        g = greeting(name)
        msg.set_content(text_tpl.replace("@@G@@", g).replace("@@U@@", url))
        msg.add_alternative(html_tpl.replace("@@G@@", g).replace("@@U@@", url), subtype="html")
        return msg.as_bytes(policy=SMTP)

    def ours(i: int, to: str, name: str, token: str) -> bytes:
        return prepared.render(delivery_id=i, to_address=to, name=name, unsubscribe_token=token)

    results = {}
    for label, fn in (("naive EmailMessage", naive), ("prepared substitution", ours)):
        start = time.perf_counter()
        size = 0
        for r in recipients:
            size += len(fn(*r))
        elapsed = time.perf_counter() - start
        results[label] = elapsed / n * 1e6
        print(
            f"{label:24s} {results[label]:9.1f} µs/recipient  ({n} recipients, {size // n} B avg)"
        )
    print(f"prepare once (Jinja + inline + encode): {prepare_ms:.1f} ms")
    print(f"speed-up: {results['naive EmailMessage'] / results['prepared substitution']:.0f}x")


if __name__ == "__main__":
    main()
