"""The `newsletter` command: the only place that prints."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from app.config import ConfigError, get_settings
from app.errors import AppError

T = TypeVar("T")

cli = typer.Typer(help="Nyhetsbrev: newsletters for samordningsförbund.", no_args_is_help=True)
db_cli = typer.Typer(help="Database schema.", no_args_is_help=True)
federation_cli = typer.Typer(help="Federations (tenants).", no_args_is_help=True)
apikey_cli = typer.Typer(help="Staff API keys.", no_args_is_help=True)
subscribers_cli = typer.Typer(help="Subscribers.", no_args_is_help=True)
cli.add_typer(db_cli, name="db")
cli.add_typer(federation_cli, name="federation")
cli.add_typer(apikey_cli, name="apikey")
cli.add_typer(subscribers_cli, name="subscribers")

err = Console(stderr=True)
out = Console()
ROOT = Path(__file__).resolve().parent.parent


def fail(message: str) -> typer.Exit:
    """Print one clear line to stderr; the caller raises the returned Exit."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine, turning known failures into one line and a non-zero exit."""
    from app.db import dispose_engine

    async def _wrapped() -> T:
        try:
            return await coro
        finally:
            await dispose_engine()

    try:
        return asyncio.run(_wrapped())
    except AppError as exc:
        raise fail(exc.message) from None
    except ConfigError as exc:
        raise fail(str(exc)) from None


def _settings_or_exit() -> None:
    try:
        get_settings()
    except ConfigError as exc:
        raise fail(str(exc)) from None


@cli.callback()
def _main() -> None:
    # Help must work on a machine that is not configured yet.
    if "--help" not in sys.argv[1:]:
        _settings_or_exit()


def alembic_upgrade(revision: str = "head") -> None:
    from alembic import command
    from alembic.config import Config

    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    command.upgrade(cfg, revision)


@db_cli.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Migrate the database to the newest schema."""
    alembic_upgrade(revision)
    out.print(f"database at {revision}")


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
) -> None:
    """Serve the web app (behind a reverse proxy in production)."""
    import uvicorn

    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
        forwarded_allow_ips=os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1"),
    )


@cli.command()
def demo() -> None:
    """Load the demo federations and staff key (idempotent) and print the URLs."""
    from app.db import session_scope
    from app.demo import DemoResult, load_demo

    async def _load() -> DemoResult:
        async with session_scope() as session:
            return await load_demo(session)

    result = run(_load())
    base = get_settings().base_url
    out.print("Demo data loaded.")
    for slug in result.federations:
        out.print(f"  Prenumerera: {base}/f/{slug}/prenumerera")
        out.print(f"  Arkiv:       {base}/f/{slug}/arkiv")
    out.print(f"  Fångad e-post: {base}/dev/mail")
    out.print(f"  API-dokumentation: {base}/docs")
    out.print("Demo staff API key (admin):")
    print(result.api_key)


def _log_to_stderr() -> None:
    import logging

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


@cli.command()
def dispatch(
    max_seconds: Annotated[
        float | None, typer.Option("--max-seconds", help="Stop claiming new mail after N seconds.")
    ] = None,
) -> None:
    """Send all due mail once (one cron tick); safe while another dispatch runs."""
    import logging
    import time

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from app.delivery import service as delivery_service

    _log_to_stderr()
    log = logging.getLogger("app.cli.dispatch")
    started = time.monotonic()
    last_log = [0.0]
    bar = (
        Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            console=err,
        )
        if err.is_terminal
        else None
    )
    tasks: dict[int, Any] = {}

    def progress(
        report: delivery_service.DispatchReport, campaigns: dict[int, tuple[int, int]]
    ) -> None:
        elapsed = max(time.monotonic() - started, 1e-6)
        rate = f"{report.sent / elapsed:.0f}/s"
        if bar is not None:
            for campaign_id, (sent, total) in campaigns.items():
                if campaign_id not in tasks:
                    tasks[campaign_id] = bar.add_task(
                        f"utskick {campaign_id}", total=total, rate=""
                    )
                bar.update(tasks[campaign_id], completed=sent, total=total, rate=rate)
        elif time.monotonic() - last_log[0] >= 5:
            last_log[0] = time.monotonic()
            for campaign_id, (sent, total) in campaigns.items():
                log.info("campaign %s: %s of %s sent, %s", campaign_id, sent, total, rate)

    if bar is not None:
        bar.start()
    try:
        report = run(delivery_service.dispatch_once(max_seconds=max_seconds, progress=progress))
    finally:
        if bar is not None:
            bar.stop()
    rate = report.sent / report.elapsed if report.elapsed else 0.0
    out.print(
        f"sent {report.sent}, deferred {report.deferred}, failed {report.failed}, "
        f"unknown {report.unknown}, suppressed {report.suppressed}, "
        f"campaigns started {report.campaigns_started} ({report.fanned_out} recipients), "
        f"finished {len(report.campaigns_finished)}; {report.elapsed:.1f} s, {rate:.0f}/s",
        highlight=False,
    )
    if report.relay_down:
        err.print("warning: the SMTP relay was unreachable; mail stays queued", highlight=False)


@cli.command()
def worker(
    interval: Annotated[float, typer.Option(help="Seconds between dispatch runs.")] = 5.0,
) -> None:
    """Dispatch in a loop; SIGTERM finishes messages in flight, requeues the rest, exits 0."""
    import signal

    from app.delivery import service as delivery_service

    _log_to_stderr()

    async def _work() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await delivery_service.run_worker_loop(stop, interval=interval)

    run(_work())
    out.print("worker stopped")


def main() -> None:
    try:
        cli()
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
