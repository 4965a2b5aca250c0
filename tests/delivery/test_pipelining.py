"""PIPELINING (RFC 2920) in the SMTP adapter, against a scripted server on loopback that
records every chunk it reads and answers a group of commands in the packets the test chooses:
one packet, a reply cut mid-line, multi-line replies, silence, a closed connection."""

from __future__ import annotations

import asyncio
import ipaddress
import random
import ssl
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtplib.email import quote_address
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from app.config import SmtpSecurity
from app.delivery import smtp as smtp_module
from app.delivery.smtp import Connection, Outcome, Relay, mailbox_path
from app.rendering.wire import to_wire
from tests.fixtures.smtp import SmtpRecorder, free_port

MESSAGE = to_wire(b"Subject: Hej\r\n\r\nEn rad.\r\n")
GREETING = b"220 relay.example.se ESMTP\r\n"
EHLO = b"250-relay.example.se\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250 8BITMIME\r\n"


@dataclass
class Script:
    """What the server answers to a group of MAIL, RCPT and DATA (a list of packets, each
    written with a pause between them), and after the message's final dot."""

    group: list[bytes] = field(
        default_factory=lambda: [b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data\r\n"]
    )
    after_data: bytes = b"250 2.0.0 Ok: queued as ABC123\r\n"
    offer_pipelining: bool = True


@dataclass
class Scripted:
    script: Script
    port: int = 0
    # Every chunk read after EHLO, and the messages received (up to their final dot).
    chunks: list[bytes] = field(default_factory=list)
    messages: list[bytes] = field(default_factory=list)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(GREETING)
        await reader.readline()  # EHLO
        ehlo = EHLO if self.script.offer_pipelining else EHLO.replace(b"250-PIPELINING\r\n", b"")
        writer.write(ehlo)
        try:
            await self._session(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        pending = b""
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                return
            self.chunks.append(chunk)
            pending += chunk
            if pending.startswith(b"QUIT"):
                writer.write(b"221 Bye\r\n")
                return
            if pending.startswith(b"RSET\r\n"):
                writer.write(b"250 Ok\r\n")
                pending = pending[6:]
            if pending in (b"MAIL", b"RCPT") or not pending.endswith(b"\r\n"):
                continue
            if pending.startswith(b"MAIL") and pending.endswith(b"DATA\r\n"):
                pending = b""
                for i, packet in enumerate(self.script.group):
                    if i:
                        await asyncio.sleep(0.05)
                    if packet == b"CLOSE":
                        return
                    writer.write(packet)
                continue
            if pending.startswith((b"MAIL", b"RCPT")) and pending.count(b"\r\n") == 1:
                writer.write(b"250 Ok\r\n")  # one by one
                pending = b""
                continue
            if pending == b"DATA\r\n":
                writer.write(b"354 Go\r\n")
                pending = b""
                continue
            if pending.endswith(b"\r\n.\r\n") or pending == b".\r\n":
                self.messages.append(pending)
                pending = b""
                writer.write(self.script.after_data)


async def serve(script: Script) -> tuple[Scripted, asyncio.Server]:
    scripted = Scripted(script)
    server = await asyncio.start_server(scripted.handle, "127.0.0.1", 0)
    scripted.port = server.sockets[0].getsockname()[1]
    return scripted, server


def connection(port: int, *, pipelining: bool = True, timeout: float = 2.0) -> Connection:
    return Connection(
        Relay(
            "127.0.0.1", port, SmtpSecurity.NONE, None, None, timeout, "test.example.se", pipelining
        )
    )


async def send(
    scripted: Scripted, *, pipelining: bool = True, relay_timeout: float = 2.0
) -> tuple[Outcome, str, list[str]]:
    """One message over a fresh connection; the outcome, its reply and what on_wire saw."""
    conn = connection(scripted.port, pipelining=pipelining, timeout=relay_timeout)
    marks: list[str] = []
    try:
        result = await conn.send(
            "studs+1@nyhetsbrev.example.se",
            "anna@example.se",
            MESSAGE,
            on_wire=lambda: marks.append("wire"),
        )
    finally:
        await conn.close()
    return result.outcome, result.reply or "", marks


class TestPipelinedGroup:
    async def test_mail_rcpt_and_data_go_in_one_write_and_the_message_after_354(self) -> None:
        scripted, server = await serve(Script())
        async with server:
            outcome, reply, marks = await send(scripted)
        assert outcome is Outcome.SENT
        assert "ABC123" in reply
        assert marks == ["wire"]
        group = scripted.chunks[0]
        assert group.startswith(b"MAIL FROM:<studs+1@nyhetsbrev.example.se>")
        assert b"\r\nRCPT TO:<anna@example.se>\r\nDATA\r\n" in group
        assert scripted.messages == [MESSAGE]

    @pytest.mark.parametrize(
        ("offered", "enabled"), [(False, True), (True, False)], ids=["not-offered", "turned-off"]
    )
    async def test_without_the_offer_or_the_setting_commands_go_one_by_one(
        self, offered: bool, enabled: bool
    ) -> None:
        scripted, server = await serve(Script(offer_pipelining=offered))
        async with server:
            outcome, _, marks = await send(scripted, pipelining=enabled)
        assert outcome is Outcome.SENT
        assert marks == ["wire"]
        assert scripted.chunks[:3] == [
            b"MAIL FROM:<studs+1@nyhetsbrev.example.se> SIZE=%d BODY=8BITMIME\r\n" % len(MESSAGE),
            b"RCPT TO:<anna@example.se>\r\n",
            b"DATA\r\n",
        ]
        assert scripted.messages == [MESSAGE]

    @pytest.mark.parametrize(
        "packets",
        [
            [b"250 Ok\r\n", b"250 Ok\r\n", b"354 Go\r\n"],
            [b"250 O", b"k\r\n250 Ok\r\n3", b"54 Go\r\n"],
            [b"250-first line\r\n250 2.1.0 second line\r\n250 Ok\r\n354 Go\r\n"],
        ],
        ids=["one-packet-each", "cut-mid-line", "multi-line"],
    )
    async def test_replies_are_read_however_they_are_cut(self, packets: list[bytes]) -> None:
        scripted, server = await serve(Script(group=packets))
        async with server:
            outcome, _, marks = await send(scripted)
        assert outcome is Outcome.SENT
        assert marks == ["wire"]
        assert scripted.messages == [MESSAGE]


class TestPipelinedRefusals:
    @pytest.mark.parametrize(
        ("group", "outcome", "reply"),
        [
            (
                b"550 5.7.1 Sender refused\r\n503 5.5.1 Need MAIL\r\n503 5.5.1 Need RCPT\r\n",
                Outcome.SENDER_BLOCKED,
                "550 5.7.1",
            ),
            (
                b"250 Ok\r\n550 5.1.1 No such user\r\n554 5.5.1 No valid recipients\r\n",
                Outcome.FAILED,
                "550 5.1.1",
            ),
            (b"250 Ok\r\n250 Ok\r\n451 4.3.0 Not now\r\n", Outcome.DEFERRED, "451 4.3.0"),
        ],
        ids=["sender", "recipient", "data-command"],
    )
    async def test_a_refusal_is_judged_by_the_first_refused_reply_and_nothing_goes_out(
        self, group: bytes, outcome: Outcome, reply: str
    ) -> None:
        scripted, server = await serve(Script(group=[group]))
        async with server:
            got, got_reply, marks = await send(scripted)
        assert got is outcome
        assert got_reply.startswith(reply)
        assert marks == []
        assert scripted.messages == []

    async def test_354_after_a_refused_recipient_gets_an_empty_message_not_this_one(
        self,
    ) -> None:
        # RFC 2920 §3.1: a server that accepts DATA with no valid recipient must be sent the
        # end of data, and refuses the empty message.
        group = [b"250 Ok\r\n450 4.2.0 Try later\r\n354 Go ahead\r\n"]
        script = Script(group=group, after_data=b"554 5.5.1 No valid recipients\r\n")
        scripted, server = await serve(script)
        async with server:
            outcome, reply, marks = await send(scripted)
        assert outcome is Outcome.DEFERRED
        assert reply.startswith("450 4.2.0")
        assert marks == []
        assert scripted.messages == [b".\r\n"]


class TestPipelinedLosses:
    @pytest.mark.parametrize(
        "packets",
        [[b"250 Ok\r\n", b"CLOSE"], [b"250 Ok\r\n250 Ok\r\n"]],
        ids=["closed-mid-group", "silent"],
    )
    async def test_a_group_without_all_its_replies_is_retried_never_unknown(
        self, packets: list[bytes]
    ) -> None:
        scripted, server = await serve(Script(group=packets))
        async with server:
            # The relay's timeout must end the silent group; the outer one only keeps a broken
            # timeout from hanging the suite.
            outcome, reply, marks = await asyncio.wait_for(send(scripted, relay_timeout=0.5), 10)
        # The message never went: nothing on the wire, safe to send again.
        assert outcome is Outcome.DEFERRED
        assert "before DATA" in reply
        assert marks == []
        assert scripted.messages == []

    async def test_after_an_aborted_transaction_the_next_group_starts_with_rset(self) -> None:
        group = [b"250 Ok\r\n550 5.1.1 No such user\r\n554 No valid recipients\r\n"]
        scripted, server = await serve(Script(group=group))
        async with server:
            conn = connection(scripted.port)
            first = await conn.send("a@b.se", "x@example.se", MESSAGE, on_wire=lambda: None)
            scripted.script.group = [b"250 Ok\r\n250 Ok\r\n354 Go\r\n"]
            second = await conn.send("a@b.se", "y@example.se", MESSAGE, on_wire=lambda: None)
            await conn.close()
        assert first.outcome is Outcome.FAILED
        assert second.outcome is Outcome.SENT
        assert scripted.chunks[1].startswith(b"RSET\r\nMAIL FROM:<a@b.se>")
        assert scripted.messages == [MESSAGE]


class TestPaths:
    def test_the_fast_path_writes_exactly_what_aiosmtplib_would(self) -> None:
        # The pipelined group writes MAIL FROM and RCPT TO itself; for every string, the
        # result (or the refusal of a string that could inject a command) must be aiosmtplib's.
        rng = random.Random(2920)
        alphabet = string.ascii_letters + string.digits + ".+-_@<>\" ()\r\n\t;:,[]\\'åö"
        cases = ["anna@example.se", "först@bäckström.se", "a\r\nRCPT TO:<x>@c.se"]
        cases += ['"quoted local"@x.se', "Anna <anna@x.se>", "a@b@c", "a@[192.0.2.1]", "", "@"]
        cases += ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 14)))]
        cases += [
            "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 14))) for _ in range(20000)
        ]
        for address in cases:
            assert _outcome(mailbox_path, address) == _outcome(quote_address, address), address


def _outcome(quote: Callable[[str], str], address: str) -> str | type[Exception]:
    try:
        return quote(address)
    except Exception as exc:
        return type(exc)


class TestPipelinedOverTls:
    async def test_the_group_and_the_message_go_through_starttls(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # The reader stands in for aiosmtplib's protocol on the TLS transport and hands it
        # back; three messages on one session prove both directions keep working.
        cert, key = _self_signed(tmp_path)
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        recorder = SmtpRecorder()
        recorder.offer_pipelining = True
        port = free_port()
        controller = Controller(
            recorder, hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True
        )
        groups = []
        real = smtp_module._pipelined

        async def counted(*args: Any) -> Any:
            groups.append(args[1])
            return await real(*args)

        monkeypatch.setattr(smtp_module, "_pipelined", counted)
        controller.start()
        try:
            relay = Relay("127.0.0.1", port, SmtpSecurity.STARTTLS, None, None, 5.0, "t.example.se")
            conn = Connection(relay)
            results = [
                await conn.send("a@b.se", f"m{i}@example.se", MESSAGE, on_wire=lambda: None)
                for i in range(3)
            ]
            await conn.close()
        finally:
            controller.stop()
        assert [r.outcome for r in results] == [Outcome.SENT] * 3
        assert sorted(recorder.delivered) == [f"m{i}@example.se" for i in range(3)]
        assert len(groups) == 3
        assert all(g.endswith(b"DATA\r\n") for g in groups)


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    today = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(today - timedelta(days=1))
        .not_valid_after(today + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path
