"""Development mode: an embedded SMTP catcher (mail shown at /dev/mail) and dispatcher."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

from app.config import VAR_DIR, Settings

log = logging.getLogger(__name__)

MAIL_DIR = VAR_DIR / "devmail"
Stop = Callable[[], Awaitable[None]]


class _Catcher:
    """Stores every received message as var/devmail/<time>-<n>.eml."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.count += 1
        name = f"{time.time_ns()}-{self.count}.eml"
        (self.directory / name).write_bytes(envelope.original_content)
        return f"250 2.0.0 Ok: queued as DEV{self.count}"


async def start(
    settings: Settings, *, worker_loop: Callable[[asyncio.Event, float], Coroutine[Any, Any, None]]
) -> list[Stop]:
    """Start the catcher on the configured relay port and the embedded dispatcher loop
    (`worker_loop`, app.composition.run_worker_loop as wired by app.main)."""
    # aiosmtpd is a development extra: production images do not carry it.
    from aiosmtpd.controller import Controller

    stops: list[Stop] = []
    controller = Controller(
        _Catcher(MAIL_DIR), hostname=settings.smtp_host, port=settings.smtp_port
    )
    try:
        controller.start()
    except Exception as exc:  # another catcher (or a real relay) already listens there
        log.warning("dev mail catcher not started on port %s: %s", settings.smtp_port, exc)
    else:

        async def _stop_catcher() -> None:
            controller.stop()

        stops.append(_stop_catcher)

    stop_event = asyncio.Event()
    task = asyncio.create_task(worker_loop(stop_event, 2.0))

    async def _stop_dispatcher() -> None:
        stop_event.set()
        await asyncio.wait_for(task, timeout=30)

    stops.append(_stop_dispatcher)
    return stops
