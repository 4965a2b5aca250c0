"""Benchmark: `newsletter dispatch` against smtp-source, both into the same local smtp-sink.

    .venv/bin/python bench/send.py --db postgresql --n 10000
    .venv/bin/python bench/send.py --db sqlite --n 100000

Seeds N confirmed subscribers and a ~20 KB campaign in a scratch database, starts smtp-sink
on loopback (never the Postfix daemon), runs the dispatcher as a subprocess to completion,
then the reference `smtp-source -d -s 16` (16 sessions, each reused for many messages, as the
dispatcher reuses its connections) with the same message count and size into the same sink.
The dispatcher gets as many connections (NEWSLETTER_SMTP_MAX_CONNECTIONS=16 unless set).
Prints both rates, their ratio (with the reference command), the fan-out time, the
dispatcher's peak RSS and its CPU time per message (user + system, start-up included: the
steadier figure on a shared machine). smtp-sink offers PIPELINING, so the dispatcher uses it;
NEWSLETTER_SMTP_PIPELINING=false measures without.
"""

from __future__ import annotations

import argparse
import asyncio
import compileall
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SECRET = "bench-secret-key-0123456789abcdef0123456789"
SOURCE_SESSIONS = 16

PARAGRAPH = (
    "Under året har vi tillsammans med Försäkringskassan, Arbetsförmedlingen, regionen och "
    "kommunerna arbetat för att fler ska komma närmare arbete och studier. Deltagarna i våra "
    "insatser berättar om små steg som blev stora: en första praktikdag, ett samtal som "
    "ledde vidare, en ny tro på den egna förmågan. Läs gärna mer i vår verksamhetsberättelse."
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def migrated_environment(
    url: str, workdir: Path, *, smtp_port: int, **extra: str
) -> dict[str, str]:
    """Production-like settings for a scratch database (migrated here), used by this process
    and the servers it starts."""
    env = {
        **os.environ,
        "NEWSLETTER_DATABASE_URL": url,
        "NEWSLETTER_SECRET_KEY": SECRET,
        "NEWSLETTER_DEV": "false",
        "NEWSLETTER_BASE_URL": "https://nyhetsbrev.example.se",
        "NEWSLETTER_SMTP_HOST": "127.0.0.1",
        "NEWSLETTER_SMTP_PORT": str(smtp_port),
        "NEWSLETTER_JOURNAL_DIR": str(workdir / "journal"),
        **extra,
    }
    use_environment(env)
    # As in the image (UV_COMPILE_BYTECODE): with PYTHONDONTWRITEBYTECODE set, each process
    # measured here would otherwise compile the app's modules again at start.
    compileall.compile_dir(ROOT / "app", quiet=1)
    subprocess.run(
        [sys.executable, "-m", "app.cli", "db", "upgrade"],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    return env


def analyze(url: str) -> None:
    """As in production, where subscribers arrive over months: statistics are current and the
    bulk load is not still being vacuumed while the benchmark runs (PostgreSQL only)."""
    if url.startswith("postgresql"):
        admin = url.replace("postgresql+asyncpg://", "postgresql://")
        subprocess.run(["psql", admin, "-q", "-c", "VACUUM ANALYZE"], check=True)


def add_database_arguments(parser: argparse.ArgumentParser, scratch_name: str) -> None:
    """--db and --pg-url, as every benchmark takes them."""
    parser.add_argument("--db", choices=["postgresql", "sqlite", "both"], default="both")
    parser.add_argument(
        "--pg-url",
        default=f"postgresql+asyncpg://postgres@127.0.0.1:5432/{scratch_name}",
        help="scratch PostgreSQL database (dropped and re-created)",
    )


def use_environment(env: dict[str, str]) -> None:
    """Point this process's settings at env (the seeding runs here, the servers as children)."""
    from app.config import get_settings

    os.environ.update(env)
    get_settings.cache_clear()


def body_markdown(size: int) -> str:
    parts = ["## Tack för året som gått", ""]
    i = 0
    while sum(len(p) for p in parts) < size:
        i += 1
        parts += [f"### Avsnitt {i}", "", PARAGRAPH, ""]
    return "\n".join(parts)


def prepare_database(kind: str, pg_url: str, workdir: Path) -> str:
    if kind == "sqlite":
        return f"sqlite+aiosqlite:///{workdir}/bench.db"
    name = pg_url.rpartition("/")[2]
    admin = pg_url.replace("postgresql+asyncpg://", "postgresql://")
    admin = admin.rpartition("/")[0] + "/postgres"
    subprocess.run(
        ["psql", admin, "-q", "-c", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        ["psql", admin, "-q", "-c", f'CREATE DATABASE "{name}"'], check=True, capture_output=True
    )
    return pg_url


async def seed_federation() -> int:
    """The one bench federation (slug "bench"); returns its id."""
    from app.db import session_scope
    from app.federations.models import Federation

    async with session_scope() as session:
        fed = Federation(
            slug="bench",
            name="Samordningsförbundet Bänk",
            from_email="info@bench.example.se",
            from_name="Samordningsförbundet Bänk",
            postal_address="Storgatan 1, 111 11 Stockholm",
        )
        session.add(fed)
        await session.flush()
        return fed.id


async def seed_subscribers(
    federation_id: int,
    n: int,
    *,
    confirmed: bool = True,
    prefix: str = "mottagare",
    chunk: int = 5000,
) -> list[str]:
    """N subscribers with one live token each, bulk-inserted; returns the raw link tokens.

    Confirmed subscribers get their unsubscribe token, pending ones a confirmation token."""
    from sqlalchemy import insert

    from app.clock import now
    from app.db import session_scope
    from app.security import new_seed, token_from_seed, token_hash
    from app.subscribers.models import Subscriber, SubscriptionStatus, Token, TokenPurpose

    status = SubscriptionStatus.CONFIRMED if confirmed else SubscriptionStatus.PENDING
    purpose = TokenPurpose.UNSUBSCRIBE if confirmed else TokenPurpose.CONFIRM
    expires_at = None if confirmed else now() + timedelta(days=7)
    raw_tokens: list[str] = []
    for start in range(0, n, chunk):
        async with session_scope() as session:
            rows = [
                {
                    "federation_id": federation_id,
                    "email": f"{prefix}{i}@bench.example.se",
                    "name": f"Mottagare {i}",
                    "status": status,
                    "confirmed_at": now() if confirmed else None,
                }
                for i in range(start, min(n, start + chunk))
            ]
            ids = (await session.scalars(insert(Subscriber).returning(Subscriber.id), rows)).all()
            tokens = []
            for sid in ids:
                seed_ = new_seed()
                raw_tokens.append(token_from_seed(seed_))
                tokens.append(
                    {
                        "federation_id": federation_id,
                        "subscriber_id": sid,
                        "purpose": purpose,
                        "seed": seed_,
                        "token_hash": token_hash(raw_tokens[-1]),
                        "expires_at": expires_at,
                    }
                )
            await session.execute(insert(Token), tokens)
    return raw_tokens


async def seed(n: int, size: int) -> None:
    from app.campaigns.models import Campaign, CampaignStatus, Theme
    from app.clock import now
    from app.db import dispose_engine, session_scope

    fid = await seed_federation()
    await seed_subscribers(fid, n)
    async with session_scope() as session:
        session.add(
            Campaign(
                federation_id=fid,
                subject="Tack för året: bänktest",
                theme=Theme.ARSSKIFTE,
                body_markdown=body_markdown(size),
                status=CampaignStatus.SCHEDULED,
                send_at=now() - timedelta(minutes=1),
            )
        )
    await dispose_engine()


async def message_size() -> int:
    """Bytes of one rendered campaign message, so smtp-source sends the same size."""
    from app.campaigns import service as campaigns_service
    from app.db import dispose_engine, session_scope

    async with session_scope() as session:
        prepared = await campaigns_service.prepare_for_sending(
            session, federation_id=1, campaign_id=1
        )
        raw = prepared.render(
            delivery_id=1,
            to_address="mottagare1@bench.example.se",
            name="Mottagare 1",
            unsubscribe_token="x" * 32,
        )
    await dispose_engine()
    return len(raw)


def sink_count(path: Path) -> str:
    text = path.read_text(errors="replace") if path.exists() else ""
    counters = re.findall(r"[^\r\n]+", text)
    return counters[-1].strip() if counters else "?"


def fan_out_only(kind: str, env: dict[str, str]) -> None:
    """Run the dispatcher with no relay listening: it starts the campaign (the fan-out), finds
    the relay down and stops; prints the fan-out time and the peak RSS of that run."""
    cmd = ["/usr/bin/time", "-f", "PEAK_RSS_KB=%M", sys.executable, "-m", "app.cli", "dispatch"]
    done = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True)
    fanout = re.findall(r"fan-out ([\d.]+) s", done.stderr)
    rss = re.findall(r"PEAK_RSS_KB=(\d+)", done.stderr)
    print(f"[{kind}] fan-out {fanout[0] if fanout else '?'} s; peak RSS {int(rss[0]) // 1024} MB")


def run_one(
    kind: str,
    n: int,
    size: int,
    pg_url: str,
    processes: int,
    profile: Path | None = None,
    only_fan_out: bool = False,
) -> dict[str, float]:
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-{kind}-"))
    url = prepare_database(kind, pg_url, workdir)
    port = free_port()
    # As many SMTP sessions as the reference opens (smtp-source -s 16), unless told otherwise.
    connections = os.environ.get("NEWSLETTER_SMTP_MAX_CONNECTIONS", str(SOURCE_SESSIONS))
    env = migrated_environment(
        url, workdir, smtp_port=port, NEWSLETTER_SMTP_MAX_CONNECTIONS=connections
    )
    began = time.monotonic()
    asyncio.run(seed(n, size))
    print(f"[{kind}] seeded {n} subscribers in {time.monotonic() - began:.1f} s")
    analyze(url)
    if only_fan_out:
        fan_out_only(kind, env)
        shutil.rmtree(workdir, ignore_errors=True)
        return {}
    msg_size = asyncio.run(message_size())
    print(f"[{kind}] one campaign message is {msg_size} bytes")

    sink_log = workdir / "sink.out"
    sink = subprocess.Popen(
        ["smtp-sink", "-c", "-u", os.environ.get("USER", "root"), f"127.0.0.1:{port}", "1000"],
        stdout=sink_log.open("w"),
        stderr=subprocess.STDOUT,
    )
    time.sleep(0.3)
    try:
        cmd = [
            "/usr/bin/time",
            "-f",
            "PEAK_RSS_KB=%M CPU_S=%U+%S",
            sys.executable,
            "-m",
            "app.cli",
            "dispatch",
        ]
        if profile is not None:
            # py-spy's samples (collapsed stacks) of the dispatcher; its peak RSS is then py-spy's.
            out = profile.with_name(f"{profile.stem}-{kind}{profile.suffix or '.txt'}")
            cmd[3:3] = [
                "py-spy",
                "record",
                "--format",
                "raw",
                "--rate",
                "200",
                "-o",
                str(out),
                "--",
            ]
        began = time.monotonic()
        procs = [
            subprocess.Popen(
                cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
            for _ in range(processes)
        ]
        outputs = [p.communicate() for p in procs]
        dispatch_seconds = time.monotonic() - began
        rss = max(int(m) for _, e in outputs for m in re.findall(r"PEAK_RSS_KB=(\d+)", e))
        cpu = sum(
            float(u) + float(s)
            for _, e in outputs
            for u, s in re.findall(r"CPU_S=([\d.]+)\+([\d.]+)", e)
        )
        fanout = [float(m) for _, e in outputs for m in re.findall(r"fan-out ([\d.]+) s", e)]
        for out, errtext in outputs:
            if "sent" not in out:
                print(errtext[-2000:])
            print(f"[{kind}] dispatcher: {out.strip()}")
        sent = sum(int(m) for o, _ in outputs for m in re.findall(r"^sent (\d+)", o, re.M))
        dispatch_rate = sent / dispatch_seconds
        print(f"[{kind}] sink after dispatch: {sink_count(sink_log)}")

        # -d keeps each of the 16 sessions open for many messages, as the dispatcher does;
        # without it every message would pay for a new connection and the reference is weak.
        source_cmd = [
            "smtp-source",
            "-d",
            "-s",
            str(SOURCE_SESSIONS),
            "-m",
            str(n),
            "-l",
            str(msg_size),
            "-c",
            "-f",
            "info@bench.example.se",
            "-t",
            "mottagare@bench.example.se",
            f"127.0.0.1:{port}",
        ]
        began = time.monotonic()
        subprocess.run(source_cmd, check=True, capture_output=True)
        source_seconds = time.monotonic() - began
        source_rate = n / source_seconds
        print(f"[{kind}] sink after smtp-source: {sink_count(sink_log)}")
    finally:
        sink.terminate()
        sink.wait()
        shutil.rmtree(workdir, ignore_errors=True)
    result = {
        "sent": sent,
        "dispatch_rate": dispatch_rate,
        "source_rate": source_rate,
        "ratio": dispatch_rate / source_rate,
        "fan_out": fanout[0] if fanout else -1,
        "rss_mb": rss / 1024,
        "dispatch_seconds": dispatch_seconds,
        "cpu_ms_per_msg": 1000 * cpu / max(sent, 1),
    }
    print(
        f"[{kind}] n={n} processes={processes} connections={connections}: "
        f"dispatch {sent} in {dispatch_seconds:.1f} s = "
        f"{dispatch_rate:.0f} msg/s; reference `{' '.join(source_cmd)}` {source_rate:.0f} msg/s; "
        f"ratio {result['ratio']:.2f} (both {msg_size} B/msg); fan-out {result['fan_out']:.2f} s; "
        f"peak RSS {result['rss_mb']:.0f} MB; dispatcher CPU {cpu:.1f} s "
        f"({result['cpu_ms_per_msg']:.3f} ms/msg, start-up included)"
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10000, help="subscribers / messages")
    parser.add_argument("--size", type=int, default=20000, help="campaign body size in bytes")
    parser.add_argument("--processes", type=int, default=1, help="dispatcher processes")
    parser.add_argument("--profile", type=Path, help="py-spy the dispatcher into FILE-<db>.txt")
    parser.add_argument(
        "--fan-out-only", action="store_true", help="no relay: measure the campaign start only"
    )
    add_database_arguments(parser, "bench_send")
    args = parser.parse_args()
    kinds = ["postgresql", "sqlite"] if args.db == "both" else [args.db]
    for kind in kinds:
        run_one(
            kind,
            args.n,
            args.size,
            args.pg_url,
            args.processes,
            args.profile,
            args.fan_out_only,
        )


if __name__ == "__main__":
    main()
