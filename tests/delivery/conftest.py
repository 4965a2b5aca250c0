"""Delivery tests use the shared fixtures: fault_smtp (tests/fixtures/smtp.py) and the
factories in tests/fixtures/factories.py; here only what the delivery rules tests inject."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tests.fixtures.factories import make_campaign, make_federation, make_world
from tests.fixtures.smtp import SmtpRecorder, free_port


@dataclass(frozen=True)
class Factories:
    """The shared factories, for test modules that take them by fixture injection."""

    world: Any = make_world
    federation: Any = make_federation
    campaign: Any = make_campaign


@pytest.fixture
def factories() -> Factories:
    return Factories()


@dataclass
class SecondRelay:
    handler: SmtpRecorder
    port: int


@pytest.fixture
def second_relay() -> Iterator[SecondRelay]:
    """Another loopback SMTP server, not the global relay: a federation's own relay."""
    handler = SmtpRecorder()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield SecondRelay(handler, port)
    finally:
        controller.stop()
