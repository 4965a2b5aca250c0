"""The address normaliser's fast path for common addresses gives email_validator's answer."""

from __future__ import annotations

import random
import string

from email_validator import EmailNotValidError, validate_email

from app import addresses

SAMPLES = [
    "anna@example.se",
    "Anna.Berg@Example.SE",
    "anna+nyhetsbrev@sub.domain.example.se",
    "o'brien@example.co.uk",
    "x!#$%&'*+/=?^_`{|}~-y@example.se",
    "a@b.se",
    "a@b.c",
    "a@1.se",
    "a@se",
    "a@example.123",
    "a@-example.se",
    "a@example-.se",
    "a@ex--ample.se",
    "a@xn--exmple-cua.se",
    "a..b@example.se",
    ".a@example.se",
    "a.@example.se",
    "a@example..se",
    "a@example.se.",
    "a@localhost",
    "a@server.local",
    "a@x.test",
    "a@something.invalid",
    "a@x.onion",
    "a@in-addr.arpa",
    "a@example.com.local",
    "a@exämple.se",
    '"a b"@example.se',
    "a@[192.0.2.1]",
    "a b@example.se",
    " a@example.se",
    "a" * 64 + "@example.se",
    "a" * 65 + "@example.se",
    "a@" + ".".join(["b" * 63] * 3) + ".se",
    "a@" + "b" * 64 + ".se",
    "a@" + ".".join(["b" * 50] * 5) + ".se",
]


def full_path(raw: str) -> str | None:
    try:
        result = validate_email(raw, check_deliverability=False)
    except EmailNotValidError:
        return None
    return result.ascii_email


def random_addresses(n: int) -> list[str]:
    rng = random.Random(13)
    alphabet = string.ascii_letters + string.digits + ".-_+'"
    out = []
    for _ in range(n):
        local = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12)))
        labels = [
            "".join(rng.choice(string.ascii_letters + string.digits + "-") for _ in range(k))
            for k in (rng.randint(1, 8) for _ in range(rng.randint(1, 3)))
        ]
        tld = rng.choice(["se", "SE", "com", "nu", "x", "a1", "local", "test"])
        out.append(f"{local}@{'.'.join([*labels, tld])}")
    return out


def test_fast_path_agrees_with_email_validator() -> None:
    taken = [
        (raw, fast) for raw in SAMPLES + random_addresses(3000) if (fast := addresses._plain(raw))
    ]
    assert len(taken) > 1000, "the fast path serves the common shape"
    assert [(raw, fast) for raw, fast in taken if fast != full_path(raw)] == []
