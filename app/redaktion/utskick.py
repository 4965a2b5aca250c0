"""Redaktionen's Utskick pages: list, new draft from a theme, the editor with a live preview
of the unsaved text, test sends, four-eyes approval, scheduling, cancel, resume and live
progress.

Every change goes through app.campaigns.service, as the JSON API's do; a page handler only
reads the form, names the actor and chooses the page or redirect."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, datetime, time
from typing import Annotated, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app import addresses, messages
from app.actors import Actor
from app.campaigns import service
from app.campaigns.models import Campaign, CampaignStatus, Theme
from app.campaigns.schemas import BOUNCED, CampaignUpdate, DeliveryFilter
from app.delivery.models import DeliveryStatus
from app.errors import AppError, Conflict, NotFound
from app.federations.models import Federation
from app.http import CommittingRoute, SessionDep
from app.images import service as images_service
from app.images.models import Image
from app.rendering.markdown import MarkdownWarning
from app.rendering.themes import get_theme
from app.users.schemas import Staff
from app.users.sessions import AnsvarigStaff, CurrentStaff, RedaktorStaff, verify_csrf
from app.web.pages import mail_preview, render_staff_page

router = APIRouter(route_class=CommittingRoute, include_in_schema=False)

BASE = "/redaktion/utskick"
CampaignId = Annotated[int, Path(ge=1, le=2**31 - 1)]
MAX_TEST_ADDRESSES = 10
# The editor's fields: the letter's text, how it ends, and the chosen images (empty: none,
# for the header photo the theme's artwork).
TEXT_FIELDS = ("subject", "preheader", "theme", "body_markdown")
CLOSING_FIELDS = ("sign_off", "signature_name", "signature_title")
IMAGE_FIELDS = ("header_image_id", "signature_image_id")


def _actor(staff: Staff) -> Actor:
    return Actor.person(user_id=staff.who.user.id, email=staff.who.user.email)


def _back(campaign_id: int, *, klart: str | None = None, fel: str | None = None) -> Response:
    query = f"?klart={klart}" if klart else f"?fel={fel}" if fel else ""
    return RedirectResponse(f"{BASE}/{campaign_id}{query}", status_code=303)


def _error_key(exc: AppError) -> str:
    details = exc.details if isinstance(exc.details, dict) else {}
    code = details.get("code")
    if code in messages.STAFF_ERRORS:
        return str(code)
    if exc.message == messages.APPROVAL_STALE:
        return "stale"
    return "state" if isinstance(exc, Conflict) else "invalid"


def _themes() -> list[tuple[str, str]]:
    return [(t.value, get_theme(t.value).label) for t in Theme]


@router.get(BASE)
async def campaign_list(
    request: Request,
    staff: CurrentStaff,
    session: SessionDep,
    klart: Annotated[str | None, Query(max_length=20)] = None,
) -> HTMLResponse:
    campaigns = await service.list_campaigns(session, federation_id=staff.federation.id)
    return render_staff_page(
        request,
        "utskick_lista.html",
        {
            "title": "Utskick",
            "notice": messages.STAFF_NOTICES.get(klart or ""),
            "campaigns": campaigns,
            "status_labels": messages.CAMPAIGN_STATUS,
            "zone": staff.federation.timezone,
        },
        who=staff.who,
    )


@router.get(BASE + "/nytt")
async def new_campaign_form(request: Request, staff: RedaktorStaff) -> HTMLResponse:
    return render_staff_page(
        request,
        "utskick_nytt.html",
        {"title": "Nytt utskick", "themes": _themes(), "error": False},
        who=staff.who,
    )


@router.post(BASE + "/nytt", response_model=None)
async def new_campaign(request: Request, staff: RedaktorStaff, session: SessionDep) -> Response:
    fields = await verify_csrf(request, staff.who)
    try:
        theme = Theme(fields.get("tema", ""))
    except ValueError:
        return render_staff_page(
            request,
            "utskick_nytt.html",
            {"title": "Nytt utskick", "themes": _themes(), "error": True},
            who=staff.who,
            status_code=422,
        )
    campaign = await service.create_from_theme(
        session, federation=staff.federation, theme=theme, actor=_actor(staff)
    )
    return RedirectResponse(f"{BASE}/{campaign.id}", status_code=303)


def _saved_values(federation: Federation, campaign: Campaign) -> dict[str, str]:
    """The editor's fields as saved; a closing the campaign leaves to the default shows it."""
    defaults = service.closing_defaults(federation, campaign.theme)
    values = {key: str(getattr(campaign, key)) for key in TEXT_FIELDS}
    for key, default in zip(CLOSING_FIELDS, defaults, strict=True):
        own = getattr(campaign, key)
        values[key] = default if own is None else own
    for key in IMAGE_FIELDS:
        image_id = getattr(campaign, key)
        values[key] = "" if image_id is None else str(image_id)
    values["publish_in_archive"] = "ja" if campaign.publish_in_archive else "nej"
    return values


def _form_values(fields: dict[str, str]) -> dict[str, str]:
    """The editor's fields as posted (a field the form did not send is left unchanged)."""
    keys = (*TEXT_FIELDS, *CLOSING_FIELDS, *IMAGE_FIELDS)
    values = {key: fields[key].replace("\r\n", "\n") for key in keys if key in fields}
    # An unticked checkbox sends nothing: the hidden `arkiv_visas` says the form had it.
    if "arkiv_visas" in fields:
        values["publish_in_archive"] = "ja" if fields.get("publish_in_archive") == "ja" else "nej"
    return values


def _changes(federation: Federation, campaign: Campaign, values: dict[str, str]) -> CampaignUpdate:
    """The posted fields as a change; ValueError (or a validation error) when they are not
    valid. A closing field sent back as the default it showed stays the default, so a later
    change of the federation's default or the theme still reaches the letter."""
    data: dict[str, Any] = {key: values[key] for key in TEXT_FIELDS if key in values}
    defaults = service.closing_defaults(federation, campaign.theme)
    for key, default in zip(CLOSING_FIELDS, defaults, strict=True):
        if key not in values:
            continue
        if getattr(campaign, key) is None and values[key].strip() == default:
            continue
        data[key] = values[key]
    for key in IMAGE_FIELDS:
        if key in values:
            data[key] = int(values[key]) if values[key] else None
    if "publish_in_archive" in values:
        data["publish_in_archive"] = values["publish_in_archive"] == "ja"
    return CampaignUpdate.model_validate(data)


async def _images(session: SessionDep, federation: Federation) -> list[tuple[Image, str]]:
    """The federation's images with a same-origin path for the thumbnails (the staff pages'
    CSP allows images from 'self')."""
    images = await images_service.list_images(session, federation_id=federation.id)
    return [
        (image, urlsplit(images_service.public_url(federation, image)).path) for image in images
    ]


def _preview_src(campaign: Campaign, draft_id: int | None) -> str:
    """The preview frame's address: the stored unsaved draft, or the saved version."""
    path = f"{BASE}/{campaign.id}/forhandsvisning"
    return f"{path}?utkast={draft_id}" if draft_id else f"{path}?v={campaign.version}"


async def _editor(
    request: Request,
    staff: Staff,
    session: SessionDep,
    campaign: Campaign,
    *,
    values: dict[str, str] | None = None,
    error: str | None = None,
    status_code: int = 200,
    draft: tuple[int, list[MarkdownWarning]] | None = None,
) -> HTMLResponse:
    recipients, counts = 0, dict[str, int]()
    if campaign.status != CampaignStatus.DRAFT:
        _, recipients, counts = await service.campaign_stats(
            session, federation_id=staff.federation.id, campaign_id=campaign.id
        )
    # What the author should fix in the text shown (the same warnings the API returns).
    if draft is not None:
        found = draft[1]
    elif campaign.status == CampaignStatus.DRAFT:
        found = await service.warnings(session, federation=staff.federation, campaign=campaign)
    else:
        found = []
    klart = request.query_params.get("klart", "")
    fel = error or request.query_params.get("fel", "")
    return render_staff_page(
        request,
        "utskick.html",
        {
            "title": campaign.subject,
            "c": campaign,
            "values": {**_saved_values(staff.federation, campaign), **(values or {})},
            "images": await _images(session, staff.federation)
            if campaign.status == CampaignStatus.DRAFT
            else [],
            "preview_src": _preview_src(campaign, draft[0] if draft else None),
            "unsaved": draft is not None,
            "preview_error": None,
            "themes": _themes(),
            "status_labels": messages.CAMPAIGN_STATUS,
            "delivery_labels": messages.DELIVERY_STATUS,
            "notice": messages.STAFF_NOTICES.get(klart),
            "error": messages.STAFF_ERRORS.get(fel),
            "four_eyes": staff.federation.four_eyes,
            "needs_approval": service.needs_approval(staff.federation, campaign),
            "may_approve": staff.role != "redaktor"
            and staff.who.user.id not in (campaign.created_by_user_id, campaign.edited_by_user_id),
            "may_send": staff.role != "redaktor",
            "recipients": recipients,
            "counts": counts,
            "warnings": found,
            "zone": staff.federation.timezone,
            "today": datetime.now(ZoneInfo(staff.federation.timezone)).date().isoformat(),
        },
        who=staff.who,
        status_code=status_code,
    )


@router.get(BASE + "/{campaign_id}")
async def campaign_page(
    request: Request, campaign_id: CampaignId, staff: CurrentStaff, session: SessionDep
) -> HTMLResponse:
    campaign = await service.get_campaign(
        session, federation_id=staff.federation.id, campaign_id=campaign_id
    )
    return await _editor(request, staff, session, campaign)


@router.get(BASE + "/{campaign_id}/forhandsvisning")
async def campaign_preview(
    campaign_id: CampaignId,
    staff: CurrentStaff,
    session: SessionDep,
    utkast: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> HTMLResponse:
    """The mail as sent, saved or (with `utkast`) as this browser last previewed it unsaved."""
    if utkast is None:
        _text, html, _warnings = await service.preview_campaign(
            session, federation=staff.federation, campaign_id=campaign_id
        )
    else:
        html = await service.preview_draft(
            session,
            federation=staff.federation,
            campaign_id=campaign_id,
            staff_session_id=staff.who.session.id,
            draft_id=utkast,
        )
    return mail_preview(html)


@router.post(BASE + "/{campaign_id}", response_model=None)
async def save_campaign(
    request: Request, campaign_id: CampaignId, staff: RedaktorStaff, session: SessionDep
) -> Response:
    fields = await verify_csrf(request, staff.who)
    values = _form_values(fields)
    campaign = await service.get_campaign(
        session, federation_id=staff.federation.id, campaign_id=campaign_id
    )
    try:
        changes = _changes(staff.federation, campaign, values)
        # A savepoint: nothing of a refused save is kept, and the rest of the session (the
        # signed-in person) stays loaded for the page that shows the form again.
        async with session.begin_nested():
            await service.update_campaign(
                session,
                federation=staff.federation,
                campaign_id=campaign_id,
                data=changes,
                actor=_actor(staff),
            )
    except (AppError, ValueError) as exc:
        if isinstance(exc, AppError) and exc.status_code == 404:
            raise
        campaign = await service.get_campaign(
            session, federation_id=staff.federation.id, campaign_id=campaign_id
        )
        key = _error_key(exc) if isinstance(exc, AppError) else "invalid"
        return await _editor(
            request, staff, session, campaign, values=values, error=key, status_code=422
        )
    return _back(campaign_id, klart="sparat")


@router.post(BASE + "/{campaign_id}/forhandsgranska", response_model=None)
async def preview_unsaved(
    request: Request, campaign_id: CampaignId, staff: RedaktorStaff, session: SessionDep
) -> Response:
    """Preview what is in the editor without saving it: htmx swaps in the preview panel as
    the person types; without JavaScript the button shows the whole editor again."""
    fields = await verify_csrf(request, staff.who)
    campaign = await service.get_campaign(
        session, federation_id=staff.federation.id, campaign_id=campaign_id
    )
    values = _form_values(fields)
    draft: tuple[int, list[MarkdownWarning]] | None = None
    error: str | None = None
    try:
        changes = _changes(staff.federation, campaign, values)
        async with session.begin_nested():
            draft = await service.store_preview_draft(
                session,
                federation=staff.federation,
                campaign_id=campaign_id,
                staff_session_id=staff.who.session.id,
                data=changes,
            )
    except (AppError, ValueError) as exc:
        if isinstance(exc, AppError) and exc.status_code == 404:
            raise
        error = _error_key(exc) if isinstance(exc, AppError) else "invalid"
        # The savepoint's rollback may have expired the row: read it again for the page.
        campaign = await service.get_campaign(
            session, federation_id=staff.federation.id, campaign_id=campaign_id
        )
    if request.headers.get("HX-Request") != "true":
        return await _editor(
            request,
            staff,
            session,
            campaign,
            values=values,
            error=error,
            draft=draft,
            status_code=422 if error else 200,
        )
    # htmx swaps only a successful answer: a refusal is shown in the panel with a 200.
    return render_staff_page(
        request,
        "_utskick_forhandsvisning.html",
        {
            "c": campaign,
            "warnings": draft[1] if draft else [],
            "preview_src": _preview_src(campaign, draft[0] if draft else None),
            "unsaved": draft is not None,
            "preview_error": messages.STAFF_ERRORS.get(error or ""),
        },
        who=staff.who,
    )


def _addresses(raw: str) -> list[str] | None:
    lines = [line.strip() for line in raw.replace(",", "\n").splitlines() if line.strip()]
    if not 1 <= len(lines) <= MAX_TEST_ADDRESSES:
        return None
    try:
        return [addresses.normalize_email(a) for a in lines]
    except addresses.InvalidAddress:
        return None


@router.post(BASE + "/{campaign_id}/test", response_model=None)
async def test_send(
    request: Request, campaign_id: CampaignId, staff: RedaktorStaff, session: SessionDep
) -> Response:
    fields = await verify_csrf(request, staff.who)
    addresses = _addresses(fields.get("adresser", ""))
    if addresses is None:
        await service.get_campaign(
            session, federation_id=staff.federation.id, campaign_id=campaign_id
        )
        return _back(campaign_id, fel="addresses")
    await service.send_test(
        session,
        federation=staff.federation,
        campaign_id=campaign_id,
        addresses=addresses,
        actor=_actor(staff),
    )
    return _back(campaign_id, klart="test")


def _when(fields: dict[str, str], zone: str) -> datetime | None:
    """The form's date and time as an aware time in the federation's zone."""
    try:
        day = date.fromisoformat(fields.get("datum", ""))
        clock = time.fromisoformat(fields.get("tid", ""))
    except ValueError:
        return None
    return datetime.combine(day, clock, tzinfo=ZoneInfo(zone))


async def _act(
    session: SessionDep, campaign_id: int, ok: str, work: Any, *, then: str | None = None
) -> Response:
    """Run one service call; a refusal becomes a notice on the campaign's page (and nothing of
    it is committed), a 404 stays a 404. Done: the campaign's page with notice `ok`, or `then`."""
    try:
        async with session.begin_nested():
            await work
    except AppError as exc:
        if exc.status_code == 404:
            raise
        return _back(campaign_id, fel=_error_key(exc))
    if then is not None:
        return RedirectResponse(f"{then}?klart={ok}", status_code=303)
    return _back(campaign_id, klart=ok)


@router.post(BASE + "/{campaign_id}/godkann", response_model=None)
async def approve(
    request: Request, campaign_id: CampaignId, staff: AnsvarigStaff, session: SessionDep
) -> Response:
    fields = await verify_csrf(request, staff.who)
    version = int(fields["version"]) if fields.get("version", "").isdigit() else 0
    return await _act(
        session,
        campaign_id,
        "godkant",
        service.approve_campaign(
            session,
            federation=staff.federation,
            campaign_id=campaign_id,
            version=version,
            actor=_actor(staff),
        ),
    )


@router.post(BASE + "/{campaign_id}/schemalagg", response_model=None)
async def schedule(
    request: Request, campaign_id: CampaignId, staff: AnsvarigStaff, session: SessionDep
) -> Response:
    fields = await verify_csrf(request, staff.who)
    at = _when(fields, staff.federation.timezone)
    if at is None:
        return _back(campaign_id, fel="when")
    if at <= datetime.now(at.tzinfo):
        return _back(campaign_id, fel="past")
    return await _act(
        session,
        campaign_id,
        "schemalagt",
        service.schedule_campaign(
            session,
            federation=staff.federation,
            campaign_id=campaign_id,
            send_at=at,
            actor=_actor(staff),
        ),
    )


@router.post(BASE + "/{campaign_id}/skicka-nu", response_model=None)
async def send_now(
    request: Request, campaign_id: CampaignId, staff: AnsvarigStaff, session: SessionDep
) -> Response:
    """Schedule for the next dispatcher tick (the API's send-now; four eyes hold the same)."""
    await verify_csrf(request, staff.who)
    return await _act(
        session,
        campaign_id,
        "skickas",
        service.schedule_now(
            session, federation=staff.federation, campaign_id=campaign_id, actor=_actor(staff)
        ),
    )


@router.post(BASE + "/{campaign_id}/kopiera", response_model=None)
async def duplicate(
    request: Request, campaign_id: CampaignId, staff: RedaktorStaff, session: SessionDep
) -> Response:
    """A new draft with the campaign's content (any state: last year's letter as a start)."""
    await verify_csrf(request, staff.who)
    copy = await service.duplicate_campaign(
        session, federation=staff.federation, campaign_id=campaign_id, actor=_actor(staff)
    )
    return _back(copy.id, klart="kopierat")


@router.get(BASE + "/{campaign_id}/ta-bort")
async def delete_confirmation(
    request: Request, campaign_id: CampaignId, staff: RedaktorStaff, session: SessionDep
) -> Response:
    campaign = await service.get_campaign(
        session, federation_id=staff.federation.id, campaign_id=campaign_id
    )
    if campaign.status != CampaignStatus.DRAFT:
        return _back(campaign_id, fel="state")
    return render_staff_page(
        request,
        "utskick_ta_bort.html",
        {"title": "Ta bort utkast", "c": campaign},
        who=staff.who,
    )


@router.post(BASE + "/{campaign_id}/ta-bort", response_model=None)
async def delete(
    request: Request, campaign_id: CampaignId, staff: RedaktorStaff, session: SessionDep
) -> Response:
    """Delete a draft; any other state is refused on the campaign's page."""
    await verify_csrf(request, staff.who)
    return await _act(
        session,
        campaign_id,
        "borttaget",
        service.delete_campaign(
            session, federation_id=staff.federation.id, campaign_id=campaign_id, actor=_actor(staff)
        ),
        then=BASE,
    )


# The state changes that take nothing but the campaign: path word → (notice, use case).
STATE_ACTIONS: dict[str, tuple[str, Callable[..., Awaitable[object]]]] = {
    "avbryt": ("avbrutet", service.cancel_campaign),
    "ateruppta": ("aterupptaget", service.resume_campaign),
    "skicka-om-okanda": ("omkoat", service.requeue_unknown),
    "pausa": ("pausat", service.pause_campaign),
    "avschemalagg": ("avschemalagt", service.unschedule_campaign),
}


# Registered after the fixed paths above (test, godkann, schemalagg), which match first.
@router.post(BASE + "/{campaign_id}/{action}", response_model=None)
async def change_state(
    request: Request,
    campaign_id: CampaignId,
    action: Annotated[str, Path(max_length=20)],
    staff: AnsvarigStaff,
    session: SessionDep,
) -> Response:
    """Cancel, resume, pause, take back to draft, or send the unknown outcomes again."""
    if action not in STATE_ACTIONS:
        raise NotFound()
    await verify_csrf(request, staff.who)
    ok, use_case = STATE_ACTIONS[action]
    return await _act(
        session,
        campaign_id,
        ok,
        use_case(
            session, federation_id=staff.federation.id, campaign_id=campaign_id, actor=_actor(staff)
        ),
    )


@router.get(BASE + "/{campaign_id}/framsteg")
async def progress(
    request: Request, campaign_id: CampaignId, staff: CurrentStaff, session: SessionDep
) -> HTMLResponse:
    """The progress panel alone (htmx polls it while sending; without JavaScript, reload)."""
    campaign, recipients, counts = await service.campaign_stats(
        session, federation_id=staff.federation.id, campaign_id=campaign_id
    )
    return render_staff_page(
        request,
        "_utskick_framsteg.html",
        {
            "c": campaign,
            "recipients": recipients,
            "counts": counts,
            "delivery_labels": messages.DELIVERY_STATUS,
            "status_labels": messages.CAMPAIGN_STATUS,
        },
        who=staff.who,
    )


# The filters of the outcomes page (Swedish query values → delivery states).
OUTCOME_FILTERS: dict[str, DeliveryFilter] = {
    "misslyckade": DeliveryStatus.FAILED,
    "studsade": BOUNCED,
    "okanda": DeliveryStatus.UNKNOWN,
    "forsenade": DeliveryStatus.DEFERRED,
    "skickade": DeliveryStatus.SENT,
}
OUTCOME_PAGE = 100


@router.get(BASE + "/{campaign_id}/mottagare")
async def outcomes(
    request: Request,
    campaign_id: CampaignId,
    staff: CurrentStaff,
    session: SessionDep,
    visa: Annotated[str, Query(max_length=20)] = "",
    fran: Annotated[int | None, Query(ge=1, le=2**62)] = None,
) -> HTMLResponse:
    """Per-recipient outcomes with filters; unknown ones can be sent again from the campaign."""
    campaign = await service.get_campaign(
        session, federation_id=staff.federation.id, campaign_id=campaign_id
    )
    chosen = OUTCOME_FILTERS.get(visa)
    rows = await service.campaign_outcomes(
        session,
        federation_id=staff.federation.id,
        campaign_id=campaign_id,
        status=chosen if isinstance(chosen, DeliveryStatus) else None,
        bounced=chosen == BOUNCED,
        before_id=fran,
        limit=OUTCOME_PAGE + 1,
    )
    return render_staff_page(
        request,
        "utskick_mottagare.html",
        {
            "title": f"Mottagare: {campaign.subject}",
            "c": campaign,
            "rows": rows[:OUTCOME_PAGE],
            "next_id": rows[OUTCOME_PAGE - 1].id if len(rows) > OUTCOME_PAGE else None,
            "visa": visa if visa in OUTCOME_FILTERS else "",
            "filters": [
                ("", "Alla"),
                ("misslyckade", "Misslyckade"),
                ("studsade", "Studsade"),
                ("okanda", "Okänt utfall"),
                ("forsenade", "Försenade"),
                ("skickade", "Skickade"),
            ],
            "delivery_labels": messages.DELIVERY_STATUS,
            "zone": staff.federation.timezone,
        },
        who=staff.who,
    )
