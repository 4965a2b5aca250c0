"""The `newsletter` command: the only place that prints."""

from __future__ import annotations

import asyncio
import gc
import os
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console

from app.config import ConfigError, get_settings
from app.errors import AppError

if TYPE_CHECKING:
    from app.delivery.outcomes import DispatchReport

T = TypeVar("T")

cli = typer.Typer(help="Nyhetsbrev: newsletters for samordningsförbund.", no_args_is_help=True)
db_cli = typer.Typer(help="Database schema.", no_args_is_help=True)
federation_cli = typer.Typer(help="Federations (tenants).", no_args_is_help=True)
apikey_cli = typer.Typer(help="Staff API keys.", no_args_is_help=True)
subscribers_cli = typer.Typer(help="Subscribers.", no_args_is_help=True)
seasons_cli = typer.Typer(help="The federation's year: seasonal drafts.", no_args_is_help=True)
cli.add_typer(db_cli, name="db")
cli.add_typer(federation_cli, name="federation")
cli.add_typer(apikey_cli, name="apikey")
cli.add_typer(subscribers_cli, name="subscribers")
cli.add_typer(seasons_cli, name="seasons")

err = Console(stderr=True)
out = Console()


def fail(message: str) -> typer.Exit:
    """Print one clear line to stderr; the caller raises the returned Exit."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop where it is installed (its native socket transport is most of the sender's
    gain), asyncio's own loop otherwise."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


# Set by main(): this command is the whole process, whose start-up run() has yet to freeze.
_PROCESS = {"own": False}


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine, turning known failures into one line and a non-zero exit."""
    from app.db import dispose_engine

    async def _wrapped() -> T:
        try:
            return await coro
        finally:
            await dispose_engine()

    from sqlalchemy.exc import DBAPIError

    if _PROCESS["own"]:
        # What start-up made (modules, mapped classes, the settings) lives as long as the
        # process: frozen, the cyclic collector no longer walks it, neither in the run's full
        # collections nor at exit, where that walk took 0.25 s of every `newsletter dispatch`
        # (a quarter of an empty cron tick; bench/results-speed.md). Only in a process of its
        # own (main()): in one that goes on, such as a test run, it would keep cyclic garbage
        # of the caller's for good. Once: a later run() of the same command would freeze what
        # the work before it left behind.
        _PROCESS["own"] = False
        gc.freeze()
    try:
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            return runner.run(_wrapped())
    except AppError as exc:
        raise fail(exc.message) from None
    except ConfigError as exc:
        raise fail(str(exc)) from None
    except (OSError, DBAPIError):
        # Diagnosed only after a failure (Alembic is slow to import, and cron starts `dispatch`
        # every minute): an unreachable or unmigrated database is one line, anything else a bug.
        _exit_if_database_unusable()
        raise


def _exit_if_database_unusable() -> None:
    from app.migrate import database_problem

    problem = asyncio.run(database_problem(get_settings().database_url))
    if problem is not None:
        raise fail(problem) from None


def _settings_or_exit() -> None:
    try:
        get_settings()
    except ConfigError as exc:
        raise fail(str(exc)) from None


def _print_version(value: bool) -> None:
    if value:
        from app.monitoring.build import version

        out.print(f"newsletter {version()}", highlight=False)
        raise typer.Exit()


@cli.callback()
def _main(
    _version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    from app import logs

    logs.setup()
    # Help must work on a machine that is not configured yet.
    if "--help" not in sys.argv[1:]:
        _settings_or_exit()


@db_cli.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Migrate the database to the newest schema."""
    from app import migrate

    problem = asyncio.run(migrate.database_problem(get_settings().database_url, need_head=False))
    if problem is not None:
        raise fail(problem)
    migrate.upgrade(revision)
    out.print(f"database at {revision}")


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
) -> None:
    """Serve the web app (behind a reverse proxy in production)."""
    import uvicorn

    # log_config=None: uvicorn's records, access lines included, go through app/logs.py.
    uvicorn.run(
        "app.main:create_app",
        log_config=None,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
        forwarded_allow_ips=os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1"),
        # With --workers, uvicorn kills a worker that has not answered its supervisor's ping
        # within this many seconds, and starts another. Its default of 5 s killed every worker
        # of a host busy enough that starting one (imports) took longer, over and over; 30 s is
        # gunicorn's default worker timeout.
        timeout_worker_healthcheck=30,
    )


@cli.command()
def bounce(
    file: Annotated[
        Path | None, typer.Argument(help="The DSN as received; standard input if omitted.")
    ] = None,
    recipient: Annotated[
        str | None,
        typer.Option(help="Envelope recipient (the VERP address), e.g. Postfix's ${recipient}."),
    ] = None,
) -> None:
    """Apply one bounce report (RFC 3464 DSN) sent to a VERP address (for a pipe transport)."""
    from app.db import session_scope
    from app.delivery import service as delivery_service
    from app.delivery.bounces import parse_dsn

    raw = file.read_bytes() if file is not None else sys.stdin.buffer.read()
    report = parse_dsn(raw, envelope_recipient=recipient)
    if report is None:
        # Not ours or not a DSN: exit 0 so the MTA does not bounce the bounce.
        out.print("ignored: not a delivery status report for a delivery of ours")
        return

    async def _apply() -> bool:
        async with session_scope() as session:
            return await delivery_service.record_bounce_report(session, report=report)

    changed = run(_apply())
    state = "recorded" if changed else "no change"
    out.print(f"delivery {report.delivery_id}: {report.action} {report.status or ''} ({state})")


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


async def record_tick(dispatcher: str, report: DispatchReport) -> None:
    """Note a finished dispatch run for /metrics (liveness and what it sent)."""
    from app.db import session_scope
    from app.monitoring import service as monitoring_service
    from app.monitoring.models import OUTCOMES

    async with session_scope() as session:
        counts = {name: getattr(report, name) for name in OUTCOMES}
        await monitoring_service.record_tick(session, dispatcher=dispatcher, counts=counts)


async def _dispatch_and_record(**options: Any) -> DispatchReport:
    from app import composition

    report = await composition.dispatch_once(**options)
    await record_tick("dispatch", report)
    return report


@cli.command()
def dispatch(
    max_seconds: Annotated[
        float | None, typer.Option("--max-seconds", help="Stop claiming new mail after N seconds.")
    ] = None,
) -> None:
    """Send all due mail once (one cron tick), then run queued CSV imports in the time left;
    safe while another dispatch runs."""
    import logging
    import time

    log = logging.getLogger("app.cli.dispatch")
    started = time.monotonic()
    last_log = [0.0]
    bar = _progress_bar() if err.is_terminal else None
    tasks: dict[int, Any] = {}

    def progress(report: DispatchReport, campaigns: dict[int, tuple[int, int]]) -> None:
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

    # Imported before run(), which freezes what start-up made: the campaign sending path is
    # most of it.
    from app import composition  # noqa: F401

    async def tick() -> None:
        if bar is not None:
            bar.start()
        try:
            report = await _dispatch_and_record(max_seconds=max_seconds, progress=progress)
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
        # CSV imports queued from the web: a cron-only install has no worker to run them. They
        # get what is left of --max-seconds; one that does not finish resumes at the next
        # tick. In the same event loop and engine as the sending: a second run() made a new
        # loop and engine and connected again (bench/results-speed.md).
        from app.subscribers import import_jobs

        left = None if max_seconds is None else max_seconds - (time.monotonic() - started)
        if left is None or left > 0:
            imports = await import_jobs.run_queued(max_seconds=left)
            if imports:
                out.print(f"imports run: {len(imports)}", highlight=False)

    run(tick())


def _progress_bar() -> Any:
    """The dispatch's progress on a terminal (rich.progress is imported only then: cron's
    runs have none)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        console=err,
    )


@cli.command()
def worker(
    interval: Annotated[float, typer.Option(help="Seconds between dispatch runs.")] = 5.0,
) -> None:
    """Dispatch and run CSV import jobs in a loop; SIGTERM finishes messages in flight,
    requeues the rest (an import goes back to the queue at its next checkpoint), exits 0."""
    import signal

    from app import composition
    from app.seasons import service as seasons_service

    # The loop survives failed runs (a relay or database outage), so a database that cannot
    # serve this version is refused before it starts.
    _exit_if_database_unusable()

    async def _work() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        # Seasonal drafts are checked hourly beside the dispatcher.
        await asyncio.gather(
            composition.run_worker_loop(
                stop, interval=interval, on_tick=lambda report: record_tick("worker", report)
            ),
            seasons_service.run_loop(stop),
        )

    run(_work())
    out.print("worker stopped")


@federation_cli.command("create")
def federation_create(
    slug: Annotated[str, typer.Option(help="URL name, e.g. sf-norra.")],
    name: Annotated[str, typer.Option(help="Display name.")],
    from_email: Annotated[str, typer.Option(help="Sender address.")],
    from_name: Annotated[str, typer.Option(help="Sender name.")],
    postal_address: Annotated[str, typer.Option(help="Postal footer; \\n for new lines.")],
    reply_to: Annotated[str | None, typer.Option(help="Reply-To address.")] = None,
    contact_email: Annotated[
        str | None, typer.Option(help="Contact for privacy questions.")
    ] = None,
    website_url: Annotated[str | None, typer.Option(help="The federation's website.")] = None,
    logo_url: Annotated[str | None, typer.Option(help="https URL of the logo.")] = None,
    brand_color: Annotated[str | None, typer.Option(help="#rrggbb.")] = None,
    accent_color: Annotated[str | None, typer.Option(help="#rrggbb.")] = None,
    timezone: Annotated[str | None, typer.Option(help="IANA zone.")] = None,
    frame_ancestor: Annotated[
        list[str] | None, typer.Option(help="https origin allowed to embed the form (repeat).")
    ] = None,
) -> None:
    """Create a federation (tenant)."""
    from pydantic import ValidationError

    from app.actors import Actor
    from app.db import session_scope
    from app.federations import service as federation_service
    from app.federations.schemas import FederationCreate

    given = {
        "slug": slug,
        "name": name,
        "from_email": from_email,
        "from_name": from_name,
        "postal_address": postal_address.replace("\\n", "\n"),
        "reply_to": reply_to,
        "contact_email": contact_email,
        "website_url": website_url,
        "logo_url": logo_url,
        "brand_color": brand_color,
        "accent_color": accent_color,
        "timezone": timezone,
        "frame_ancestors": frame_ancestor,
    }
    try:
        data = FederationCreate.model_validate({k: v for k, v in given.items() if v is not None})
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "input"
        raise fail(f"--{field.replace('_', '-')}: {first['msg']}") from None

    async def _create() -> str:
        async with session_scope() as session:
            federation = await federation_service.create_federation(
                session, data=data, actor=Actor.system("newsletter federation create")
            )
            return federation.slug

    out.print(f"created federation {run(_create())}", markup=False, highlight=False)


@federation_cli.command("list")
def federation_list() -> None:
    """List federations."""
    from rich.table import Table

    from app.db import session_scope
    from app.federations import service as federation_service

    async def _list() -> list[tuple[str, str, str]]:
        async with session_scope() as session:
            return [
                (f.slug, f.name, f.from_email)
                for f in await federation_service.list_federations(session)
            ]

    table = Table("slug", "name", "from")
    for row in run(_list()):
        table.add_row(*row)
    out.print(table)


@apikey_cli.command("create")
def apikey_create(
    federation: Annotated[
        str | None, typer.Option("--federation", help="Slug of the federation the key reaches.")
    ] = None,
    admin: Annotated[bool, typer.Option("--admin", help="An admin key (all federations).")] = False,
    name: Annotated[str, typer.Option(help="What the key is for.")] = "api",
) -> None:
    """Create an API key; the key is printed once, alone on the last line."""
    from app.actors import Actor
    from app.db import session_scope
    from app.federations import service as federation_service

    if admin == (federation is not None):
        raise fail("give exactly one of --federation SLUG or --admin")

    async def _create() -> tuple[int, str]:
        async with session_scope() as session:
            target = (
                await federation_service.get_federation(session, slug=federation)
                if federation
                else None
            )
            new = await federation_service.create_api_key(
                session, federation=target, name=name, actor=Actor.system("newsletter apikey")
            )
            return new.key.id, new.raw

    key_id, raw = run(_create())
    scope = f"federation {federation}" if federation else "admin"
    err.print(f"API key {key_id} ({scope}) created; it is shown only now:", markup=False)
    print(raw)


@apikey_cli.command("revoke")
def apikey_revoke(
    key: Annotated[str, typer.Argument(help="Key id, its printed prefix, or the key itself.")],
) -> None:
    """Revoke an API key at once."""
    from app.actors import Actor
    from app.db import session_scope
    from app.federations import service as federation_service

    async def _revoke() -> int:
        async with session_scope() as session:
            revoked = await federation_service.revoke_api_key_by_reference(
                session, reference=key, actor=Actor.system("newsletter apikey")
            )
            return revoked.id

    out.print(f"revoked API key {run(_revoke())}", markup=False, highlight=False)


@subscribers_cli.command("import")
def subscribers_import(
    slug: Annotated[str, typer.Argument(help="Federation slug.")],
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV with columns email, name, …", exists=True, dir_okay=False, readable=True
        ),
    ],
    mode: Annotated[
        str, typer.Option(help="pending (send confirmation) or confirmed.")
    ] = "pending",
    consent_note: Annotated[
        str | None, typer.Option(help="Required with --mode confirmed: where consent was given.")
    ] = None,
) -> None:
    """Import subscribers from CSV (UTF-8, `,` or `;`), committing per batch."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    from app.actors import Actor
    from app.db import session_scope
    from app.federations import service as federation_service
    from app.subscribers import importer
    from app.subscribers.schemas import CreateMode, ImportReport

    if mode not in ("pending", "confirmed"):
        raise fail("--mode must be pending or confirmed")
    size = file.stat().st_size
    progress = Progress(
        TextColumn("importing"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[created]} new"),
        console=err,
    )

    async def _import() -> ImportReport:
        with file.open("rb") as source, progress:
            task = progress.add_task("import", total=size, created=0)
            async with session_scope() as session:
                federation = await federation_service.get_federation(session, slug=slug)

                async def batch_done(report: ImportReport) -> None:
                    # Each batch is its own transaction: an interrupted import keeps what it
                    # did, and running it again skips those rows.
                    await session.commit()
                    session.expunge_all()
                    progress.update(task, completed=source.tell(), created=report.created)

                return await importer.import_csv(
                    session,
                    federation=federation,
                    source=source,
                    mode=CreateMode(mode),
                    consent_note=consent_note,
                    method="cli_import",
                    on_batch=batch_done,
                    actor=Actor.system("newsletter subscribers import"),
                )

    report = run(_import())
    for problem in report.problems:
        err.print(f"line {problem.line}: {problem.reason}", markup=False, highlight=False)
    out.print(
        f"{report.rows} rows: {report.created} added, {report.existing} already there, "
        f"{report.suppressed} suppressed, {report.invalid} invalid",
        markup=False,
        highlight=False,
    )


@cli.command()
def purge() -> None:
    """Apply the retention rules now (unconfirmed sign-ups, expired tokens, IP addresses)."""
    from app.db import session_scope
    from app.subscribers import retention

    async def _purge() -> retention.PurgeSummary:
        async with session_scope() as session:
            return await retention.purge(session)

    summary = run(_purge())
    out.print(
        f"purged {summary.unconfirmed} unconfirmed sign-ups, {summary.unsubscribed} "
        f"unsubscribed subscribers, {summary.tokens} expired tokens, "
        f"pruned client data on {summary.client_data} consent records, "
        f"deleted {summary.audit} audit log rows",
        markup=False,
        highlight=False,
    )


@seasons_cli.command("run")
def seasons_run(
    on: Annotated[
        str | None, typer.Option("--date", help="Run as on this day (YYYY-MM-DD), 09.00 UTC.")
    ] = None,
) -> None:
    """Make the seasonal drafts that are due (idempotent: a rule fires once a year)."""
    from datetime import UTC, datetime

    from app.db import session_scope
    from app.seasons import service as seasons_service

    try:
        at = datetime.fromisoformat(on).replace(hour=9, tzinfo=UTC) if on else None
    except ValueError:
        raise fail(f"--date must be YYYY-MM-DD, not {on!r}") from None

    async def _run() -> list[seasons_service.CreatedDraft]:
        async with session_scope() as session:
            return await seasons_service.run_due_rules(session, at=at)

    created = run(_run())
    for draft in created:
        out.print(
            f"{draft.federation_slug}: draft {draft.campaign_id} (rule {draft.rule_id})",
            markup=False,
            highlight=False,
        )
    out.print(f"{len(created)} seasonal drafts made", markup=False, highlight=False)


# The `user` commands (staff people of the web interface, issue 10).
user_cli = typer.Typer(
    help="Staff people of Redaktionen (the web interface).", no_args_is_help=True
)
cli.add_typer(user_cli, name="user")


@user_cli.command("invite")
def user_invite(
    email: Annotated[str, typer.Option("--email", help="The person's e-mail address.")],
    federation: Annotated[
        str | None, typer.Option("--federation", help="Slug of the federation they work in.")
    ] = None,
    role: Annotated[
        str | None, typer.Option("--role", help="redaktor, ansvarig or admin (with --federation).")
    ] = None,
    admin: Annotated[
        bool, typer.Option("--admin", help="An install admin: every federation and the relay.")
    ] = False,
    name: Annotated[str, typer.Option(help="The person's name.")] = "",
) -> None:
    """Create a person (or give them a role) and mail a sign-in link valid 15 minutes."""
    from app import composition
    from app.actors import Actor
    from app.db import session_scope
    from app.federations import service as federation_service
    from app.users import service as user_service
    from app.users.models import Role

    if (federation is None) != (role is None):
        raise fail("give --federation SLUG and --role ROLE together")
    if federation is None and not admin:
        raise fail("give --federation SLUG --role ROLE, or --admin, or both")
    try:
        chosen = Role(role) if role is not None else None
    except ValueError:
        raise fail("--role must be redaktor, ansvarig or admin") from None

    async def _invite() -> tuple[int, bool]:
        async with session_scope() as session:
            target = (
                await federation_service.get_federation(session, slug=federation)
                if federation
                else None
            )
            invited = await user_service.invite_person(
                session,
                email=email,
                name=name,
                federation=target,
                role=chosen,
                install_admin=admin,
                actor=Actor.system("newsletter user invite"),
            )
            result = invited.user.id, invited.created
            delivery_id = invited.delivery_id
        # After the commit, like a sign-up: the dispatcher sends it otherwise.
        await composition.send_now(delivery_id)
        return result

    user_id, created = run(_invite())
    verb = "invited" if created else "updated"
    out.print(
        f"{verb} person {user_id} <{email}>; a sign-in link was queued for them",
        markup=False,
        highlight=False,
    )


def main() -> None:
    _PROCESS["own"] = True
    try:
        cli()
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
