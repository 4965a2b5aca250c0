"""Fixtures: the suite runs once per database backend, each test in a rolled-back transaction."""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

_tmp = Path(tempfile.mkdtemp(prefix="nyhetsbrev-tests-"))
os.environ.update(
    {
        "NEWSLETTER_SECRET_KEY": "test-secret-key-0123456789abcdef0123456789",
        "NEWSLETTER_BASE_URL": "https://nyhetsbrev.example.se",
        "NEWSLETTER_DATABASE_URL": f"sqlite+aiosqlite:///{_tmp}/unused.db",
        "NEWSLETTER_JOURNAL_DIR": str(_tmp / "journal"),
        "NEWSLETTER_DEV": "false",
    }
)

import httpx  # noqa: E402
import pytest  # noqa: E402
from aiosmtpd.controller import Controller  # noqa: E402
from alembic import command  # noqa: E402
from alembic.config import Config  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker  # noqa: E402

from app import clock, db  # noqa: E402
from app.config import get_settings  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("NEWSLETTER_TEST_DATABASE_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])
if os.environ.get("NEWSLETTER_REQUIRE_ALL_TESTS") and not PG_URL:
    raise RuntimeError(
        "NEWSLETTER_REQUIRE_ALL_TESTS is set but NEWSLETTER_TEST_DATABASE_URL is not"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`@pytest.mark.postgres` tests run only on the PostgreSQL backend: their SQLite variant is
    deselected (not skipped), so CI can insist that nothing at all is skipped."""
    keep, drop = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_sqlite = callspec is not None and callspec.params.get("backend") == "sqlite"
        (drop if on_sqlite and item.get_closest_marker("postgres") else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def free_port() -> int:
    """A free loopback port (aiosmtpd's start-up probe cannot use port 0)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def scratch_postgres(suffix: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database beside the test database, dropped afterwards (for
    tests that need committed data or a schema of their own)."""
    assert PG_URL
    base, _, name = PG_URL.rpartition("/")
    scratch = f"{name}_{suffix}"
    admin = PG_URL.replace("postgresql+asyncpg://", "postgresql://")

    def psql(sql: str, *, check: bool) -> None:
        subprocess.run(["psql", admin, "-q", "-c", sql], check=check, capture_output=True)

    psql(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)', check=True)
    psql(f'CREATE DATABASE "{scratch}"', check=True)
    try:
        yield f"{base}/{scratch}"
    finally:
        psql(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)', check=False)


def backend_url(backend: str) -> str:
    if backend == "postgresql":
        assert PG_URL
        return PG_URL
    return f"sqlite+aiosqlite:///{_tmp}/test.db"


def alembic_config(url: str) -> Config:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.attributes["database_url"] = url
    return cfg


async def reset_schema(engine: AsyncEngine) -> None:
    """Drop everything so `upgrade head` starts from an empty database."""
    async with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
        else:
            rows = await conn.execute(text("SELECT name FROM sqlite_master WHERE type='table'"))
            await conn.execute(text("PRAGMA foreign_keys=OFF"))
            for (name,) in rows.all():
                if not name.startswith("sqlite_"):
                    await conn.execute(text(f'DROP TABLE IF EXISTS "{name}"'))


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
async def engine(backend: str) -> AsyncIterator[AsyncEngine]:
    url = backend_url(backend)
    eng = db.make_engine(url)
    await reset_schema(eng)
    cfg = alembic_config(url)
    async with eng.connect() as conn:
        cfg.attributes["connection"] = None
        await conn.run_sync(_upgrade, cfg)
        await conn.commit()
    yield eng
    await eng.dispose()


def _upgrade(sync_conn: object, cfg: Config) -> None:
    cfg.attributes["connection"] = sync_conn
    command.upgrade(cfg, "head")


@pytest.fixture
async def connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    async with engine.connect() as conn:
        trans = await conn.begin()
        yield conn
        if trans.is_active:
            await trans.rollback()


@pytest.fixture
async def sessionmaker(
    connection: AsyncConnection,
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Every session (tests and app) joins the outer transaction through savepoints."""
    factory = async_sessionmaker(
        bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
    )
    db.use_sessionmaker(factory)
    yield factory
    db.use_sessionmaker(None)


@pytest.fixture
async def session(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    async with sessionmaker() as s:
        yield s


@pytest.fixture
async def client(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[httpx.AsyncClient]:
    from app.main import create_app

    app = create_app(embedded_services=False)
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
    async with httpx.AsyncClient(
        transport=transport, base_url="https://nyhetsbrev.example.se"
    ) as c:
        yield c


@pytest.fixture
def frozen_clock() -> Iterator[None]:
    yield
    clock.freeze(None)


@dataclass
class CapturedMail:
    """Messages received by the local SMTP server, as raw bytes and parsed."""

    envelopes: list[tuple[str, list[str], bytes]] = field(default_factory=list)

    @property
    def messages(self) -> list[EmailMessage]:
        return [message_from_bytes(raw, policy=policy.default) for _, _, raw in self.envelopes]  # type: ignore[misc]

    def to(self, address: str) -> list[EmailMessage]:
        return [
            message_from_bytes(raw, policy=policy.default)  # type: ignore[misc]
            for _, rcpts, raw in self.envelopes
            if address in rcpts
        ]


class _Handler:
    def __init__(self, store: CapturedMail) -> None:
        self.store = store

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        self.store.envelopes.append(
            (envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content)  # type: ignore[attr-defined]
        )
        return "250 2.0.0 Ok: queued as TEST"


@pytest.fixture
def smtp_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[CapturedMail]:
    """A real SMTP server (aiosmtpd) on loopback; settings point the app at it."""
    store = CapturedMail()
    port = free_port()
    controller = Controller(_Handler(store), hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("NEWSLETTER_SMTP_PORT", str(port))
    get_settings.cache_clear()
    try:
        yield store
    finally:
        controller.stop()
        get_settings.cache_clear()
