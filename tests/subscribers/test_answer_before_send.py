"""The sign-up answer never waits for the relay: the confirmation is sent after the response
(and only after a commit), so a silent relay cannot hold the visitor, and the answer for a new
address takes no longer than for one that gets no mail."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests.fixtures.live import Install, open_installation
from tests.fixtures.smtp import free_port

SLUG = "sf-tyst"


class SilentRelay:
    """Accepts SMTP connections and never says a word (not even the greeting)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.connections: list[asyncio.StreamWriter] = []

    async def _accept(self, _reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections.append(writer)


@pytest.fixture
async def relay() -> AsyncIterator[SilentRelay]:
    silent = SilentRelay()
    server = await asyncio.start_server(silent._accept, "127.0.0.1", silent.port)
    yield silent
    for writer in silent.connections:
        writer.close()
    server.close()


@pytest.fixture
def live(backend: str, relay: SilentRelay) -> Iterator[Install]:
    # A relay that waited 10 minutes would hold the old code's answer past the client timeout.
    with open_installation(
        backend, "tyst", SLUG, smtp_port=str(relay.port), smtp_timeout="600"
    ) as install:
        yield install


class TestAnswerBeforeSend:
    async def test_form_and_api_answer_while_the_relay_is_silent(
        self, live: Install, relay: SilentRelay
    ) -> None:
        url = await asyncio.to_thread(live.serve, workers=1)
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            stamp = (await client.get(f"/api/v1/public/{SLUG}/stamp")).json()["stamp"]
            api = await client.post(
                f"/api/v1/public/{SLUG}/subscriptions",
                json={"email": "ny@example.se", "consent": True, "stamp": stamp},
            )
            form = await client.post(
                f"/f/{SLUG}/prenumerera",
                data={"email": "ocksa.ny@example.se", "consent": "on", "stamp": stamp},
            )
        assert api.status_code == 202
        assert form.status_code == 200
        assert "Kolla din inkorg" in form.text
        # The sends did start, after the answers, and are still waiting for the relay.
        for _ in range(300):
            if len(relay.connections) >= 2:
                break
            await asyncio.sleep(0.1)
        assert len(relay.connections) == 2
        assert all(not writer.is_closing() for writer in relay.connections)
        for writer in relay.connections:
            writer.close()  # the sends fail now and stay queued; the server stops promptly
