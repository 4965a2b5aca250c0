"""The access log: one line per request, link tokens never in it."""

from __future__ import annotations

import logging

import httpx
import pytest
from starlette.types import Message, Receive, Scope, Send

from app.accesslog import AccessLog, masked_path
from app.subscribers import service as subscriber_service

TOKEN = "AbCdEfGhIjKlMnOpQrStUvWxYz012-_9"


async def teapot(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 418, "headers": []})
    await send({"type": "http.response.body", "body": b""})


async def call(path: str) -> None:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": path, "client": ("192.0.2.1", 1)}
    await AccessLog(teapot)(scope, receive, send)
    assert sent[0]["status"] == 418


class TestAccessLog:
    @pytest.mark.parametrize(
        "path", [f"/u/{TOKEN}", f"/f/bench/bekrafta/{TOKEN}", f"/f/bench/mina-uppgifter/{TOKEN}"]
    )
    async def test_a_link_token_is_masked(
        self, path: str, caplog: pytest.LogCaptureFixture
    ) -> None:
        with caplog.at_level(logging.INFO, logger="app.access"):
            await call(path)
        line = caplog.records[-1].getMessage()
        assert TOKEN not in line
        assert line.startswith(f'"POST {path.replace(TOKEN, "…")}" 418 ')

    async def test_neither_the_client_address_nor_other_paths_change(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        with caplog.at_level(logging.INFO, logger="app.access"):
            await call("/api/v1/federations/bench/subscribers")
        line = caplog.records[-1].getMessage()
        assert "/api/v1/federations/bench/subscribers" in line
        assert "192.0.2.1" not in line

    def test_only_whole_token_shaped_segments_are_masked(self) -> None:
        assert masked_path(f"/x/{TOKEN}a") == f"/x/{TOKEN}a"
        assert masked_path(f"/x/{TOKEN}/y") == "/x/…/y"


class TestErrorLog:
    async def test_an_unexpected_error_on_a_link_page_logs_no_token(
        self,
        client: httpx.AsyncClient,
        monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        async def broken(*args: object, **kwargs: object) -> None:
            raise RuntimeError("boom")

        monkeypatch.setattr(subscriber_service, "view_unsubscribe", broken)
        with pytest.raises(RuntimeError):
            await client.get(f"/u/{TOKEN}")
        logged = [r for r in caplog.records if "unhandled error" in r.getMessage()]
        assert logged
        assert all(TOKEN not in r.getMessage() for r in logged)
