"""Registers the shared fixtures (tests/fixtures/); the suite runs once per database backend,
each test in a rolled-back transaction."""

from __future__ import annotations

import pytest

import tests.fixtures  # noqa: F401  (sets the test environment before app is imported)
from tests.fixtures.client import client
from tests.fixtures.database import (
    backend,
    committed,
    connection,
    empty_database,
    engine,
    frozen_clock,
    session,
    sessionmaker,
)
from tests.fixtures.settings import configure
from tests.fixtures.smtp import ascii_smtp, fault_smtp, smtp_server
from tests.fixtures.tenants import api, other_tenant, tenant

__all__ = [
    "api",
    "ascii_smtp",
    "backend",
    "client",
    "committed",
    "configure",
    "connection",
    "empty_database",
    "engine",
    "fault_smtp",
    "frozen_clock",
    "other_tenant",
    "session",
    "sessionmaker",
    "smtp_server",
    "tenant",
]


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
