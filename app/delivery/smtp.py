"""The SMTP adapter: relay settings, a reusable connection, and what each reply means."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum

import aiosmtplib
from aiosmtplib.email import quote_address
from aiosmtplib.typing import SMTPStatus

from app.config import Settings, SmtpSecurity, cleartext_refused, is_loopback_host
from app.logs import redact

ENHANCED_CODE = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
QUEUE_ID = re.compile(r"queued as\s+<?([A-Za-z0-9._@<>+-]+?)>?(?:\s|$)", re.IGNORECASE)
# A connection is closed and reopened after this many messages, so a relay's per-session
# limits (Postfix smtpd_client_message_rate_limit, Exchange's 100 per session) are not hit.
MESSAGES_PER_CONNECTION = 500


class Outcome(StrEnum):
    SENT = "sent"
    DEFERRED = "deferred"
    FAILED = "failed"
    UNKNOWN = "unknown"
    # 5.7.x: a sender problem (authentication, policy); the campaign pauses.
    SENDER_BLOCKED = "sender_blocked"
    # Not attempted (relay down, campaign paused meanwhile): back to the queue as it was.
    RELEASED = "released"
    # Not attempted on purpose, decided just before MAIL FROM: the recipient unsubscribed or
    # was erased, or the campaign was cancelled, since the row was claimed.
    SUPPRESSED = "suppressed"
    CANCELLED = "cancelled"


class BounceKind(StrEnum):
    NONE = "none"
    SOFT = "soft"
    HARD = "hard"


@dataclass(frozen=True, slots=True)
class Result:
    outcome: Outcome
    code: int | None = None
    reply: str | None = None
    enhanced: str | None = None
    queue_id: str | None = None
    bounce: BounceKind = BounceKind.NONE
    # The connection must be dropped (421, disconnect, timeout).
    reconnect: bool = False
    # RELEASED only: seconds before the row is due again (None: at once).
    retry_after: float | None = None
    # FAILED by a 5.7.x policy refusal at RCPT or DATA (see classify).
    policy: bool = False

    @property
    def reply_class(self) -> str:
        return f"{self.code // 100}xx" if self.code else "none"


def enhanced_code(text: str) -> str | None:
    """The RFC 3463 enhanced status code in a reply text ("5.1.1"), if any."""
    match = ENHANCED_CODE.search(text)
    return ".".join(match.groups()) if match else None


def queue_id(text: str) -> str | None:
    """The relay's queue id from "250 2.0.0 Ok: queued as XYZ"."""
    match = QUEUE_ID.search(text)
    return match.group(1) if match else None


def classify(code: int, text: str, *, stage: str) -> Result:
    """What an SMTP reply means for the delivery (stage: mail, rcpt or data)."""
    text = text.strip()
    enhanced = enhanced_code(text)
    # Relays quote the recipient ("<anna@x.se>: Recipient address rejected"); the reply is
    # stored with the delivery and in a paused campaign's reason, which outlive an erasure.
    reply = redact(f"{code} {text}")[:2000]
    if 200 <= code < 300:
        return Result(Outcome.SENT, code, reply, enhanced, queue_id(text))
    if enhanced is not None and enhanced.startswith("5.7."):
        # Refused at MAIL FROM: the sender itself (authentication, SPF, policy). At RCPT or
        # after DATA it is most often this recipient's policy; the runner turns the same code
        # for several different recipients into a sender problem.
        if stage == "mail":
            return Result(Outcome.SENDER_BLOCKED, code, reply, enhanced)
        return Result(Outcome.FAILED, code, reply, enhanced, policy=True)
    if 400 <= code < 500:
        return Result(Outcome.DEFERRED, code, reply, enhanced, reconnect=code == 421)
    # RFC 5321 §4.5.3.1.10: 552 at RCPT is "too many recipients" or a temporary quota;
    # X.2.2 is a full mailbox. Both are retried, the latter counts as a soft bounce.
    if enhanced is not None and enhanced.endswith(".2.2"):
        return Result(Outcome.DEFERRED, code, reply, enhanced, bounce=BounceKind.SOFT)
    if code == 552 and stage == "rcpt":
        return Result(Outcome.DEFERRED, code, reply, enhanced)
    hard = (enhanced is not None and enhanced.startswith("5.1.")) or (
        enhanced is None and code in (550, 551, 553) and stage == "rcpt"
    )
    return Result(
        Outcome.FAILED, code, reply, enhanced, bounce=BounceKind.HARD if hard else BounceKind.SOFT
    )


@dataclass(frozen=True, slots=True)
class Relay:
    """Where and how to connect; one per distinct relay (global or a federation's own)."""

    host: str
    port: int
    security: SmtpSecurity
    username: str | None
    password: str | None
    timeout: float
    # The name this host gives in EHLO (RFC 5321 §4.1.4: its own fully qualified name).
    ehlo_name: str | None = None
    # Send MAIL FROM, RCPT TO and DATA as one group when the relay offers PIPELINING.
    pipelining: bool = True

    @classmethod
    def from_settings(cls, settings: Settings) -> Relay:
        return cls(
            settings.smtp_host,
            settings.smtp_port,
            settings.smtp_security,
            settings.smtp_username,
            settings.smtp_password,
            settings.smtp_timeout,
            settings.ehlo_name,
            settings.smtp_pipelining,
        )

    def with_override(
        self,
        *,
        host: str | None,
        port: int | None,
        security: str | None,
        username: str | None,
        password: str | None,
    ) -> Relay:
        """A federation's own relay; its security defaults to starttls for a remote host."""
        if not host:
            return self
        sec = SmtpSecurity(security) if security else None
        if sec is None:
            sec = SmtpSecurity.NONE if is_loopback_host(host) else SmtpSecurity.STARTTLS
        if cleartext_refused(host, sec):
            sec = SmtpSecurity.STARTTLS
        default_port = {SmtpSecurity.TLS: 465, SmtpSecurity.STARTTLS: 587}.get(sec, 25)
        return Relay(
            host,
            port or default_port,
            sec,
            username,
            password,
            self.timeout,
            self.ehlo_name,
            self.pipelining,
        )


@dataclass(frozen=True, slots=True)
class Envelope:
    """MAIL FROM and RCPT TO as they go on the wire, with the MAIL FROM options."""

    sender: str
    recipient: str
    options: list[str]
    encoding: str


def ascii_domain(address: str) -> str:
    """The address with its domain as an A-label (IDNA), which every relay accepts."""
    local, at, domain = address.rpartition("@")
    if not at or domain.isascii():
        return address
    return f"{local}@{domain.encode('idna').decode('ascii')}"


def mail_envelope(
    sender: str, recipient: str, size: int, offers: Callable[[str], bool]
) -> Envelope | Result:
    """The envelope for one message, or a FAILED result when the relay cannot carry it: a
    local part beyond ASCII needs SMTPUTF8 (RFC 6531), which not every relay offers."""
    options = [f"SIZE={size}"] if offers("size") else []
    if offers("8bitmime"):
        options.append("BODY=8BITMIME")
    try:
        sender, recipient = ascii_domain(sender), ascii_domain(recipient)
    except UnicodeError:
        return Result(Outcome.FAILED, None, "the address's domain is not a valid IDN")
    if sender.isascii() and recipient.isascii():
        return Envelope(sender, recipient, options, "ascii")
    if not offers("smtputf8"):
        return Result(
            Outcome.FAILED,
            None,
            "the address has characters beyond ASCII before the @ and the relay does not "
            "offer SMTPUTF8",
        )
    return Envelope(sender, recipient, [*options, "SMTPUTF8"], "utf-8")


class Connection:
    """One SMTP session reused for many messages."""

    def __init__(self, relay: Relay) -> None:
        self.relay = relay
        self.smtp: aiosmtplib.SMTP | None = None
        self.sent_on_connection = 0
        self.dirty = False

    async def _connect(self) -> aiosmtplib.SMTP:
        relay = self.relay
        # start_tls=None would silently fall back to cleartext: always say which.
        smtp = aiosmtplib.SMTP(
            hostname=relay.host,
            port=relay.port,
            timeout=relay.timeout,
            use_tls=relay.security is SmtpSecurity.TLS,
            start_tls=relay.security is SmtpSecurity.STARTTLS,
            validate_certs=True,
            username=relay.username,
            password=relay.password,
            local_hostname=relay.ehlo_name,
        )
        await smtp.connect()
        # aiosmtplib sends EHLO lazily at the first MAIL FROM, but the options of that very
        # MAIL FROM (SIZE, BODY=8BITMIME, SMTPUTF8) depend on its answer.
        if smtp.is_ehlo_or_helo_needed:
            try:
                await smtp.ehlo()
            except aiosmtplib.SMTPHeloError:
                await smtp.helo()
        self.sent_on_connection = 0
        self.dirty = False
        return smtp

    async def open(self) -> aiosmtplib.SMTP:
        """The session, (re)connected when needed; connection errors propagate: relay down."""
        if self.smtp is not None and self.sent_on_connection >= MESSAGES_PER_CONNECTION:
            await self.close()
        if self.smtp is None or not self.smtp.is_connected:
            self.smtp = await self._connect()
        return self.smtp

    async def close(self) -> None:
        smtp, self.smtp = self.smtp, None
        if smtp is None:
            return
        try:
            if smtp.is_connected:
                await smtp.quit(timeout=min(5.0, self.relay.timeout))
        except (aiosmtplib.SMTPException, OSError):
            smtp.close()

    def drop(self) -> None:
        smtp, self.smtp = self.smtp, None
        if smtp is not None:
            smtp.close()

    async def send(
        self,
        envelope_from: str,
        recipient: str,
        data: bytes,
        *,
        on_wire: Callable[[], Awaitable[None] | None],
    ) -> Result:
        """Send one message given in SMTP wire form (app.rendering.wire: CRLF, dot-stuffed,
        ending in the "." line); on_wire() runs just before DATA (the point of no return). Any
        error inside the transaction resets or drops the connection, so it never reaches the
        next recipient's transaction."""
        smtp = await self.open()
        envelope = mail_envelope(envelope_from, recipient, len(data), smtp.supports_extension)
        if isinstance(envelope, Result):
            return envelope
        if self.relay.pipelining and smtp.supports_extension("pipelining"):
            return await self._send_pipelined(smtp, envelope, data, on_wire)
        try:
            # After a completed DATA the server has already reset the transaction (RFC 5321
            # §4.1.1.4), so RSET is only needed after a transaction that was aborted.
            if self.dirty:
                await smtp.rset()
                self.dirty = False
            self.dirty = True
            try:
                await smtp.mail(
                    envelope.sender, options=envelope.options, encoding=envelope.encoding
                )
            except aiosmtplib.SMTPResponseException as exc:
                return self._after_error(classify(exc.code, exc.message, stage="mail"))
            try:
                await smtp.rcpt(envelope.recipient, encoding=envelope.encoding)
            except aiosmtplib.SMTPResponseException as exc:
                return self._after_error(classify(exc.code, exc.message, stage="rcpt"))
        except Exception as exc:
            return self._lost_before_data(exc)
        # One by one, on_wire() comes before DATA, as it always has: the crash tests' timing.
        return await self._content(smtp, data, on_wire, command=True)

    async def _send_pipelined(
        self,
        smtp: aiosmtplib.SMTP,
        envelope: Envelope,
        data: bytes,
        on_wire: Callable[[], Awaitable[None] | None],
    ) -> Result:
        """RFC 2920: MAIL FROM, RCPT TO and DATA go in one write and their three replies are
        read together, one round trip instead of three. Each reply is judged in order, as
        if the commands had gone one by one; the message itself goes only after all three
        succeeded, so the point of no return is where it is without pipelining."""
        try:
            # After an aborted transaction the group starts with RSET (see send()).
            commands = b"RSET\r\n" if self.dirty else b""
            self.dirty = True
            sender = mailbox_path(envelope.sender).encode(envelope.encoding)
            recipient = mailbox_path(envelope.recipient).encode(envelope.encoding)
            options = b"".join(b" " + option.encode("ascii") for option in envelope.options)
            commands += b"MAIL FROM:" + sender + options + b"\r\nRCPT TO:" + recipient
            commands += b"\r\nDATA\r\n"
            replies = await _pipelined(smtp, commands, 4 if commands.startswith(b"RSET") else 3)
        except Exception as exc:
            return self._lost_before_data(exc)
        if len(replies) == 4:
            reset = replies.pop(0)
            if reset.code != SMTPStatus.completed:
                # The session is in a state we did not ask for: start a new one.
                self.drop()
                return Result(Outcome.DEFERRED, reset.code, f"RSET refused: {reset.message}"[:2000])
        mail, rcpt, start = replies
        if mail.code != SMTPStatus.completed:
            result = classify(mail.code, mail.message, stage="mail")
        elif rcpt.code not in (SMTPStatus.completed, SMTPStatus.will_forward):
            result = classify(rcpt.code, rcpt.message, stage="rcpt")
        elif start.code != SMTPStatus.start_input:
            return self._after_error(classify(start.code, start.message, stage="data"))
        else:
            return await self._content(smtp, data, on_wire)
        if start.code == SMTPStatus.start_input:
            # A server that accepts DATA with no accepted recipient gets an empty message,
            # which it must refuse (RFC 2920 §3.1); if it does not answer, the session goes.
            try:
                await _pipelined(smtp, b".\r\n", 1)
            except Exception:
                self.drop()
        return self._after_error(result)

    async def _content(
        self,
        smtp: aiosmtplib.SMTP,
        data: bytes,
        on_wire: Callable[[], Awaitable[None] | None],
        *,
        command: bool = False,
    ) -> Result:
        """on_wire(), then (`command`: DATA and its 354) the message and its final reply."""
        try:
            maybe = on_wire()
            if maybe is not None:
                await maybe
        except BaseException:
            self.drop()
            raise
        try:
            if command:
                start = await smtp.execute_command(b"DATA")
                if start.code != SMTPStatus.start_input:
                    raise aiosmtplib.SMTPDataError(start.code, start.message)
            response = await _message(smtp, data)
        except aiosmtplib.SMTPResponseException as exc:
            # Refused after the final dot; `dirty` stays set, so the next message starts with
            # RSET (harmless if the server already closed the transaction).
            return self._after_error(classify(exc.code, exc.message, stage="data"))
        except Exception as exc:
            return self._unknown(exc)
        self.dirty = False
        self.sent_on_connection += 1
        return classify(response.code, response.message, stage="data")

    def _lost_before_data(self, exc: BaseException) -> Result:
        # Nothing was on the wire yet: safe to retry. A lost connection, a timeout, or a bug:
        # the transaction's state is unknown, so the connection goes.
        self.drop()
        return Result(Outcome.DEFERRED, None, f"connection lost before DATA: {exc}"[:2000])

    def _unknown(self, exc: BaseException) -> Result:
        """No reply after the data went out: the relay may have taken the message (a dropped
        connection or a silent relay after the final dot). Never retried on its own: a
        duplicate newsletter is what the outcome `unknown` exists to prevent."""
        self.drop()
        return Result(Outcome.UNKNOWN, None, f"no reply after the data: {exc}"[:2000])

    def _after_error(self, result: Result) -> Result:
        if result.reconnect:
            self.drop()
        return result


class ProbeStage(StrEnum):
    """How far a connection test got before it failed (or DONE)."""

    # Not contacted: the host is not one a federation's relay may point at (app.federations).
    REFUSED = "refused"
    CONNECT = "connect"
    EHLO = "ehlo"
    STARTTLS = "starttls"
    AUTH = "auth"
    DONE = "done"


@dataclass(frozen=True, slots=True)
class Probe:
    """The answer of a connection test: where it stopped, and the relay's words or the error
    (the password never appears in it)."""

    stage: ProbeStage
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.stage is ProbeStage.DONE


# A person waits for the answer: no longer than this, whatever the sending timeout.
PROBE_TIMEOUT = 10.0


async def probe(relay: Relay) -> Probe:
    """Open a session as the sender would (connect, EHLO, STARTTLS or TLS, AUTH when a user is
    set), then QUIT: no MAIL FROM, so nothing is ever sent. Step by step, so the answer says
    which step failed rather than only that one did."""
    smtp = aiosmtplib.SMTP(
        hostname=relay.host,
        port=relay.port,
        timeout=min(relay.timeout, PROBE_TIMEOUT),
        use_tls=relay.security is SmtpSecurity.TLS,
        start_tls=False,
        validate_certs=True,
        local_hostname=relay.ehlo_name,
    )
    stage = ProbeStage.CONNECT
    try:
        await smtp.connect()
        stage = ProbeStage.EHLO
        await smtp.ehlo()
        if relay.security is SmtpSecurity.STARTTLS:
            stage = ProbeStage.STARTTLS
            await smtp.starttls()
        if relay.username:
            stage = ProbeStage.AUTH
            await smtp.login(relay.username, relay.password or "")
        await smtp.quit()
    except (aiosmtplib.SMTPException, OSError) as exc:
        smtp.close()
        return Probe(stage, str(exc)[:500])
    return Probe(ProbeStage.DONE)


_PLAIN_MAILBOX = re.compile(r"[^\s<>\"(),;:\\\[\]]+@[^\s<>\"(),;:\\\[\]]+")


def mailbox_path(address: str) -> str:
    """`<address>` for MAIL FROM or RCPT TO, as aiosmtplib's quote_address writes it. The
    addresses here are normalised mailboxes, for which its parsing (email.utils.parseaddr,
    a tenth of the sender's time) gives the address back unchanged; anything else still goes
    through it, and it refuses what could inject a command."""
    if _PLAIN_MAILBOX.fullmatch(address):
        return f"<{address}>"
    return quote_address(address)


async def _message(smtp: aiosmtplib.SMTP, data: bytes) -> aiosmtplib.SMTPResponse:
    """The message after the server's 354, already in wire form, written as it is.
    aiosmtplib's own data() would run two regular expressions over every message (line
    endings, dot-stuffing), which cost a third of the sender's time for bytes that are the
    same for every recipient; it still manages the connection, TLS and authentication."""
    protocol = smtp.protocol
    if protocol is None:
        raise aiosmtplib.SMTPServerDisconnected("Connection lost")
    try:
        protocol.write(data)
        response = await protocol.read_response(timeout=smtp.timeout)
    except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError):
        smtp.close()
        raise
    if response.code != SMTPStatus.completed:
        raise aiosmtplib.SMTPDataError(response.code, response.message)
    return response


async def _pipelined(
    smtp: aiosmtplib.SMTP, commands: bytes, count: int
) -> list[aiosmtplib.SMTPResponse]:
    """Write a group of commands and read their `count` replies.

    aiosmtplib's protocol reads one reply per command and drops what arrives while a parsed
    reply awaits pickup, so a group's replies (often one packet) would be lost. For the group
    a reader of our own stands in for it on the same transport (TLS included), and hands the
    transport back before the message is written."""
    protocol = smtp.protocol
    transport = protocol.transport if protocol is not None else None
    if protocol is None or transport is None or transport.is_closing():
        raise aiosmtplib.SMTPServerDisconnected("Connection lost")
    reader = _ReplyReader(count)
    transport.set_protocol(reader)
    # A timer that fails the reader, not asyncio.wait_for: that wraps every group in a second
    # future and its callbacks, half the cost of waiting for the replies.
    timer = (
        asyncio.get_running_loop().call_later(smtp.timeout, reader.time_out)
        if smtp.timeout is not None
        else None
    )
    try:
        transport.write(commands)  # type: ignore[attr-defined]
        return await reader.done
    finally:
        if timer is not None:
            timer.cancel()
        transport.set_protocol(protocol)


class _ReplyReader(asyncio.Protocol):
    """Collects `count` SMTP replies (multi-line ones joined, as aiosmtplib does)."""

    MAX_BYTES = 64 * 1024

    def __init__(self, count: int) -> None:
        self.count = count
        self.buffer = bytearray()
        self.replies: list[aiosmtplib.SMTPResponse] = []
        self.lines: list[bytes] = []
        self.done: asyncio.Future[list[aiosmtplib.SMTPResponse]] = (
            asyncio.get_running_loop().create_future()
        )

    def data_received(self, data: bytes) -> None:
        if self.done.done():
            return
        self.buffer.extend(data)
        if len(self.buffer) > self.MAX_BYTES:
            self._fail(aiosmtplib.SMTPResponseException(-1, "Response too long"))
            return
        while (end := self.buffer.find(b"\n")) != -1:
            line = bytes(self.buffer[: end + 1])
            del self.buffer[: end + 1]
            if not line[:3].isdigit():
                self._fail(aiosmtplib.SMTPResponseException(-1, "Malformed SMTP response"))
                return
            self.lines.append(line[4:].strip(b" \t\r\n"))
            if line[3:4] != b"-":
                text = b"\n".join(self.lines).decode("utf-8", "surrogateescape")
                self.replies.append(aiosmtplib.SMTPResponse(int(line[:3]), text))
                self.lines = []
                if len(self.replies) == self.count:
                    # Anything after the last reply was not asked for: the session is off.
                    if self.buffer:
                        self._fail(aiosmtplib.SMTPResponseException(-1, "Unexpected reply"))
                    else:
                        self.done.set_result(self.replies)
                    return

    def eof_received(self) -> bool:
        self._fail(aiosmtplib.SMTPServerDisconnected("Unexpected EOF received"))
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(aiosmtplib.SMTPServerDisconnected("Connection lost"))

    def time_out(self) -> None:
        self._fail(aiosmtplib.SMTPReadTimeoutError("Timed out waiting for server response"))

    def _fail(self, exc: Exception) -> None:
        if not self.done.done():
            self.done.set_exception(exc)
            self.done.exception()  # retrieved: nobody may await it after a lost connection
